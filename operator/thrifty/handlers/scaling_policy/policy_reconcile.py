"""ScalingPolicy: the one reconcile of a policy, in the order its steps run.

1. find the target workload (TargetFound), check what the schema cannot (Stalled, InvalidSpec) and
   the containers the spec names (ContainersFound);
2. the horizontal step: replicas, within schedules, the forecast and any budget's cap;
3. the vertical step: requests, priced at the rates of the nodes the pods run on;
4. publish status: the recommendation both steps made, conditions, and Ready.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import kopf
from kubernetes.client.exceptions import ApiException

from thrifty import GROUP, VERSION
from thrifty.api.common import rfc3339
from thrifty.api.condition_types import INVALID_SPEC, SCALING_POLICY_CONDITIONS, PolicyCondition, PolicyReason
from thrifty.api.conditions import Observation
from thrifty.api.cost_policy import ACTIVE_COST_POLICY, CostPolicySpec
from thrifty.api.scaling_policy import LastAction, Recommendation, ScalingPolicySpec, ScalingPolicyStatus
from thrifty.engine.budget_caps import budget_cap
from thrifty.engine.cost import PriceBook
from thrifty.engine.governance import CostCap, cost_cap, cost_cap_observation, per_replica_hourly
from thrifty.engine.pending_actions import Resolved, resolve_pending
from thrifty.engine.scaling_history import history_from, state_from, with_change
from thrifty.engine.spec_checks import policy_spec_problems
from thrifty.engine.status_changes import policy_status_unchanged
from thrifty.engine.workload_prices import Prices, active_price_book
from thrifty.engine.workload_records import Workload
from thrifty.handlers.cluster_indexes import (
    autoscalers_of,
    budget_views,
    cluster_node_labels,
    cost_policy_specs,
    find_workload,
    workload_pod_nodes,
)
from thrifty.handlers.operator_metrics import RECONCILE_SECONDS, SCALING_POLICY
from thrifty.handlers.placement_plans import forget_plans_of
from thrifty.handlers.scaling_policy import horizontal_memory
from thrifty.handlers.scaling_policy.horizontal_step import HorizontalResult, horizontal_step
from thrifty.handlers.scaling_policy.placement_step import PlacementResult, placement_step
from thrifty.handlers.scaling_policy.policy_metrics import publish_policy_metrics
from thrifty.handlers.scaling_policy.vertical_step import VerticalResult, vertical_step
from thrifty.handlers.status_writer import (
    Conclusions,
    commit,
    freshest,
    publish,
    reconcile_guard,
    record_change,
    stalled,
    without_non_finite,
)
from thrifty.handlers.status_writer import forget as forget_writes

__all__ = ["Evaluated", "conclude_policy", "evaluate_policy", "forget_policy", "reconcile_scaling_policy"]

RESOURCE = (GROUP, VERSION, "scalingpolicies")

log = logging.getLogger(__name__)


@dataclass
class _Locks:
    guard: threading.Lock = field(default_factory=threading.Lock)
    locks: dict[str, threading.Lock] = field(default_factory=dict)

    def of(self, uid: str) -> threading.Lock:
        with self.guard:
            return self.locks.setdefault(uid, threading.Lock())

    def forget(self, uid: str) -> None:
        with self.guard:
            self.locks.pop(uid, None)


_SINGLE_FLIGHT = _Locks()


@kopf.on.create(*RESOURCE)
@kopf.on.update(*RESOURCE, field="spec")
def reconcile_scaling_policy(body: kopf.Body, **kwargs: Any) -> None:
    """A new or edited policy is evaluated at once, so `kubectl apply` gets an answer in seconds;
    the evaluation round (``evaluation_round``) evaluates every policy after that."""
    evaluate_policy(body, {name: value for name, value in kwargs.items() if isinstance(value, kopf.Index)})


Evaluated = Literal["written", "unchanged", "busy", "failed"]


def evaluate_policy(raw: Mapping[str, Any], indexes: Mapping[str, Any]) -> Evaluated:
    """One evaluation of a policy, and whether it wrote status; "busy" when another evaluation of
    it is running. One at a time, whatever triggers it (a round and a spec edit can land together):
    the one that finds it busy does nothing, and the next round sees the outcome. "failed" when the
    API server refused a write: an action it was about to record stays in ``pendingAction``, and
    the next round records it."""
    meta = raw.get("metadata", {})
    uid = str(meta.get("uid", ""))
    lock = _SINGLE_FLIGHT.of(uid)
    if not lock.acquire(blocking=False):
        return "busy"
    started = time.perf_counter()
    try:
        body = kopf.Body(dict(freshest(raw)))  # type: ignore[arg-type]  # kopf wraps any raw dict
        patch = conclude_policy(body, indexes)
        # The status as it reads once the patch is written: the patch gives each key it changes whole
        # (a None in it is a field removed, which the gauges read as absent).
        concluded = {**(body.get("status") or {}), **(patch.get("status") or {})}
        written = commit(body, patch, "scalingpolicies")
        publish_policy_metrics(uid, str(meta.get("namespace", "")), str(meta.get("name", "")), concluded)
    except ApiException as error:
        log.warning(
            "ScalingPolicy %s/%s: the API server answered %s %s; the next round tries again",
            meta.get("namespace"),
            meta.get("name"),
            error.status,
            error.reason,
        )
        return "failed"
    finally:
        lock.release()
        RECONCILE_SECONDS.labels(SCALING_POLICY).observe(time.perf_counter() - started)
    return "written" if written else "unchanged"


def conclude_policy(body: kopf.Body, indexes: Mapping[str, Any]) -> kopf.Patch:
    """The status patch one evaluation of the policy concludes (acting first, in Apply mode)."""
    patch = kopf.Patch()
    _guarded_reconcile(body=body, patch=patch, **indexes)
    return patch


def forget_policy(uid: str) -> None:
    """Drop what this process keeps for a deleted policy."""
    _SINGLE_FLIGHT.forget(uid)
    horizontal_memory.forget(uid)
    forget_writes(uid)
    forget_plans_of(uid)


@reconcile_guard(SCALING_POLICY_CONDITIONS, ScalingPolicyStatus)
def _guarded_reconcile(body: kopf.Body, patch: kopf.Patch, **indexes: Any) -> None:
    _reconcile(body, body.spec, str(body.metadata.namespace or ""), patch, indexes)


def _reconcile(
    body: kopf.Body, spec: kopf.Spec, namespace: str, patch: kopf.Patch, indexes: Mapping[str, Any]
) -> None:
    now = datetime.now(UTC)
    policy = ScalingPolicySpec.model_validate(dict(spec))
    status = ScalingPolicyStatus.model_validate(body.get("status") or {})
    target = policy.target_ref
    workload = find_workload(indexes, target.kind, namespace, target.name)
    conclusions = Conclusions(prerequisites=[_target_found(target.kind, namespace, target.name, workload)])
    horizontal, vertical, placement = HorizontalResult(), VerticalResult(), PlacementResult()
    interrupted: Resolved | None = None
    resolving = False  # whether this round settles a pending action (done or never done)
    problems = policy_spec_problems(policy)
    if problems:
        # Nothing is decided on a spec that cannot be read; what status showed stays until it is fixed.
        conclusions.add(stalled(INVALID_SPEC, "; ".join(problems)))
        conclusions.kept |= set(SCALING_POLICY_CONDITIONS.types)
    elif workload is not None:
        resolving = status.pending_action is not None
        interrupted = resolve_pending(status.pending_action, workload)
        if interrupted is not None:
            _record_interrupted(body, workload, interrupted.action)
        named = policy.vertical.containers if policy.vertical is not None else []
        conclusions.prerequisites.append(_containers_found(named, workload))
        others = autoscalers_of(indexes, target.kind, namespace, target.name)
        cost_policies = cost_policy_specs(indexes)
        book = active_price_book(cost_policies)
        placement = placement_step(
            body, policy, status, workload, cost_policies.get(ACTIVE_COST_POLICY), book, indexes, now
        )
        # Requests before replicas: with both halves, the replicas are decided at the CPU requests
        # the pods are to have, in the same round as the resize.
        if policy.vertical is not None:
            resized = interrupted.action if interrupted and interrupted.event is None else None
            planned = None if placement.mix is None else (placement.mix, cluster_node_labels(indexes))
            vertical = vertical_step(
                body, policy, policy.vertical, status, workload, others, book, now, resized, planned,
                workload_pod_nodes(indexes, namespace, target.kind, target.name),
            )  # fmt: skip
        if policy.horizontal is not None:
            cap, limited = budget_cap(budget_views(indexes), workload)
            sized = vertical.decide_at or workload
            governed = _cost_cap(
                cost_policies.get(ACTIVE_COST_POLICY), policy, sized, book, placement, indexes
            )
            horizontal = horizontal_step(
                body, policy, policy.horizontal, status, workload, others, cap, now,
                interrupted.event if interrupted else None, vertical.decide_at,
                vertical.last_action if vertical.acted else None,
                None if governed is None else (governed.replicas, governed.label),
            )  # fmt: skip
            horizontal.conditions.informational.append(limited)
            horizontal.conditions.informational.append(
                cost_cap_observation(governed, horizontal.limited_by, horizontal.replicas)
            )
            # The pair status shows: the requests at the replicas recommended for them.
            priced = vertical.priced_at if vertical.decide_at is not None else None
            if priced is not None and horizontal.replicas is not None:
                vertical.cost, vertical.summary = priced(horizontal.replicas)
    conclusions.add(horizontal.conditions)
    conclusions.add(vertical.conditions)
    conclusions.add(placement.conditions)
    publish(
        body,
        patch,
        SCALING_POLICY_CONDITIONS,
        _desired_status(status, workload, horizontal, vertical, now, interrupted).model_copy(
            update={"placement": placement.placement or status.placement}
        ),
        conclusions,
        ready=(
            PolicyReason.EVALUATED,
            f"{target.kind} {namespace}/{target.name} is managed in {policy.mode} mode",
        ),
        unchanged=policy_status_unchanged,
    )
    before, after = status.placement, placement.placement
    if before is not None and before.fallback_since and after is not None and after.fallback_since is None:
        # A merge patch keeps a field it leaves out: the end of a fallback is spelled out.
        patch.status["placement"] = {**without_non_finite(after.to_wire()), "fallbackSince": None}
    cost = patch.status.get("cost")
    dropped = [key for key in (status.cost.to_wire() if status.cost else {}) if key not in (cost or {})]
    if cost is not None and dropped:
        # So are the cost figures a new cost no longer has (the workload left placement, or some
        # spot node's interruption frequency became unknown).
        patch.status["cost"] = {**cost, **dict.fromkeys(dropped)}
    if resolving or horizontal.acted or vertical.acted:
        # Cleared in the same write that records the outcome; kopf's view of status predates the
        # record, so the deletion is spelled out.
        patch.status["pendingAction"] = None


def _cost_cap(
    cost_policy: CostPolicySpec | None,
    policy: ScalingPolicySpec,
    workload: Workload,
    book: PriceBook,
    placement: PlacementResult,
    indexes: Mapping[str, Any],
) -> CostCap | None:
    """Governance's cap on the replicas: the pods' requests at the rates of the nodes they run on, or
    at the mix placement steers them to."""
    governance = cost_policy.governance if cost_policy is not None else None
    if governance is None or governance.max_hourly_cost_per_workload is None or policy.horizontal is None:
        return None
    nodes = workload_pod_nodes(indexes, workload.namespace, workload.kind, workload.name)
    prices = Prices.on_nodes(book, nodes)
    if placement.mix is not None:
        prices = prices.at_mix(book, cluster_node_labels(indexes), placement.mix)
    return cost_cap(
        governance.max_hourly_cost_per_workload,
        per_replica_hourly(workload, prices.planned or prices.rates),
        policy.horizontal.min_replicas,
        book.currency,
    )


def _desired_status(
    status: ScalingPolicyStatus,
    workload: Workload | None,
    horizontal: HorizontalResult,
    vertical: VerticalResult,
    now: datetime,
    interrupted: Resolved | None,
) -> ScalingPolicyStatus:
    """Status after this round: what a step decided replaces what it decided before; what no step
    decided this round (Prometheus down, target gone) stays as it was. An interrupted action that
    happened is recorded even when no step decided anything."""
    history = horizontal.scaling_history
    if history is None and interrupted is not None and interrupted.event is not None:
        history = history_from(with_change(state_from(status.scaling_history), interrupted.event))
    recommended = status.recommendation
    if horizontal.replicas is not None or vertical.containers is not None:
        previous = status.recommendation or Recommendation()
        recommended = Recommendation(
            replicas=previous.replicas if horizontal.replicas is None else horizontal.replicas,
            reason=horizontal.reason or previous.reason,
            containers=previous.containers if vertical.containers is None else vertical.containers,
            generated_at=previous.generated_at,
        )
        if not _same_values(recommended, previous) or previous.generated_at is None:
            recommended = recommended.model_copy(update={"generated_at": rfc3339(now)})
    return ScalingPolicyStatus(
        observed_generation=status.observed_generation,
        conditions=status.conditions,
        current_replicas=status.current_replicas if workload is None else workload.desired_replicas,
        current_utilization=horizontal.utilization or status.current_utilization,
        recommendation=recommended,
        forecast=horizontal.forecast or status.forecast,
        cost=vertical.cost or status.cost,
        # A scale the round made after its resize is the later of the two.
        last_action=horizontal.last_action
        or vertical.last_action
        or (interrupted.action if interrupted else None)
        or status.last_action,
        last_resize=vertical.last_action
        or (interrupted.action if interrupted and interrupted.event is None else None)
        or status.last_resize,
        scaling_history=history or status.scaling_history,
        summary=vertical.summary or status.summary,
    )


def _same_values(a: Recommendation, b: Recommendation) -> bool:
    """Whether two recommendations set the same replicas and resources; a reason's wording (how many
    samples it rests on) moves every usage read and is not a new recommendation."""
    return a.replicas == b.replicas and [c.model_dump(exclude={"reason"}) for c in a.containers] == [
        c.model_dump(exclude={"reason"}) for c in b.containers
    ]


def _record_interrupted(body: kopf.Body, workload: Workload, action: LastAction) -> None:
    """The Events an interrupted action did not get to post. (If the process stopped after posting
    them, they appear twice; the action itself never does.)"""
    change = f"{action.from_} -> {action.to} ({action.reason})"
    reason = {"ScaleUp": "ScaledUp", "ScaleDown": "ScaledDown"}.get(action.action or "", "Resized")
    message = f"recorded after a restart: {workload.kind} {workload.namespace}/{workload.name}: {change}"
    record_change(body, workload.reference(), reason, message, f"{change}, recorded after a restart")


def _target_found(kind: str, namespace: str, name: str, workload: Workload | None) -> Observation:
    if workload is None:
        return Observation(
            PolicyCondition.TARGET_FOUND,
            "False",
            PolicyReason.TARGET_NOT_FOUND,
            f"{kind} {namespace}/{name} does not exist; the policy waits for it",
        )
    return Observation(
        PolicyCondition.TARGET_FOUND, "True", PolicyReason.TARGET_FOUND, f"{kind} {namespace}/{name} exists"
    )


def _containers_found(names: list[str], workload: Workload) -> Observation:
    missing = sorted(set(names) - set(workload.container_names))
    if missing:
        return Observation(
            PolicyCondition.CONTAINERS_FOUND,
            "False",
            PolicyReason.CONTAINER_NOT_FOUND,
            f"spec.vertical.containers names {', '.join(missing)}, which the pod template of "
            f"{workload.kind} {workload.namespace}/{workload.name} does not have "
            f"(it has {', '.join(workload.container_names) or 'none'})",
        )
    return Observation(
        PolicyCondition.CONTAINERS_FOUND,
        "True",
        PolicyReason.CONTAINERS_FOUND,
        "every named container exists",
    )
