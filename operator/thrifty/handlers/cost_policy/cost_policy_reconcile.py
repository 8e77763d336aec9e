"""CostPolicy: check what the schema cannot (which policy is in use); under the one in use, sum up the
cluster (status.summary) and steer and report its node pools (status.nodePools)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import kopf
from pydantic import ValidationError

from thrifty import GROUP, VERSION
from thrifty.api.condition_types import (
    COST_POLICY_CONDITIONS,
    CostPolicyCondition,
    CostPolicyReason,
    PolicyCondition,
)
from thrifty.api.conditions import READY, Observation
from thrifty.api.cost_policy import ACTIVE_COST_POLICY, CostPolicySpec, CostPolicyStatus
from thrifty.api.scaling_policy import Placement, PlacementStatus
from thrifty.engine.cost_policy_summary import PlacedReplicas, cost_policy_summary, placed_replicas
from thrifty.engine.workload_prices import price_book
from thrifty.handlers.cluster_indexes import cluster_nodes, policy_bodies
from thrifty.handlers.cost_policy.node_pool_step import node_pool_step
from thrifty.handlers.operator_metrics import COST_POLICY, timed_reconcile
from thrifty.handlers.status_writer import Conclusions, committed, publish, reconcile_guard
from thrifty.settings import RESYNC_SECONDS

__all__ = ["reconcile_cost_policy"]

RESOURCE = (GROUP, VERSION, "costpolicies")


@kopf.on.resume(*RESOURCE)
@kopf.on.create(*RESOURCE)
@kopf.on.update(*RESOURCE, field="spec")
@kopf.timer(*RESOURCE, interval=RESYNC_SECONDS, initial_delay=RESYNC_SECONDS)
@timed_reconcile(COST_POLICY)
@committed("costpolicies")
@reconcile_guard(COST_POLICY_CONDITIONS, CostPolicyStatus)
def reconcile_cost_policy(
    body: kopf.Body, spec: kopf.Spec, name: str, patch: kopf.Patch, **indexes: Any
) -> None:
    policy = CostPolicySpec.model_validate(dict(spec))
    status = CostPolicyStatus.model_validate(body.get("status") or {})
    conclusions = Conclusions(prerequisites=[_in_use(name)])
    if name == ACTIVE_COST_POLICY:
        nodes = [(node.labels, node.capacity) for node in cluster_nodes(indexes)]
        pools = node_pool_step(
            body, policy, status.node_pools or [], price_book(policy.pricing), indexes, datetime.now(UTC)
        )
        # Node pools are reported beside Ready, not under it: prices apply whatever the pools say.
        conclusions.informational += pools.observations
        status = status.model_copy(
            update={
                "summary": cost_policy_summary(policy, nodes, _placed_workloads(indexes, policy)),
                "node_pools": pools.pools,
            }
        )
    publish(
        body,
        patch,
        COST_POLICY_CONDITIONS,
        status,
        conclusions,
        ready=(CostPolicyReason.ACTIVE, f"prices in {policy.pricing.currency} apply to every workload"),
    )


def _placed_workloads(indexes: Mapping[str, Any], policy: CostPolicySpec) -> list[PlacedReplicas]:
    """Every Ready ScalingPolicy's workload that placement considers, as its last status shows it."""
    found = []
    for stored in policy_bodies(indexes):
        raw = stored.raw()
        spec, status = raw.get("spec") or {}, raw.get("status") or {}
        try:
            override = Placement.model_validate(spec["placement"]) if spec.get("placement") else None
            placement = (
                PlacementStatus.model_validate(status["placement"]) if status.get("placement") else None
            )
        except ValidationError:
            continue  # the policy's own reconcile reports what is wrong with it
        conditions = {c.get("type"): c for c in status.get("conditions") or []}
        if (conditions.get(READY) or {}).get("status") != "True":
            continue  # its placement status may be from before its workload went away
        reason = (conditions.get(PolicyCondition.SPOT_PLACEMENT) or {}).get("reason")
        workload = placed_replicas(policy, override, placement, reason)
        if workload is not None:
            found.append(workload)
    return found


def _in_use(name: str) -> Observation:
    if name != ACTIVE_COST_POLICY:
        return Observation(
            CostPolicyCondition.IN_USE,
            "False",
            CostPolicyReason.NOT_IN_USE,
            f"the operator prices with the CostPolicy named {ACTIVE_COST_POLICY!r}; "
            "rename this one to use it",
        )
    return Observation(
        CostPolicyCondition.IN_USE, "True", CostPolicyReason.IN_USE, "this CostPolicy sets the prices"
    )
