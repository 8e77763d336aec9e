"""ResourceBudget: spend for the scope and period from Prometheus, the forecast, thresholds that fire
once per period, anomalies, and the enforcement ScalingPolicies read from status.

Without an answer from Prometheus the budget keeps its last numbers, says they are stale, and asks
no workload to scale down.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import Any

import kopf

from thrifty import GROUP, VERSION
from thrifty.api.common import rfc3339
from thrifty.api.conditions import Observation
from thrifty.api.resource_budget import (
    BudgetScope,
    EnforcementStatus,
    FiredThreshold,
    ResourceBudgetSpec,
    ResourceBudgetStatus,
    Webhook,
)
from thrifty.engine.budget import (
    budget_state,
    daily_anomaly,
    daily_totals,
    enforcement_decision,
    forecast_end_of_period,
    period_bounds,
    thresholds_to_fire,
    utilization_percent,
)
from thrifty.handlers import budget_indexes
from thrifty.handlers.budget_alerts import Alerts, publish_metrics
from thrifty.handlers.budget_enforcement import scale_down_workloads
from thrifty.handlers.budget_spend import BudgetSpend, budget_spend
from thrifty.handlers.config import RESYNC_SECONDS
from thrifty.handlers.prices import current_price_book
from thrifty.handlers.status import publish
from thrifty.handlers.workloads import find_workload
from thrifty.sources.kube import secret_has_key
from thrifty.sources.prometheus_http import MetricsUnavailableError

RESOURCE = (GROUP, VERSION, "resourcebudgets")
STALE_AFTER_SECONDS = 600.0


@kopf.on.resume(*RESOURCE)
@kopf.on.create(*RESOURCE)
@kopf.on.update(*RESOURCE, field="spec")
@kopf.timer(*RESOURCE, interval=RESYNC_SECONDS, initial_delay=RESYNC_SECONDS)
def reconcile_resource_budget(
    body: kopf.Body, spec: kopf.Spec, name: str, patch: kopf.Patch, **kwargs: Any
) -> None:
    budget = ResourceBudgetSpec.model_validate(dict(spec))
    status = ResourceBudgetStatus.model_validate(body.get("status") or {})
    now = time.time()
    start, end = period_bounds(
        now, budget.period, budget.period_start.time_zone, budget.period_start.day_of_month,
        budget.period_start.day_of_week,
    )  # fmt: skip
    period_start = rfc3339(datetime.fromtimestamp(start, UTC))
    new_period = status.period_start != period_start
    fired = [] if new_period else list(status.fired_thresholds)
    namespaces = resolve_namespaces(budget.scope, kwargs["namespace_labels"])
    prerequisites = [_webhook_ready(budget.webhook)]
    informational: list[Observation] = []
    fields: dict[str, Any] = {
        "period_start": period_start,
        "period_end": rfc3339(datetime.fromtimestamp(end, UTC)),
        "namespaces": list(namespaces),
        "fired_thresholds": fired,
    }

    def in_scope(namespace: str, kind: str, workload: str) -> bool:
        selector = budget.scope.workload_selector
        if selector is None:
            return True
        found = find_workload([kwargs["deployments"], kwargs["statefulsets"]], kind, namespace, workload)
        return found is not None and selector.matches(found.labels)

    alerts = Alerts(body, name, budget)
    try:
        spend = budget_spend(name, namespaces, in_scope, start, current_price_book(kwargs["cost_policies"]))
    except MetricsUnavailableError as err:
        prerequisites.append(
            Observation(
                "SpendKnown", "False", "PrometheusUnavailable",
                f"{err}; the last numbers are kept (data as of {status.data_as_of or 'never'}) and no "
                "workload is scaled down",
            )
        )  # fmt: skip
        fields["stale"] = True
        if status.enforcement is not None:
            fields["enforcement"] = status.enforcement.model_copy(update={"workloads": []})
        publish_metrics(name, budget, status.model_copy(update=fields), stale=True)
        _publish(body, patch, budget, prerequisites, informational, fields)
        return
    spent = spend.spent_between(start, now)
    forecast = forecast_end_of_period(
        spend.times, spend.step_spend, start, end, now, step_seconds=spend.step_seconds
    )
    utilization = utilization_percent(spent, budget.amount)
    already = {f.percent for f in fired}
    for percent in thresholds_to_fire(budget.thresholds, utilization, already):
        fired.append(FiredThreshold(percent=percent, fired_at=rfc3339(datetime.now(UTC))))
        alerts.threshold(percent, spent, forecast.total, period_start)
    # No sample at all is a scope without containers (spend 0), not stale data.
    # The newest grid point lags now by up to a step, so staleness is judged past two steps of it.
    stale = (
        spend.data_as_of is not None and now - spend.data_as_of > STALE_AFTER_SECONDS + 2 * spend.step_seconds
    )
    decision = enforcement_decision(budget.enforcement, spent, forecast.total, budget.amount)
    workloads = []
    if decision.scale_down:
        workloads = scale_down_workloads(spend, namespaces, in_scope, kwargs)
    fields.update(
        spent=round(spent, 4),
        forecast=round(forecast.total, 4),
        forecast_method=forecast.method,
        utilization_percent=round(utilization, 1) if math.isfinite(utilization) else None,
        remaining=round(budget.amount - spent, 4),
        fired_thresholds=sorted(fired, key=lambda f: f.percent),
        state=budget_state(spent, forecast.total, budget.amount, {f.percent for f in fired}),
        data_as_of=None
        if spend.data_as_of is None
        else rfc3339(datetime.fromtimestamp(spend.data_as_of, UTC)),
        stale=stale,
        enforcement=EnforcementStatus(
            active=decision.block_scale_up or decision.scale_down, reason=decision.reason, workloads=workloads
        ),
    )
    prerequisites.append(_spend_known(spend, spent, stale, budget.currency, forecast.reason))
    informational += _alert_conditions(budget, spent, forecast.total, fired)
    informational.append(alerts.anomaly(_anomaly(spend, budget.period_start.time_zone, now), status))
    publish_metrics(name, budget, ResourceBudgetStatus.model_validate({}).model_copy(update=fields), stale)
    _publish(body, patch, budget, prerequisites, informational, fields)


def resolve_namespaces(scope: BudgetScope, index: kopf.Index[Any, Any]) -> tuple[str, ...]:
    if scope.namespaces is not None:
        return tuple(sorted(scope.namespaces))
    selector = scope.namespace_selector
    found = [
        ns for ns in index if selector is None or selector.matches(budget_indexes.first(index, ns) or {})
    ]
    return tuple(sorted(found))


def _publish(
    body: kopf.Body,
    patch: kopf.Patch,
    budget: ResourceBudgetSpec,
    prerequisites: list[Observation],
    informational: list[Observation],
    fields: dict[str, Any],
) -> None:
    publish(
        body,
        patch,
        ResourceBudgetStatus,
        prerequisites,
        ready=("Tracking", f"{budget.amount:g} {budget.currency} per {budget.period.lower()} period"),
        fields=fields,
        informational=informational,
    )


def _spend_known(spend: BudgetSpend, spent: float, stale: bool, currency: str, forecast: str) -> Observation:
    notes = "; ".join(spend.notes)
    if stale:
        return Observation(
            "SpendKnown",
            "False",
            "StaleData",
            f"the newest cost sample is old{': ' + notes if notes else ''}; no workload is scaled down",
        )
    if spend.data_as_of is None:
        return Observation(
            "SpendKnown",
            "True",
            "NoContainers",
            f"no container in scope has cost samples, spend is 0 ({notes})",
        )
    return Observation(
        "SpendKnown",
        "True",
        "SpendComputed",
        f"{spent:.2f} {currency} spent by {spend.containers} containers; {forecast}",
    )


def _alert_conditions(
    budget: ResourceBudgetSpec, spent: float, forecast: float, fired: list[FiredThreshold]
) -> list[Observation]:
    amount = f"{budget.amount:g} {budget.currency}"
    overrun = forecast > budget.amount
    exceeded = spent > 0 and spent >= budget.amount
    reached = ", ".join(f"{f.percent}%" for f in sorted(fired, key=lambda f: f.percent))
    return [
        Observation(
            "ForecastOverrun",
            "True" if overrun else "False",
            "ForecastOverrun" if overrun else "ForecastWithinBudget",
            f"forecast {forecast:.2f} for the period against {amount}",
        ),
        Observation(
            "Exceeded",
            "True" if exceeded else "False",
            "Exceeded" if exceeded else "WithinBudget",
            f"spent {spent:.2f} of {amount}",
        ),
        Observation(
            "ThresholdReached",
            "True" if fired else "False",
            "ThresholdReached" if fired else "NoThresholdReached",
            f"fired this period: {reached}" if fired else "no threshold reached this period",
        ),
    ]


def _anomaly(spend: BudgetSpend, time_zone: str, now: float) -> Any:
    _, totals = daily_totals(spend.times, spend.step_spend, time_zone, now)
    return daily_anomaly(totals) if len(totals) else None


def _webhook_ready(webhook: Webhook | None) -> Observation:
    if webhook is None:
        return Observation("WebhookReady", "True", "NoWebhook", "no webhook configured")
    ref = webhook.secret_ref
    where = f"key {ref.key!r} of Secret {ref.namespace}/{ref.name}"
    found = secret_has_key(ref.namespace, ref.name, ref.key)
    if found is None:
        return Observation("WebhookReady", "Unknown", "SecretUnreadable", f"could not read {where}")
    if not found:
        return Observation("WebhookReady", "False", "WebhookSecretNotFound", f"{where} does not exist")
    return Observation("WebhookReady", "True", "WebhookSecretFound", f"webhook URL is in {where}")
