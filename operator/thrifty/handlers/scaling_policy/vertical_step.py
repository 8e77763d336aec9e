"""The vertical step of a ScalingPolicy: read usage history, let the engine recommend requests,
resize in Apply mode."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import kopf
from kubernetes.client import ApiException

from thrifty.actuators.object_events import post_event
from thrifty.actuators.status_writes import record_pending_action
from thrifty.actuators.workload_resources import patch_container_resources
from thrifty.api.common import rfc3339
from thrifty.api.condition_types import PolicyCondition, PolicyReason
from thrifty.api.scaling_policy import (
    ContainerRecommendation,
    Cost,
    Horizontal,
    LastAction,
    ScalingPolicySpec,
    ScalingPolicyStatus,
    Summary,
    Vertical,
)
from thrifty.engine.action_outcomes import RESIZE
from thrifty.engine.conflicts import OtherAutoscaler, vertical_conflicts
from thrifty.engine.cost import PriceBook
from thrifty.engine.paired_requests import Pairing
from thrifty.engine.pending_actions import RESIZE_ACTION
from thrifty.engine.policy_replicas import pairing_for
from thrifty.engine.policy_requests import (
    VerticalOutcome,
    history_observation,
    priced_at,
    recommend_requests,
    resize_due,
    resize_summary,
    with_requests,
)
from thrifty.engine.spot_mix import ReplicaSplit
from thrifty.engine.workload_prices import Prices
from thrifty.engine.workload_records import ContainerHistory, Workload
from thrifty.handlers.operator_metrics import counted_action
from thrifty.handlers.scaling_policy.policy_reads import namespace_load, namespace_usage, pod_nodes
from thrifty.handlers.scaling_policy.step_conclusions import metrics_unavailable, step_start
from thrifty.handlers.status_writer import Conclusions, record_change
from thrifty.sources.prometheus_http import MetricsUnavailableError

__all__ = ["VerticalResult", "vertical_step"]

# A Recommendation condition with another reason (no data, too little history, unchanged) resizes nothing.
_RESIZING_REASONS = frozenset({PolicyReason.RECOMMENDED, PolicyReason.LIMIT_CAUSES_OOM})


@dataclass
class VerticalResult:
    """What the vertical step concluded; None fields were not decided this round (kept as they are)."""

    conditions: Conclusions = field(default_factory=Conclusions)
    containers: list[ContainerRecommendation] | None = None
    cost: Cost | None = None
    summary: Summary | None = None
    last_action: LastAction | None = None
    acted: bool = False  # a change was attempted, so a pending action was recorded this round
    # The workload with the paired requests, which the replicas are decided at: in Recommend mode,
    # and in Apply mode once this round resized it. None: at the requests it has.
    decide_at: Workload | None = None
    # The cost and summary of the paired requests at the replicas the horizontal step recommends.
    priced_at: Callable[[int], tuple[Cost | None, Summary]] | None = None


def vertical_step(
    body: kopf.Body,
    policy: ScalingPolicySpec,
    vertical: Vertical,
    status: ScalingPolicyStatus,
    workload: Workload,
    others: list[OtherAutoscaler],
    book: PriceBook,
    now: datetime,
    interrupted: LastAction | None,
    planned_mix: tuple[ReplicaSplit, Sequence[Mapping[str, str]]] | None = None,
    nodes_now: Sequence[Mapping[str, str]] = (),
) -> VerticalResult:
    """``interrupted``: a resize an earlier round made but could not record; its cooldown runs.
    ``planned_mix``: the spot/on-demand mix placement steers to, and the labels of the cluster's
    nodes: the recommended cost is priced there. ``nodes_now``: the labels of the node each pod runs
    on now, which price the current cost (from Prometheus' pod placement when empty).

    A policy that also scales on CPU utilization gets CPU requests chosen with the replicas they
    need (``paired_requests``)."""
    conflicts = vertical_conflicts(others)
    result = VerticalResult(step_start(conflicts, policy.mode))
    try:
        usage = namespace_usage(workload.namespace, vertical.history_hours)
    except MetricsUnavailableError as err:
        consequence = "the last recommendation is kept and nothing is changed"
        metrics_unavailable(result.conditions, err, consequence, PolicyCondition.RECOMMENDATION)
        return result
    histories = list(usage.workload(workload.kind, workload.name))
    result.conditions.prerequisites.append(history_observation(histories, usage.notes))
    if not histories:
        return result
    prices = Prices.on_nodes(book, nodes_now) if nodes_now else _prices(book, workload, histories)
    if planned_mix is not None:
        prices = prices.at_mix(book, planned_mix[1], planned_mix[0])
    steering = bool(status.forecast and status.forecast.steering)
    pairing = None if policy.horizontal is None else _pairing(policy.horizontal, workload, steering)
    outcome = recommend_requests(histories, usage.step_seconds, vertical, workload, prices, pairing)
    result.conditions.informational.append(outcome.observation)
    if outcome.paired is not None:
        result.priced_at = functools.partial(_priced, outcome, workload.desired_replicas, prices)
        if policy.mode != "Apply":
            result.decide_at = with_requests(workload, outcome.changes)
    result.containers, result.cost, result.summary = list(outcome.containers), outcome.cost, outcome.summary
    last = interrupted or status.last_resize or status.last_action
    due = resize_due(last, now, vertical.cooldown_seconds, outcome.oom_bump)
    resizable = bool(outcome.changes) and outcome.observation.reason in _RESIZING_REASONS
    if policy.mode == "Apply" and not conflicts and resizable and due:
        result.acted = True
        result.last_action = _resize(body, workload, outcome, now)
        if result.last_action is not None and outcome.paired is not None:
            result.decide_at = with_requests(workload, outcome.changes)
    return result


def _priced(
    outcome: VerticalOutcome, replicas_now: int, prices: Prices, replicas: int
) -> tuple[Cost | None, Summary]:
    repriced = priced_at(outcome, replicas_now, replicas, prices)
    return repriced.cost, repriced.summary


def _pairing(horizontal: Horizontal, workload: Workload, steering: bool) -> Pairing | None:
    """``steering``: the forecast steered at the last evaluation, so replicas are read at full
    capacity (``engine.predictive``) and the requests are paired with them so."""
    try:
        load = namespace_load(workload.namespace).workloads.get((workload.kind, workload.name))
    except MetricsUnavailableError:
        return None  # the horizontal step says so; the requests are then right-sized on their own
    return pairing_for(horizontal, load, workload.desired_replicas, steering)


def _prices(book: PriceBook, workload: Workload, histories: list[ContainerHistory]) -> Prices:
    """The rates of the nodes the workload's pods ran on over the history, as budgets price them
    (on-demand when the nodes are unknown): the monthly cost in status is the budget's model,
    projected."""
    pods = sorted({pod for history in histories for pod in history.pods})
    try:
        nodes = pod_nodes(workload.namespace)
    except MetricsUnavailableError:
        nodes = {}
    return Prices.on_nodes(book, [nodes[pod] for pod in pods if pod in nodes])


def _resize(
    body: kopf.Body, workload: Workload, outcome: VerticalOutcome, now: datetime
) -> LastAction | None:
    before, after = resize_summary(workload, outcome)
    reason = "OOM kill: memory raised" if outcome.oom_bump else "requests follow usage history"
    action = LastAction(time=rfc3339(now), action=RESIZE_ACTION, from_=before, to=after, reason=reason)
    try:
        with counted_action(RESIZE):
            record_pending_action(str(body.metadata.namespace), str(body.metadata.name), action)
            patch_container_resources(workload.kind, workload.namespace, workload.name, outcome.changes)
    except ApiException as err:
        post_event(
            body, "Warning", "ResizeFailed", f"could not patch {workload.kind} {workload.name}: {err.reason}"
        )
        return None
    message = f"resized {workload.kind} {workload.namespace}/{workload.name}: {before} -> {after} ({reason})"
    record_change(body, workload.reference(), "Resized", message, f"{before} -> {after} ({reason})")
    return action
