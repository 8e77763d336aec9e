"""The horizontal half of a ScalingPolicy: read the load (and forecast), decide replicas, scale in Apply mode.

Without an answer from Prometheus nothing is decided: the state in status stays as it was and no
replica is removed. A failed scale is not recorded as a change, so the next round decides again.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import kopf
from kubernetes.client import ApiException

from thrifty.actuators.workload_replicas import scale_workload
from thrifty.api.common import rfc3339
from thrifty.api.conditions import Observation
from thrifty.api.scaling_policy import Horizontal, LastAction, ScalingPolicySpec, ScalingPolicyStatus
from thrifty.engine.conflicts import OtherAutoscaler, horizontal_conflicts
from thrifty.engine.horizontal import HorizontalState
from thrifty.handlers.forecasts import metric_forecasts
from thrifty.handlers.horizontal import (
    HorizontalOutcome,
    MetricForecast,
    evaluate,
    history_from,
    named_metrics,
    readings_for,
    state_from,
)
from thrifty.handlers.part import Part, record_change
from thrifty.handlers.prometheus_reads import namespace_load, query_value
from thrifty.handlers.scaling_vertical import part_with_conflicts
from thrifty.sources.prometheus_http import MetricsUnavailableError
from thrifty.sources.workloads import Workload


def horizontal_part(
    body: kopf.Body,
    policy: ScalingPolicySpec,
    horizontal: Horizontal,
    status: ScalingPolicyStatus,
    workload: Workload,
    others: list[OtherAutoscaler],
    budget_cap: tuple[int, str] | None,
) -> Part:
    conflicts = horizontal_conflicts(others)
    part = part_with_conflicts(conflicts, policy.mode)
    try:
        load = namespace_load(workload.namespace).workloads.get((workload.kind, workload.name))
        values = {
            name: query_value(metric.query or "")
            for name, metric in named_metrics(horizontal)
            if metric.type == "Prometheus"
        }
        forecasts: list[MetricForecast] = []
        if horizontal.predictive.enabled:
            forecasts = metric_forecasts(str(body.metadata.uid), horizontal, workload)
    except MetricsUnavailableError as err:
        part.prerequisites.append(
            Observation(
                "MetricsAvailable",
                "False",
                "PrometheusUnavailable",
                f"{err}; replicas are left as they are and nothing is scaled down",
            )
        )
        return part
    readings = readings_for(horizontal, workload, load, values)
    part.prerequisites.append(_live_metrics(readings.notes, len(readings.readings)))
    part.fields["current_utilization"] = readings.utilization
    state = state_from(status.scaling_history)
    current = workload.desired_replicas
    outcome = evaluate(horizontal, current, readings.readings, state, time.time(), forecasts, budget_cap)
    if outcome.predictive is not None:
        part.informational.append(outcome.predictive)
    part.fields.update({"replicas": outcome.decision.replicas, "replicas_reason": outcome.reason})
    if outcome.forecast is not None:
        part.fields["forecast"] = outcome.forecast
    applying = policy.mode == "Apply" and not conflicts
    changed = outcome.decision.replicas != current
    if applying and changed and not _scale(body, workload, outcome, part):
        changed = False
    # Only an applied change is remembered as one: rate limits and cooldowns count real changes.
    kept_events = outcome.decision.state.events if applying and changed else state.events
    part.fields["scaling_history"] = history_from(
        HorizontalState(outcome.decision.state.recommendations, kept_events)
    )
    return part


def _live_metrics(notes: tuple[str, ...], count: int) -> Observation:
    if len(notes) == count:
        return Observation(
            "MetricsAvailable", "False", "NoData", "; ".join(notes) + "; replicas are left as they are"
        )
    if notes:
        return Observation(
            "MetricsAvailable",
            "True",
            "PartialData",
            "; ".join(notes) + "; no scale-down while a metric is missing",
        )
    return Observation("MetricsAvailable", "True", "MetricsRead", "every metric has a value now")


def _scale(body: kopf.Body, workload: Workload, outcome: HorizontalOutcome, part: Part) -> bool:
    before, after = workload.desired_replicas, outcome.decision.replicas
    try:
        scale_workload(workload.kind, workload.namespace, workload.name, after)
    except ApiException as err:
        kopf.warn(
            body,
            reason="ScaleFailed",
            message=f"could not scale {workload.kind} {workload.name} to {after}: {err.reason}",
        )
        return False
    action = "ScaleUp" if after > before else "ScaleDown"
    change = f"{before} -> {after} replicas ({outcome.reason})"
    message = f"scaled {workload.kind} {workload.namespace}/{workload.name}: {change}"
    record_change(body, workload, "ScaledUp" if after > before else "ScaledDown", message, change)
    part.fields["last_action"] = LastAction(
        time=rfc3339(datetime.now(UTC)),
        action=action,
        from_=str(before),
        to=str(after),
        reason=outcome.reason,
    )
    return True
