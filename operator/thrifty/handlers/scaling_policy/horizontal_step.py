"""The horizontal step of a ScalingPolicy: read the load (and forecast), let the engine decide
replicas, scale in Apply mode.

Without an answer from Prometheus nothing is decided: the state in status stays as it was and no
replica is removed. A failed scale is not recorded as a change, so the next round decides again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import kopf
from kubernetes.client import ApiException

from thrifty.actuators.object_events import post_event
from thrifty.actuators.status_writes import record_pending_action
from thrifty.actuators.workload_replicas import scale_workload
from thrifty.api.common import rfc3339
from thrifty.api.condition_types import PolicyCondition
from thrifty.api.scaling_policy import (
    Forecast,
    Horizontal,
    LastAction,
    ScalingHistory,
    ScalingPolicySpec,
    ScalingPolicyStatus,
    Utilization,
)
from thrifty.engine.action_outcomes import scale_kind
from thrifty.engine.budget_caps import ReplicaCap
from thrifty.engine.conflicts import OtherAutoscaler, horizontal_conflicts
from thrifty.engine.horizontal import HorizontalState, ScaleEvent
from thrifty.engine.policy_replicas import (
    HorizontalOutcome,
    MetricForecast,
    decide_replicas,
    metrics_observation,
    named_metrics,
    readings_for,
)
from thrifty.engine.scaling_history import history_from, merged_state, resumed_state, state_from, with_change
from thrifty.engine.workload_records import Workload
from thrifty.handlers.operator_metrics import counted_action
from thrifty.handlers.scaling_policy import horizontal_memory
from thrifty.handlers.scaling_policy.forecast_models import metric_forecasts
from thrifty.handlers.scaling_policy.policy_reads import namespace_load, query_value
from thrifty.handlers.scaling_policy.step_conclusions import metrics_unavailable, step_start
from thrifty.handlers.status_writer import Conclusions, record_change
from thrifty.sources.prometheus_http import MetricsUnavailableError

__all__ = ["HorizontalResult", "horizontal_step"]


@dataclass
class HorizontalResult:
    """What the horizontal step concluded; None fields were not decided this round (kept as they are)."""

    conditions: Conclusions = field(default_factory=Conclusions)
    replicas: int | None = None
    reason: str | None = None
    utilization: Utilization | None = None
    forecast: Forecast | None = None
    scaling_history: ScalingHistory | None = None
    last_action: LastAction | None = None
    limited_by: str | None = None  # the last bound or rule that held the replicas this round
    acted: bool = False  # a change was attempted, so a pending action was recorded this round


def horizontal_step(
    body: kopf.Body,
    policy: ScalingPolicySpec,
    horizontal: Horizontal,
    status: ScalingPolicyStatus,
    workload: Workload,
    others: list[OtherAutoscaler],
    budget_cap: ReplicaCap | None,
    now: datetime,
    interrupted: ScaleEvent | None,
    decide_at: Workload | None = None,
    resized: LastAction | None = None,
    cost_cap: ReplicaCap | None = None,
) -> HorizontalResult:
    """``interrupted``: a scale an earlier round made but could not record; it counts as a change.
    ``decide_at``: the workload with the requests its pods are to have (CPU requests paired with
    the replicas), which the replicas are decided at; the utilization shown stays today's.
    ``resized``: the resize this round made before, recorded with the scale's pending action.
    ``cost_cap``: governance's cap, from maxHourlyCostPerWorkload."""
    conflicts = horizontal_conflicts(others)
    result = HorizontalResult(step_start(conflicts, policy.mode))
    try:
        load = namespace_load(workload.namespace).workloads.get((workload.kind, workload.name))
        values = {
            name: query_value(metric.query or "", workload.namespace)
            for name, metric in named_metrics(horizontal)
            if metric.type == "Prometheus"
        }
        forecasts: list[MetricForecast] = []
        if horizontal.predictive.enabled:
            forecasts = metric_forecasts(str(body.metadata.uid), horizontal, workload, now.timestamp())
    except MetricsUnavailableError as err:
        consequence = "replicas are left as they are and nothing is scaled down"
        metrics_unavailable(result.conditions, err, consequence, PolicyCondition.PREDICTIVE)
        return result
    readings = readings_for(horizontal, workload, load, values)
    result.conditions.prerequisites.append(metrics_observation(readings))
    result.utilization = readings.utilization
    if decide_at is not None:
        readings = readings_for(horizontal, decide_at, load, values)
    uid = str(body.metadata.uid)
    persisted = state_from(status.scaling_history)
    remembered = horizontal_memory.recall(uid)
    if remembered is None:
        state = resumed_state(persisted, now.timestamp())
    else:
        state = merged_state(remembered, persisted)
    if interrupted is not None:
        state = with_change(state, interrupted)
    current = workload.desired_replicas
    outcome = decide_replicas(
        horizontal, current, readings.readings, state, now.timestamp(), forecasts, budget_cap, cost_cap
    )
    if outcome.predictive is not None:
        result.conditions.informational.append(outcome.predictive)
    result.replicas, result.reason, result.forecast = (
        outcome.decision.replicas,
        outcome.reason,
        outcome.forecast,
    )
    result.limited_by = outcome.decision.limited_by
    applying = policy.mode == "Apply" and not conflicts
    changed = outcome.decision.replicas != current
    if applying and changed:
        result.acted = True
        result.last_action = _scale(body, workload, outcome, now, budget_cap, resized)
        changed = result.last_action is not None
    # Only an applied change is remembered as one: rate limits and cooldowns count real changes.
    kept_events = outcome.decision.state.events if applying and changed else state.events
    decided = HorizontalState(outcome.decision.state.recommendations, kept_events)
    horizontal_memory.remember(uid, decided)
    result.scaling_history = history_from(decided)
    return result


def _scale(
    body: kopf.Body,
    workload: Workload,
    outcome: HorizontalOutcome,
    now: datetime,
    cap: ReplicaCap | None,
    resized: LastAction | None,
) -> LastAction | None:
    before, after = workload.desired_replicas, outcome.decision.replicas
    kind = scale_kind(before, after, outcome.decision.limited_by, cap)
    up = after > before
    action = LastAction(
        time=rfc3339(now.astimezone(UTC)),
        action="ScaleUp" if up else "ScaleDown",
        from_=str(before),
        to=str(after),
        reason=outcome.reason,
    )
    try:
        with counted_action(kind):
            record_pending_action(str(body.metadata.namespace), str(body.metadata.name), action, resized)
            scale_workload(workload.kind, workload.namespace, workload.name, after)
    except ApiException as err:
        post_event(
            body,
            "Warning",
            "ScaleFailed",
            f"could not scale {workload.kind} {workload.name} to {after}: {err.reason}",
        )
        return None
    change = f"{before} -> {after} replicas ({outcome.reason})"
    message = f"scaled {workload.kind} {workload.namespace}/{workload.name}: {change}"
    record_change(body, workload.reference(), "ScaledUp" if up else "ScaledDown", message, change)
    return action
