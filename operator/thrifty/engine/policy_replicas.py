"""Replicas for one ScalingPolicy's workload: API spec -> HPA settings, load -> readings, and the
decision with the schedules' bounds, the forecast's floor while it steers, and a budget's cap; plus
the MetricsAvailable and Predictive conditions it comes with.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from thrifty.api.condition_types import PolicyCondition, PolicyReason
from thrifty.api.conditions import Observation
from thrifty.api.scaling_policy import Forecast, Horizontal, Metric, Utilization
from thrifty.api.scaling_policy import ScalingRules as ApiScalingRules
from thrifty.engine.budget_caps import ReplicaCap
from thrifty.engine.forecast import ForecastError, ForecastModel
from thrifty.engine.horizontal import (
    HorizontalDecision,
    HorizontalSettings,
    HorizontalState,
    MetricReading,
    RatePolicy,
    ScalingRules,
    decide,
)
from thrifty.engine.paired_requests import Pairing
from thrifty.engine.predictive import ForecastFloor, steering_settings
from thrifty.engine.scaling_history import stamp
from thrifty.engine.schedules import ScheduleWindow, active_bounds
from thrifty.engine.workload_records import QueryAnswer, Resource, Workload, WorkloadLoad

__all__ = [
    "DEFAULT_METRICS",
    "HorizontalOutcome",
    "MetricForecast",
    "MissingReading",
    "Readings",
    "decide_replicas",
    "metrics_observation",
    "named_metrics",
    "pairing_for",
    "readings_for",
    "settings_from",
]

# The HPA's default when a policy names no metric.
DEFAULT_METRICS = (Metric(type="CPU", target_utilization=80),)
FORECAST_LABEL = "forecast"


def named_metrics(horizontal: Horizontal) -> list[tuple[str, Metric]]:
    """(name, metric): cpu, memory, query (query-2, ... when there are several)."""
    named: list[tuple[str, Metric]] = []
    queries = 0
    for metric in horizontal.metrics or DEFAULT_METRICS:
        if metric.type == "Prometheus":
            queries += 1
            named.append(("query" if queries == 1 else f"query-{queries}", metric))
        else:
            named.append((metric.type.lower(), metric))
    return named


def settings_from(horizontal: Horizontal) -> HorizontalSettings:
    def rules(api: ApiScalingRules) -> ScalingRules:
        return ScalingRules(
            stabilization_window_seconds=api.stabilization_window_seconds,
            policies=tuple(RatePolicy(p.type, p.value, p.period_seconds) for p in api.policies),
            select_policy=api.select_policy,
            cooldown_seconds=api.cooldown_seconds,
        )

    return HorizontalSettings(
        min_replicas=horizontal.min_replicas,
        max_replicas=horizontal.max_replicas,
        tolerance=horizontal.tolerance,
        scale_up=rules(horizontal.behavior.scale_up),
        scale_down=rules(horizontal.behavior.scale_down),
    )


def windows_from(horizontal: Horizontal) -> list[ScheduleWindow]:
    return [
        ScheduleWindow(s.name, s.time_zone, tuple(s.days), s.start, s.end, s.min_replicas, s.max_replicas)
        for s in horizontal.schedules
    ]


@dataclass(frozen=True)
class MissingReading:
    """Why one metric gives no reading (or only an upward one) this round."""

    reason: str  # a PolicyReason, shown in MetricsAvailable
    note: str


@dataclass(frozen=True)
class Readings:
    readings: tuple[MetricReading, ...]
    utilization: Utilization
    missing: tuple[MissingReading, ...]  # one per metric without a full reading

    @property
    def notes(self) -> tuple[str, ...]:
        return tuple(m.note for m in self.missing)


def pairing_for(
    horizontal: Horizontal, load: WorkloadLoad | None, replicas_now: int, steering: bool = False
) -> Pairing | None:
    """What right-sizing pairs CPU requests with: the CPU target, the replica range, the CPU in use
    now and the replicas it is spread over; None when the policy does not scale on CPU utilization
    or no pod has a reading yet. While a forecast steers, the replicas are read at full capacity with
    no tolerance (``engine.predictive``), so the pair is too."""
    cpu = next((m for _, m in named_metrics(horizontal) if m.type == "CPU"), None)
    if cpu is None or cpu.target_utilization is None or load is None or load.cpu_pods == 0:
        return None
    replica_range = (horizontal.min_replicas, horizontal.max_replicas)
    if steering:
        return Pairing(1.0, replica_range, load.cpu_cores, replicas_now, 0.0, steering=True)
    target = cpu.target_utilization / 100
    return Pairing(target, replica_range, load.cpu_cores, replicas_now, horizontal.tolerance)


def readings_for(
    horizontal: Horizontal,
    workload: Workload,
    load: WorkloadLoad | None,
    query_answers: Mapping[str, QueryAnswer],
) -> Readings:
    """usage/target per metric: utilization over the pods with a sample, as the HPA averages it; a
    query's value over (targetPerReplica x replicas).

    A CPU reading that covers fewer pods than it is divided by (pods without samples yet, or
    Prometheus back from a restart) may scale up, as the HPA counts such pods at 0%, but never down:
    what the missing pods use is unknown."""
    readings: list[MetricReading] = []
    missing: list[MissingReading] = []
    percent: dict[str, float] = {}
    for name, metric in named_metrics(horizontal):
        ratio: float | None = None
        if metric.type == "Prometheus":
            answer = query_answers.get(name) or QueryAnswer(
                None, PolicyReason.QUERY_RETURNED_NOTHING, "no answer"
            )
            target = metric.target_per_replica or 1.0
            current = workload.desired_replicas
            if answer.value is None:
                missing.append(
                    MissingReading(answer.problem or PolicyReason.NO_DATA, f"{name}: {answer.detail}")
                )
            else:
                ratio = answer.value / target if current == 0 else answer.value / (target * current)
        else:
            resource: Resource = "cpu" if name == "cpu" else "memory"
            request = workload.pod_request(resource)
            used, pods = _used(load, resource)
            divided_by = workload.replicas if resource == "cpu" and pods and workload.replicas else pods
            if request is None:
                missing.append(
                    MissingReading(
                        PolicyReason.NO_REQUEST,
                        f"{resource}: every container needs a {resource} request to compute utilization",
                    )
                )
            elif pods == 0 or not math.isfinite(used):
                missing.append(
                    MissingReading(
                        PolicyReason.NO_DATA,
                        f"{resource}: Prometheus has no usage sample for the workload's pods now",
                    )
                )
            else:
                # The window's load is spread over the pods there are now, as the next window's will be.
                percent[resource] = 100.0 * used / (divided_by * request)
                ratio = percent[resource] / float(metric.target_utilization or 100)
                short = _short_of_samples(load, resource, pods, divided_by)
                if short is not None and ratio < 1.0:
                    missing.append(MissingReading(PolicyReason.PARTIAL_DATA, f"{resource}: {short}"))
                    ratio = None
        readings.append(MetricReading(name, ratio))
    utilization = Utilization(
        cpu_percent=_rounded(percent.get("cpu")), memory_percent=_rounded(percent.get("memory"))
    )
    return Readings(tuple(readings), utilization, tuple(missing))


def _short_of_samples(load: WorkloadLoad | None, resource: str, pods: int, divided_by: int) -> str | None:
    """Why a CPU reading is partial, or None when it covers its pods and its whole window."""
    if resource != "cpu" or load is None:
        return None
    if pods < divided_by:
        return f"samples from {pods} of {divided_by} pods; no scale-down on a partial reading"
    if load.cpu_window_samples < load.cpu_window_samples_expected:
        return (
            f"{load.cpu_window_samples} of {load.cpu_window_samples_expected} samples over the last two rate "
            "windows (a pod too young, or Prometheus missed scrapes); no scale-down on a partial reading"
        )
    return None


def metrics_observation(readings: Readings) -> Observation:
    """MetricsAvailable for horizontal scaling: every metric read, some missing, or none. A single
    missing metric gives its own reason; several give PartialData, or the first one's reason when
    none is left to scale on."""
    kind, missing = PolicyCondition.METRICS_AVAILABLE, readings.missing
    notes = "; ".join(readings.notes)
    usable = sum(r.usage_ratio is not None for r in readings.readings)
    if not missing:
        return Observation(kind, "True", PolicyReason.METRICS_READ, "every metric has a value now")
    unknown = [m for m in missing if m.reason != PolicyReason.PARTIAL_DATA]
    if usable == 0 and unknown:
        return Observation(kind, "False", unknown[0].reason, f"{notes}; replicas are left as they are")
    reason = missing[0].reason if len(missing) == 1 else PolicyReason.PARTIAL_DATA
    return Observation(kind, "True", reason, f"{notes}; no scale-down while a metric is missing")


def _used(load: WorkloadLoad | None, resource: str) -> tuple[float, int]:
    if load is None:
        return math.nan, 0
    return (load.cpu_cores, load.cpu_pods) if resource == "cpu" else (load.memory_bytes, load.memory_pods)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


@dataclass(frozen=True)
class MetricForecast:
    """One metric's forecast: the fitted model, its recent error, and the floor it asks for now."""

    metric: str
    model: ForecastModel
    error: ForecastError
    floor: ForecastFloor | None


