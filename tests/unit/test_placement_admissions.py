"""The webhook's decisions the pod watch has not shown yet: counted until the pod index shows the pod,
then never again, even once that pod is gone."""

from __future__ import annotations

import asyncio

import kopf

from thrifty.handlers.cluster_indexes import pods_by_owner
from thrifty.handlers.placement_plans import record_admission, unseen_admissions
from thrifty.settings import PLACEMENT_MARK_ANNOTATION

KEY = ("shop", "Deployment", "web")


def _pod(name: str, mark: str) -> kopf.Body:
    return kopf.Body(
        {  # type: ignore[arg-type]
            "metadata": {
                "name": name,
                "namespace": "shop",
                "annotations": {PLACEMENT_MARK_ANNOTATION: mark},
                "ownerReferences": [{"kind": "ReplicaSet", "name": "web-1", "controller": True}],
            },
            "spec": {},
            "status": {"phase": "Pending"},
        }
    )


def test_a_decision_counts_until_the_watch_shows_its_pod_and_not_after_that_pod_is_gone() -> None:
    record_admission(KEY, "mark-a", "spot")
    record_admission(KEY, "mark-b", "on-demand")
    assert unseen_admissions(KEY) == {"spot": 1, "on-demand": 1}
    asyncio.run(pods_by_owner(body=_pod("web-1-a", "mark-a")))
    # web-1-a is in the index now, and is counted there; its deletion before the next admission
    # must not bring its decision back.
    assert unseen_admissions(KEY) == {"on-demand": 1}
    asyncio.run(pods_by_owner(body=_pod("web-1-b", "mark-b")))
    assert unseen_admissions(KEY) == {}
    assert unseen_admissions(("other", "Deployment", "web")) == {}
