"""The pod webhook: a new pod of a workload the evaluation round placed is sent to the capacity type
below its share of the split of all the workload's pods with it (a required node affinity), and gets
the deletion cost that makes a scale-down keep the mix.

Pods created at once (a scale from 1 to 21) are admitted before the watch has delivered any of them,
so the webhook counts its own decisions too until the watch shows each pod (``placement_plans``).
One decision at a time, so that 20 concurrent admissions land exactly at the split. The handler is a
coroutine that never awaits: kopf runs it on its event loop at once instead of queueing it for a
worker thread behind the index updates, so an admission is answered within the API server's timeout
even while the operator is busy.

Anything unexpected lets the pod through unchanged (``failurePolicy: Ignore`` for the webhook as a
whole, and here for this handler's own errors): placement is never a reason a pod is not created.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any, Final

import kopf

from thrifty.engine.pod_placement import (
    count_mix,
    deletion_cost,
    pinned_capacity,
    required_capacity,
    restricted_to,
)
from thrifty.engine.spot_mix import Capacity, capacity_for_next_pod
from thrifty.handlers.cluster_indexes import controller_of, pod_workload, workload_pods
from thrifty.handlers.placement_plans import plan_for, record_admission, unseen_admissions
from thrifty.handlers.pod_placement.admission_server import PLACE_POD
from thrifty.settings import CAPACITY_TYPE_ANNOTATION, PLACEMENT_MARK_ANNOTATION

__all__ = ["place_pod"]

log = logging.getLogger(__name__)

DELETION_COST_ANNOTATION: Final = "controller.kubernetes.io/pod-deletion-cost"


@kopf.on.mutate(
    "", "v1", "pods", id=PLACE_POD, operations=["CREATE"], ignore_failures=True, side_effects=False
)
async def place_pod(body: kopf.Body, patch: kopf.Patch, dryrun: bool, **kwargs: Any) -> None:
    indexes = {name: value for name, value in kwargs.items() if isinstance(value, kopf.Index)}
    meta = body.get("metadata") or {}
    namespace = str(meta.get("namespace") or "")
    owner = controller_of(meta)
    if owner is None or not namespace:
        return
    workload = pod_workload(indexes, namespace, str(owner.get("kind")), str(owner.get("name")))
    if workload is None:
        return
    key = (namespace, *workload)
    plan = plan_for(key)
    spec = body.get("spec") or {}
    if plan is None or pinned_capacity(spec, plan.labels):
        return
    # No await from here to the record: decisions on kopf's loop are made one at a time.
    seen = count_mix(workload_pods(indexes, namespace, workload[0], workload[1], plan.labels))
    unseen = unseen_admissions(key)
    on_demand, spot = seen.on_demand + unseen["on-demand"], seen.spot + unseen["spot"]
    capacity: Capacity = (
        "on-demand" if plan.fallback else capacity_for_next_pod(on_demand, spot, plan.base, plan.spot_percent)
    )
    mark = uuid.uuid4().hex
    if not dryrun:
        record_admission(key, mark, capacity)
    nth = (on_demand if capacity == "on-demand" else spot) + 1
    patch.spec["affinity"] = restricted_to(required_capacity(spec, capacity, plan.labels), dict(plan.allowed))
    annotations = meta.get("annotations") or {}
    patch.metadata.annotations[CAPACITY_TYPE_ANNOTATION] = capacity
    patch.metadata.annotations[PLACEMENT_MARK_ANNOTATION] = mark
    if DELETION_COST_ANNOTATION not in annotations:
        patch.metadata.annotations[DELETION_COST_ANNOTATION] = str(
            deletion_cost(capacity, nth, plan.base, plan.spot_percent)
        )
    log.debug("pod of %s %s/%s sent to %s (%d on-demand, %d spot before it)", workload[0], namespace,
              workload[1], capacity, on_demand, spot)  # fmt: skip
