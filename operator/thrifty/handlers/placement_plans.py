"""What the evaluation round decided about each workload's placement, for the pod webhook to follow:
shared in memory by the ScalingPolicy round, which writes it, and the pod webhook, which reads it
(each in its own handler package). A workload without a plan is not placed: after a restart, until
the round has run, new pods are created as if Thrifty were not there, and the round corrects them.

Also the webhook's decisions the pod watch has not shown yet (pods admitted at once are admitted
before the watch delivers any of them): the pod index marks each as seen the moment it shows the pod,
so a pod seen and deleted between two admissions is never counted again."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Final

from thrifty.engine.cost import SpotLabel

__all__ = [
    "PlacementPlan",
    "WorkloadKey",
    "admission_seen",
    "admitted_since",
    "forget_plans_of",
    "plan_for",
    "publish_plan",
    "record_admission",
    "unseen_admissions",
]

WorkloadKey = tuple[str, str, str]  # namespace, kind, name


@dataclass(frozen=True)
class PlacementPlan:
    base: int
    spot_percent: int
    fallback: bool  # every new pod goes to on-demand
    labels: tuple[SpotLabel, ...]
    # Governance: node label key -> the values a placed pod's node must have (instance types, regions).
    allowed: tuple[tuple[str, tuple[str, ...]], ...] = ()


_GUARD = threading.Lock()
_PLANS: dict[WorkloadKey, tuple[str, PlacementPlan]] = {}  # with the uid of the policy that made it
_ADMITTED: dict[WorkloadKey, Counter[str]] = {}  # new pods sent to each type since the round last asked


def publish_plan(key: WorkloadKey, policy_uid: str, plan: PlacementPlan | None) -> None:
    with _GUARD:
        if plan is None:
            _PLANS.pop(key, None)
        else:
            _PLANS[key] = (policy_uid, plan)


def plan_for(key: WorkloadKey) -> PlacementPlan | None:
    with _GUARD:
        found = _PLANS.get(key)
        return None if found is None else found[1]


def forget_plans_of(policy_uid: str) -> None:
    """A deleted policy's workload is placed no more."""
    with _GUARD:
        for key in [k for k, (uid, _) in _PLANS.items() if uid == policy_uid]:
            del _PLANS[key]


# How long a decision counts before the watch shows its pod: past it, the pod was never created.
_UNSEEN_SECONDS: Final = 120.0
_UNSEEN: dict[str, tuple[WorkloadKey, str, float]] = {}  # by placement mark: workload, type, when


def record_admission(key: WorkloadKey, mark: str, capacity: str) -> None:
    """A new pod of ``key`` sent to ``capacity`` with placement mark ``mark``, not yet seen."""
    with _GUARD:
        _UNSEEN[mark] = (key, capacity, time.monotonic())
        _ADMITTED.setdefault(key, Counter())[capacity] += 1


def admission_seen(mark: str) -> None:
    """The pod watch shows the pod with this placement mark: the index counts it from now on."""
    with _GUARD:
        _UNSEEN.pop(mark, None)


def unseen_admissions(key: WorkloadKey) -> Counter[str]:
    """The pods of ``key`` the webhook placed that the watch has not shown yet, by capacity type."""
    now = time.monotonic()
    with _GUARD:
        for mark in [m for m, (_, _, at) in _UNSEEN.items() if now - at >= _UNSEEN_SECONDS]:
            del _UNSEEN[mark]
        return Counter(capacity for workload, capacity, _ in _UNSEEN.values() if workload == key)


def admitted_since(key: WorkloadKey) -> Counter[str]:
    """How many new pods of the workload the webhook sent to each capacity type since the last call:
    the round posts them as one Event, not one per pod."""
    with _GUARD:
        return _ADMITTED.pop(key, Counter())