@dataclass(frozen=True)
class HorizontalOutcome:
    decision: HorizontalDecision
    reason: str  # for status.recommendation.reason and Events
    forecast: Forecast | None
    predictive: Observation | None  # the Predictive condition, when predictive scaling is enabled


def decide_replicas(
    horizontal: Horizontal,
    current_replicas: int,
    readings: Sequence[MetricReading],
    state: HorizontalState,
    now: float,
    forecasts: Sequence[MetricForecast] = (),
    budget_cap: ReplicaCap | None = None,
    cost_cap: ReplicaCap | None = None,
) -> HorizontalOutcome:
    """decide() with the schedules' bounds, the forecast's floor while it steers, a budget's cap and
    governance's hourly cost cap (the lowest cap holds)."""
    settings = settings_from(horizontal)
    floor, cap, names = active_bounds(windows_from(horizontal), now)
    floor_label = cap_label = None
    steering = [f for f in forecasts if f.error.steering and f.floor is not None]
    best = max(steering, key=lambda f: f.floor.replicas if f.floor else 0, default=None)
    if best is not None and best.floor is not None:
        settings = steering_settings(settings, horizontal.predictive.lead_time_seconds)
        readings = at_full_capacity(horizontal, readings)
        if floor is None or best.floor.replicas > floor:
            floor, floor_label = best.floor.replicas, f"{FORECAST_LABEL} of {best.metric}"
    for bound in (budget_cap, cost_cap):
        if bound is not None and (cap is None or bound[0] < cap):
            cap, cap_label = bound
    decision = decide(
        current_replicas,
        readings,
        settings,
        state,
        now,
        floor=floor,
        cap=cap,
        schedule_names=names,
        floor_label=floor_label,
        cap_label=cap_label,
    )
    driver = "predictive" if floor_label and decision.replicas > decision.desired else "reactive"
    shown = best or (forecasts[0] if forecasts else None)
    return HorizontalOutcome(
        decision=decision,
        reason=f"{driver}: {decision.reason}",
        forecast=_forecast_status(shown) if horizontal.predictive.enabled else None,
        predictive=_predictive(forecasts) if horizontal.predictive.enabled else None,
    )


