"""The node pools of the CostPolicy in use, one round: read each pool, decide with the engine, write
what its allowedChanges permit (as field manager thrifty, each change an Event), and report every
pool in status.nodePools with the NodePoolsReady and GovernanceViolation conditions.

1. NodePools: the weight that sends pods placement does not pin to the preferred capacity type;
   while some workload is in spot fallback, an OnDemand pool's limits raised by what its waiting
   pods need; restored once no workload is.
2. MachineDeployments: the spot and on-demand pools' total split at the spot share, within their
   autoscaler bounds, through the scale subresource.
3. Governance: the pools whose requirements allow instance types or regions governance does not.

A field another manager declares by server-side apply is reported, not forced. Nothing that matters
lives in memory: a raise is recorded on the pool in the patch that makes it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

import kopf
from kubernetes.client import ApiException

from thrifty.actuators.node_pool_writes import (
    raise_pool_limits,
    restore_pool_limits,
    scale_machine_deployment,
    set_pool_weight,
)
from thrifty.actuators.object_events import post_event
from thrifty.api.common import rfc3339
from thrifty.api.condition_types import CostPolicyCondition, CostPolicyReason
from thrifty.api.conditions import Observation
from thrifty.api.cost_policy import CostPolicySpec, NodePool, NodePoolChange, NodePoolStatus
from thrifty.engine.cost import PriceBook
from thrifty.engine.cost_policy_summary import node_costs
from thrifty.engine.governance import pool_violations
from thrifty.engine.machine_pool_split import MachinePool, machine_pool_targets
from thrifty.engine.node_pool_steering import (
    PodNeed,
    karpenter_capacity_type,
    labelled_capacity_type,
    limits_text,
    pending_need,
    preferred_weights,
    raised_limits,
)
from thrifty.handlers.cluster_indexes import FallbackWaiting, NodeSeen, cluster_nodes, fallback_waiting_pods
from thrifty.sources.node_pool_objects import (
    MachineDeploymentObject,
    NodePoolObject,
    NodePoolReadError,
    read_machine_deployment,
    read_node_pool,
)

__all__ = ["NodePoolsResult", "node_pool_step"]

log = logging.getLogger(__name__)

KARPENTER_POOL_LABEL = "karpenter.sh/nodepool"
MACHINE_DEPLOYMENT_LABEL = "cluster.x-k8s.io/deployment-name"
RAISE_SETTLE_SECONDS = 120.0


@dataclass
class NodePoolsResult:
    pools: list[NodePoolStatus] | None = None
    observations: list[Observation] = field(default_factory=list)


@dataclass
class _Round:
    """What one round of one pool learned: its status, and any problem that kept it from steering."""

    status: NodePoolStatus
    problems: list[tuple[str, str]] = field(default_factory=list)  # (reason, message)
    changes: list[str] = field(default_factory=list)

    def refused(self, reason: str, message: str) -> None:
        self.problems.append((reason, message))


def node_pool_step(
    body: kopf.Body,
    policy: CostPolicySpec,
    previous: Sequence[NodePoolStatus],
    book: PriceBook,
    indexes: Mapping[str, Any],
    now: datetime,
) -> NodePoolsResult:
    if not policy.node_pools:
        return NodePoolsResult(
            None,
            [
                Observation(
                    CostPolicyCondition.NODE_POOLS_READY,
                    "True",
                    CostPolicyReason.NO_NODE_POOLS,
                    "spec.nodePools lists no pool; nothing to steer",
                ),
                _governance([], policy),
            ],
        )
    nodes = cluster_nodes(indexes)
    last = {(p.kind, p.name): p.last_change for p in previous}
    spot_percent = policy.spot.target_percent if policy.spot is not None else None
    # Reading every policy's placement costs a parse of each; only a pool whose limits may move needs it.
    steers_limits = any("Limits" in pool.allowed_changes for pool in policy.node_pools)
    fallback = fallback_waiting_pods(indexes) if steers_limits else FallbackWaiting(False, [])
    need = pending_need(
        [PodNeed(cpu, memory) for cpu, memory in fallback.waiting], list(book.catalog.values())
    )
    rounds: list[_Round] = []
    violations: list[str] = []
    machines: list[tuple[NodePool, MachineDeploymentObject, _Round]] = []
    for pool in policy.node_pools:
        done = _Round(_base_status(pool, last.get((pool.kind, pool.name))))
        rounds.append(done)
        try:
            if pool.kind == "NodePool":
                found = read_node_pool(pool.name)
                exists = found is not None
                if found is not None:
                    steering = (fallback.active, need)
                    _karpenter_pool(body, pool, found, done, spot_percent, steering, nodes, book, now)
                    violations += [
                        f"NodePool {pool.name} allows {what}" for what in _pool_violations(found, policy)
                    ]
            else:
                machine = read_machine_deployment(str(pool.namespace), pool.name)
                exists = machine is not None
                if machine is not None:
                    _machine_status(pool, machine, done, nodes, book)
                    machines.append((pool, machine, done))
        except NodePoolReadError as err:
            done.refused(CostPolicyReason.NODE_POOL_API_UNAVAILABLE, str(err))
            continue
        if not exists:
            done.status.found = False
            done.refused(CostPolicyReason.NODE_POOL_NOT_FOUND, f"{_name(pool)} does not exist")
    if spot_percent is not None:
        _split_machines(body, machines, spot_percent, now)
    return NodePoolsResult([r.status for r in rounds], [_ready(rounds), _governance(violations, policy)])


def _name(pool: NodePool) -> str:
    return f"{pool.kind} {pool.namespace + '/' if pool.namespace else ''}{pool.name}"


def _base_status(pool: NodePool, last: NodePoolChange | None) -> NodePoolStatus:
    return NodePoolStatus(kind=pool.kind, name=pool.name, namespace=pool.namespace, last_change=last)


def _pool_nodes(nodes: Sequence[NodeSeen], label: str, name: str) -> list[NodeSeen]:
    return [node for node in nodes if node.labels.get(label) == name]


def _hourly(nodes: Sequence[NodeSeen], book: PriceBook) -> float | None:
    return node_costs(book, [(node.labels, node.capacity) for node in nodes]).shown_hourly


def _karpenter_pool(
    body: kopf.Body,
    pool: NodePool,
    found: NodePoolObject,
    done: _Round,
    spot_percent: int | None,
    fallback: tuple[bool, PodNeed],
    nodes: Sequence[NodeSeen],
    book: PriceBook,
    now: datetime,
) -> None:
    own = _pool_nodes(nodes, KARPENTER_POOL_LABEL, pool.name)
    carried = karpenter_capacity_type(found.requirements)
    status = done.status
    status.found, status.nodes, status.hourly_cost = True, len(own), _hourly(own, book)
    status.capacity_type = carried or pool.capacity_type
    status.weight, status.limits = found.weight, dict(found.limits) or None
    status.limits_before_raise = dict(found.limits_before_raise) if found.limits_before_raise else None
    if carried is not None and carried != pool.capacity_type:
        done.refused(
            CostPolicyReason.CAPACITY_TYPE_MISMATCH,
            f"NodePool {pool.name} is declared {pool.capacity_type}, but its requirements give "
            f"{carried} capacity; it is left as it is",
        )
        return
    if spot_percent is None:
        return
    if "Weight" in pool.allowed_changes:
        weight = preferred_weights(spot_percent)[pool.capacity_type]
        if found.weight != weight:
            why = (
                f"spot.targetPercent {spot_percent}: pods placement does not pin go to "
                f"{'spot' if spot_percent > 0 else 'on-demand'} pools first"
            )
            before = "unset" if found.weight is None else str(found.weight)
            if _write(
                body, done, found, "weight", before, str(weight), why, now,
                lambda: set_pool_weight(pool.name, weight),
            ):  # fmt: skip
                status.weight = weight
    if "Limits" in pool.allowed_changes and pool.capacity_type == "OnDemand":
        _steer_limits(body, pool, found, done, fallback, now)


def _steer_limits(
    body: kopf.Body,
    pool: NodePool,
    found: NodePoolObject,
    done: _Round,
    fallback: tuple[bool, PodNeed],
    now: datetime,
) -> None:
    """Raise while workloads in fallback have pods waiting for on-demand capacity; restore once none
    does. A raise tops up from the limits it set, so the pods a raise already admitted are not
    counted twice; limits someone changed after a raise are theirs, and only the record is dropped."""
    in_fallback, need = fallback
    current = dict(found.limits)
    waiting = need.cpu > 0 or need.memory > 0
    if found.raised_to is not None and current != dict(found.raised_to):
        why = "the limits were changed since Thrifty raised them: they are kept, and the raise forgotten"
        _write(
            body, done, found, "limits", limits_text(found.raised_to), limits_text(current), why, now,
            lambda: restore_pool_limits(pool.name, current, None), event="NodePoolLimitsKept",
        )  # fmt: skip
        return
    if waiting:
        if found.raised_to is not None and not _raise_settled(done.status.last_change, now):
            return  # the last raise may still be provisioning those pods' nodes
        raised = raised_limits(current, need)
        if raised == current:
            return
        before = found.limits_before_raise if found.limits_before_raise is not None else current
        why = (
            f"spot fallback: pods waiting for on-demand capacity need cpu {need.cpu:g} and memory "
            f"{need.memory / 2**30:.3g}Gi more"
        )
        if _write(
            body, done, found, "limits", limits_text(current), limits_text(raised), why, now,
            lambda: raise_pool_limits(pool.name, before, raised), event="NodePoolLimitsRaised",
        ):  # fmt: skip
            done.status.limits, done.status.limits_before_raise = raised, dict(before)
        return
    if found.limits_before_raise is not None and not in_fallback:
        before = dict(found.limits_before_raise)
        why = "no workload waits for on-demand capacity in a spot fallback any more"
        if _write(
            body, done, found, "limits", limits_text(current), limits_text(before), why, now,
            lambda: restore_pool_limits(pool.name, current, before), event="NodePoolLimitsRestored",
        ):  # fmt: skip
            done.status.limits, done.status.limits_before_raise = before or None, None


def _raise_settled(last: NodePoolChange | None, now: datetime) -> bool:
    """Whether the last raise is old enough that pods still waiting need more: Karpenter takes a
    batching window and a launch to place what a raise admits, and a round must not raise twice
    for the same pods."""
    if last is None or last.field != "spec.limits" or last.time is None:
        return True
    return (now - datetime.fromisoformat(last.time)).total_seconds() >= RAISE_SETTLE_SECONDS


def _write(
    body: kopf.Body,
    done: _Round,
    found: NodePoolObject,
    what: str,
    before: str,
    after: str,
    why: str,
    now: datetime,
    act: Callable[[], None],
    event: str = "NodePoolWeightSet",
) -> bool:
    """One change to a pool: refused when another manager declares the field, else written, posted as
    an Event and kept as the pool's last change; a failed write is reported and tried next round.
    Whether it was written."""
    others = found.declared_elsewhere.get(what, ())
    if others:
        done.refused(
            CostPolicyReason.FIELD_MANAGED_ELSEWHERE,
            f"NodePool {found.name}: spec.{what} is declared by {', '.join(others)} (server-side apply); "
            f"Thrifty would set it to {after} ({why}) but does not force it",
        )
        return False
    return _act(body, done, f"NodePool {found.name}", f"spec.{what}", (before, after), why, now, act, event)


def _act(
    body: kopf.Body,
    done: _Round,
    where: str,
    changed: str,
    values: tuple[str, str],
    why: str,
    now: datetime,
    act: Callable[[], None],
    event: str,
) -> bool:
    """Make one change and record it: an Event, a log line and the pool's last change; a write the
    API server refuses is reported, and the next round decides again."""
    before, after = values
    try:
        act()
    except ApiException as err:
        done.refused(
            CostPolicyReason.WRITE_FAILED, f"{where}: {changed} not written: {err.status} {err.reason}"
        )
        return False
    message = f"{where}: {changed} {before} -> {after}: {why}"
    log.info("%s", message)
    post_event(body, "Normal", event, message)
    done.changes.append(message)
    done.status.last_change = NodePoolChange(
        time=rfc3339(now), field=changed, from_=before, to=after, reason=why
    )
    return True


def _machine_status(
    pool: NodePool, found: MachineDeploymentObject, done: _Round, nodes: Sequence[NodeSeen], book: PriceBook
) -> None:
    own = _pool_nodes(nodes, MACHINE_DEPLOYMENT_LABEL, pool.name)
    status = done.status
    status.found, status.nodes, status.hourly_cost = True, len(own), _hourly(own, book)
    status.replicas, status.min_replicas, status.max_replicas = found.replicas, found.min_size, found.max_size
    carried = labelled_capacity_type(found.node_labels, book.capacity_type_labels)
    status.capacity_type = carried or pool.capacity_type
    if carried is not None and carried != pool.capacity_type:
        done.refused(
            CostPolicyReason.CAPACITY_TYPE_MISMATCH,
            f"MachineDeployment {found.namespace}/{found.name} is declared {pool.capacity_type}, but its "
            f"node labels give {carried} capacity; it is left as it is",
        )


def _split_machines(
    body: kopf.Body,
    machines: Sequence[tuple[NodePool, MachineDeploymentObject, _Round]],
    spot_percent: int,
    now: datetime,
) -> None:
    steerable = [(p, f, r) for p, f, r in machines if not r.problems]
    records = [
        MachinePool(
            f.name, p.capacity_type, f.replicas, f.min_size, f.max_size, "Replicas" in p.allowed_changes
        )
        for p, f, _ in steerable
    ]
    for (_, found, done), target in zip(steerable, machine_pool_targets(records, spot_percent), strict=True):
        if target is None:
            continue
        replicas = target.replicas
        scaled = _act(
            body, done, f"MachineDeployment {found.namespace}/{found.name}", "spec.replicas",
            (str(found.replicas), str(replicas)), target.reason, now,
            partial(scale_machine_deployment, found.namespace, found.name, found.api_version, replicas),
            "MachineDeploymentScaled",
        )  # fmt: skip
        if scaled:
            done.status.replicas = replicas


def _pool_violations(found: NodePoolObject, policy: CostPolicySpec) -> list[str]:
    governance = policy.governance
    if governance is None:
        return []
    labels = policy.pricing.node_labels
    return pool_violations(
        found.requirements,
        governance.allowed_instance_types,
        governance.allowed_regions,
        labels.instance_type,
        labels.region,
    )


def _ready(rounds: Sequence[_Round]) -> Observation:
    kind = CostPolicyCondition.NODE_POOLS_READY
    problems = [problem for r in rounds for problem in r.problems]
    for r in rounds:
        r.status.message = "; ".join(message for _, message in r.problems) or None
    if problems:
        return Observation(kind, "False", problems[0][0], "; ".join(message for _, message in problems))
    changed = [change for r in rounds for change in r.changes]
    summary = f"{len(rounds)} node pools found, each carrying the capacity type spec.nodePools gives it"
    return Observation(
        kind,
        "True",
        CostPolicyReason.NODE_POOLS_STEERED,
        "; ".join([summary, *changed]) if changed else summary,
    )


def _governance(violations: Sequence[str], policy: CostPolicySpec) -> Observation:
    kind = CostPolicyCondition.GOVERNANCE_VIOLATION
    governance = policy.governance
    if governance is None or not (governance.allowed_instance_types or governance.allowed_regions):
        return Observation(
            kind, "False", CostPolicyReason.NO_GOVERNANCE, "no allowed instance types or regions"
        )
    if violations:
        allowed = ", ".join(governance.allowed_instance_types) or "any"
        regions = ", ".join(governance.allowed_regions) or "any"
        return Observation(
            kind,
            "True",
            CostPolicyReason.OUTSIDE_GOVERNANCE,
            f"{'; '.join(violations)} (governance allows instance types {allowed}, regions {regions})",
        )
    return Observation(
        kind, "False", CostPolicyReason.COMPLIANT, "every NodePool in spec.nodePools stays within governance"
    )
