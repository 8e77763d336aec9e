"""Forecasts of a policy's metrics: demand history from Prometheus, a model refitted every
``REFIT_SECONDS``.

A model is refitted every 15 minutes (as ``thrifty simulate`` does), with its headroom calibrated
for the policy's ``targetShortfallPercent`` at the capacity a replica has now, and kept in memory
between: losing it on a restart costs one fit. The forecast itself is recomputed every round from
fresh history.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from thrifty.api.scaling_policy import Horizontal
from thrifty.engine.forecast import ForecastError, ForecastModel, fit_forecast
from thrifty.engine.policy_replicas import MetricForecast, named_metrics
from thrifty.engine.predictive import REFIT_SECONDS, forecast_floor, steering_error
from thrifty.engine.workload_records import DemandHistory, Resource, Workload
from thrifty.handlers.scaling_policy.policy_reads import query_history, workload_demand

__all__ = ["metric_forecasts"]


@dataclass(frozen=True)
class _Fitted:
    at: float
    settings: tuple[object, ...]
    model: ForecastModel
    error: ForecastError


_MODELS: dict[tuple[str, str], _Fitted] = {}
_LOCK = threading.Lock()


def metric_forecasts(
    policy_uid: str, horizontal: Horizontal, workload: Workload, now: float
) -> list[MetricForecast]:
    """One forecast per metric with history; raises MetricsUnavailableError when Prometheus fails."""
    predictive = horizontal.predictive
    forecasts = []
    for name, metric in named_metrics(horizontal):
        if metric.type == "Prometheus":
            history: DemandHistory | None = query_history(
                metric.query or "", workload.namespace, predictive.lookback_hours
            )
            capacity = metric.target_per_replica
        else:
            resource: Resource = "cpu" if name == "cpu" else "memory"
            demand = workload_demand(workload.namespace, resource, predictive.lookback_hours)
            history = demand.get((workload.kind, workload.name))
            capacity = workload.pod_request(resource)
        if history is None or capacity is None:
            continue
        fitted = _fitted(policy_uid, name, horizontal, history, capacity, now)
        floor = forecast_floor(
            fitted.model, history.times, history.values, now, predictive.lead_time_seconds, capacity
        )
        forecasts.append(MetricForecast(name, fitted.model, fitted.error, floor))
    return forecasts


def _fitted(
    uid: str, metric: str, horizontal: Horizontal, history: DemandHistory, capacity: float, now: float
) -> _Fitted:
    predictive = horizontal.predictive
    shortfall = predictive.target_shortfall_percent / 100
    settings = (predictive.lookback_hours, predictive.lead_time_seconds, predictive.seasonality,
                predictive.max_forecast_error, shortfall, capacity)  # fmt: skip
    with _LOCK:
        known = _MODELS.get((uid, metric))
    if known is not None and known.settings == settings and now - known.at < REFIT_SECONDS:
        return known
    model = fit_forecast(
        history.times, history.values, lead_seconds=predictive.lead_time_seconds,
        seasonality=predictive.seasonality, lookback_seconds=predictive.lookback_hours * 3600.0,
        now=now, shortfall=shortfall, capacity_per_replica=capacity,
    )  # fmt: skip
    error = steering_error(
        model, history.times, history.values, max_error=predictive.max_forecast_error, now=now
    )
    fitted = _Fitted(now, settings, model, error)
    with _LOCK:
        _MODELS[(uid, metric)] = fitted
    return fitted
