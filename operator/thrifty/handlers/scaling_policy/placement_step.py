"""The placement step of a ScalingPolicy: the workload's spot/on-demand mix, its fallback state, the
plan the pod webhook follows for new pods, and in Apply mode the one move toward the target.

A move is decided from what the cluster shows (the pods, their nodes), and only once the last one
has settled, so a restart between a move and its record neither repeats nor loses it: the moved pod's
replacement is what the next round sees. Within one process, the pods a move took off are
remembered for a while too, so a watch that has not yet shown their deletion never makes a second
move for the same drift.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import kopf
from kubernetes.client import ApiException

from thrifty.actuators.pod_moves import delete_waiting_pod, evict_pod
from thrifty.api.common import rfc3339
from thrifty.api.condition_types import PolicyCondition, PolicyReason
from thrifty.api.conditions import Observation
from thrifty.api.cost_policy import CostPolicySpec
from thrifty.api.scaling_policy import LastAction, PlacementStatus, ScalingPolicySpec, ScalingPolicyStatus
from thrifty.engine.action_outcomes import EVICT, REPLACE_PENDING
from thrifty.engine.cost import PriceBook
from thrifty.engine.governance import governed_node_values
from thrifty.engine.placement_decision import PlacementOutcome, WorkloadFacts, decide_placement, spot_settings
from thrifty.engine.pod_placement import Move
from thrifty.engine.spot_fallback import PlacementState
from thrifty.engine.spot_mix import ReplicaSplit
from thrifty.engine.workload_records import Workload
from thrifty.handlers.cluster_indexes import (
    cluster_node_labels,
    covered_by_disruption_budget,
    namespace_labels_of,
    spot_schedulable,
    workload_pods,
)
from thrifty.handlers.operator_metrics import counted_action
from thrifty.handlers.placement_plans import PlacementPlan, WorkloadKey, admitted_since, publish_plan
from thrifty.handlers.status_writer import Conclusions, record_change

__all__ = ["PlacementResult", "placement_step"]

log = logging.getLogger(__name__)

# How long a pod this operator evicted or deleted counts as on its way out: while the watch still
# shows it alive (it lags the API), it is not a reason for another move.
_MOVING_SECONDS = 120.0


class _RecentMoves:
    """The pods each workload's last moves took off, by the monotonic time of the move."""

    def __init__(self) -> None:
        self.guard = threading.Lock()
        self.moved: dict[WorkloadKey, dict[str, float]] = {}

    def of(self, key: WorkloadKey) -> frozenset[str]:
        now = time.monotonic()
        with self.guard:
            kept = {pod: at for pod, at in self.moved.pop(key, {}).items() if now - at < _MOVING_SECONDS}
            if kept:
                self.moved[key] = kept
            return frozenset(kept)

    def add(self, key: WorkloadKey, pods: list[str]) -> None:
        with self.guard:
            self.moved.setdefault(key, {}).update(dict.fromkeys(pods, time.monotonic()))


_RECENT_MOVES = _RecentMoves()


@dataclass
class PlacementResult:
    conditions: Conclusions = field(default_factory=Conclusions)
    placement: PlacementStatus | None = None
    mix: ReplicaSplit | None = None  # the mix the workload's cost is planned at (eligible, either mode)