def at_full_capacity(horizontal: Horizontal, readings: Sequence[MetricReading]) -> list[MetricReading]:
    """Readings against the pods' full requests rather than the target utilization, as a steering
    forecast sizes them (``engine.predictive``); a PromQL metric's targetPerReplica is already the
    capacity its forecast sizes for."""
    targets = {
        name: metric.target_utilization / 100
        for name, metric in named_metrics(horizontal)
        if metric.type != "Prometheus" and metric.target_utilization is not None
    }
    return [
        MetricReading(r.name, r.usage_ratio * targets[r.name])
        if r.usage_ratio is not None and r.name in targets
        else r
        for r in readings
    ]


def _forecast_status(forecast: MetricForecast | None) -> Forecast | None:
    if forecast is None:
        return None
    floor = forecast.floor
    error = forecast.error.mape
    return Forecast(
        peak_replicas=None if floor is None else floor.replicas,
        peak_at=None if floor is None else stamp(floor.peak_at),
        recent_error=round(error, 4) if math.isfinite(error) else None,
        seasonality=forecast.model.seasonality,
        steering=forecast.error.steering,
        metric=forecast.metric,
        reason=forecast.error.reason if floor is None else f"{forecast.error.reason}; {floor.reason}",
    )


def _predictive(forecasts: Sequence[MetricForecast]) -> Observation:
    kind = PolicyCondition.PREDICTIVE
    if not forecasts:
        return Observation(
            kind, "False", PolicyReason.NO_FORECAST, "no metric history to forecast; scaling is reactive"
        )
    steering = [f for f in forecasts if f.error.steering]
    if steering:
        detail = "; ".join(f"{f.metric}: {f.error.reason}" for f in steering)
        return Observation(kind, "True", PolicyReason.STEERING, detail)
    unusable = [f for f in forecasts if not f.model.usable or not math.isfinite(f.error.mape)]
    if len(unusable) == len(forecasts):
        detail = "; ".join(
            f"{f.metric}: {f.error.reason if f.model.usable else f.model.reason}" for f in unusable
        )
        return Observation(kind, "False", PolicyReason.INSUFFICIENT_HISTORY, f"{detail}; scaling is reactive")
    detail = "; ".join(f"{f.metric}: {f.error.reason}" for f in forecasts)
    return Observation(kind, "False", PolicyReason.FORECAST_INACCURATE, f"{detail}; scaling is reactive")