def placement_step(
    body: kopf.Body,
    policy: ScalingPolicySpec,
    status: ScalingPolicyStatus,
    workload: Workload,
    cost_policy: CostPolicySpec | None,
    book: PriceBook,
    indexes: Any,
    now: datetime,
) -> PlacementResult:
    key = (workload.namespace, workload.kind, workload.name)
    spot = cost_policy.spot if cost_policy is not None else None
    settings = spot_settings(spot, policy.placement, book.capacity_type_labels)
    result = PlacementResult()
    if settings is None:
        publish_plan(key, str(body.metadata.uid), None)
        why = (
            "spec.placement.enabled is false"
            if policy.placement is not None and not policy.placement.enabled
            else "the CostPolicy has no spot section and spec.placement sets no targetPercent"
        )
        result.conditions.informational.append(
            Observation(
                PolicyCondition.SPOT_PLACEMENT, "False", PolicyReason.NOT_CONFIGURED, f"not placed: {why}"
            )
        )
        return result
    selected = spot is None or (
        (
            spot.namespace_selector is None
            or spot.namespace_selector.matches(namespace_labels_of(indexes, workload.namespace))
        )
        and (spot.workload_selector is None or spot.workload_selector.matches(workload.labels))
    )
    facts = WorkloadFacts(
        kind=workload.kind,
        replicas=workload.desired_replicas,
        has_pdb=covered_by_disruption_budget(indexes, workload),
        in_scope=selected,
        spot_schedulable=spot_schedulable(indexes, settings.labels),
    )
    pods = workload_pods(indexes, workload.namespace, workload.kind, workload.name, settings.labels)
    before = status.placement or PlacementStatus()
    state = PlacementState(
        None if before.fallback_since is None else datetime.fromisoformat(before.fallback_since).timestamp()
    )
    applying = policy.mode == "Apply"
    outcome = decide_placement(settings, facts, pods, state, now.timestamp(), applying, _RECENT_MOVES.of(key))
    placing = applying and outcome.eligible
    result.mix = outcome.target if outcome.eligible else None
    publish_plan(
        key,
        str(body.metadata.uid),
        PlacementPlan(
            settings.base,
            settings.percent,
            outcome.reason == PolicyReason.FALLBACK,
            settings.labels,
            governed_node_values(cost_policy, book, cluster_node_labels(indexes)),
        )
        if placing
        else None,
    )
    last = before.last_action
    message = outcome.message
    if placing:
        last = _report(body, workload, key, state, outcome, now) or last
        if outcome.move is not None:
            moved, refused = _move(body, workload, key, outcome.move, now)
            last = moved or last
            if refused:
                message = f"{message}; {refused}"
    result.conditions.informational.append(
        Observation(
            PolicyCondition.SPOT_PLACEMENT, "True" if outcome.placed else "False", outcome.reason, message
        )
    )
    result.placement = PlacementStatus(
        target_on_demand=outcome.target.on_demand,
        target_spot=outcome.target.spot,
        on_demand=outcome.counts.on_demand,
        spot=outcome.counts.spot,
        unplaced=outcome.counts.unplaced,
        spot_percent=outcome.spot_percent,
        fallback_since=None
        if outcome.state.fallback_since is None
        else rfc3339(datetime.fromtimestamp(outcome.state.fallback_since, UTC)),
        last_action=last,
    )
    return result


def _report(
    body: kopf.Body,
    workload: Workload,
    key: WorkloadKey,
    before: PlacementState,
    outcome: PlacementOutcome,
    now: datetime,
) -> LastAction | None:
    """The Events of this round's changes that were not moves: new pods the webhook placed (one Event
    for all of them), and a fallback that began or ended."""
    admitted = admitted_since(key)
    if admitted:
        placed = ", ".join(f"{n} to {capacity}" for capacity, n in sorted(admitted.items()))
        message = f"new pods of {workload.kind} {workload.namespace}/{workload.name} sent {placed}"
        record_change(body, workload.reference(), "PodsPlaced", message, f"new pods sent {placed}")
    began = before.fallback_since is None and outcome.state.fallback_since is not None
    ended = before.fallback_since is not None and outcome.state.fallback_since is None
    if not (began or ended):
        return None
    action, source, destination = (
        ("Fallback", "spot", "on-demand") if began else ("Return", "on-demand", "spot")
    )
    record_change(
        body,
        workload.reference(),
        "SpotFallback" if began else "SpotReturn",
        f"{workload.kind} {workload.namespace}/{workload.name}: {outcome.message}",
        outcome.message,
    )
    return LastAction(time=rfc3339(now), action=action, from_=source, to=destination, reason=outcome.message)


def _refusal(pod: str, err: ApiException) -> str:
    if err.status == 429:
        return f"the eviction of pod {pod} was refused: its PodDisruptionBudget allows no disruption now"
    return f"pod {pod} was not moved: {err.status} {err.reason}"


def _move(
    body: kopf.Body, workload: Workload, key: WorkloadKey, move: Move, now: datetime
) -> tuple[LastAction | None, str | None]:
    """The move's record (None when no pod moved) and, when the API refused one, why, for the status;
    a refused move is tried again by the next round."""
    other = "spot" if move.capacity == "on-demand" else "on-demand"
    done = []
    refused = None
    for pod in move.pods:
        try:
            with counted_action(EVICT if move.kind == "evict" else REPLACE_PENDING):
                if move.kind == "evict":
                    evict_pod(workload.namespace, pod)
                else:
                    delete_waiting_pod(workload.namespace, pod)
        except ApiException as err:
            refused = _refusal(pod, err)
            log.info("%s %s/%s: %s", workload.kind, workload.namespace, workload.name, refused)
            continue
        done.append(pod)
    if not done:
        return None, refused
    _RECENT_MOVES.add(key, done)
    pods = ", ".join(done)
    verb = "evicted" if move.kind == "evict" else "deleted (waiting for a spot node)"
    where = f"{workload.kind} {workload.namespace}/{workload.name}"
    message = f"{where}: pod {pods} {verb} to run on {other}: {move.reason}"
    record_change(body, workload.reference(), "PodMoved", message, f"pod {pods} {verb} to run on {other}")
    return LastAction(
        time=rfc3339(now),
        action="Move" if move.kind == "evict" else "ReplacePending",
        from_=move.capacity,
        to=other,
        reason=f"{pods}: {move.reason}",
    ), refused
