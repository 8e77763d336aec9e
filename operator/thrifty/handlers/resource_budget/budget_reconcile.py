"""ResourceBudget: the one reconcile of a budget, in the order its steps run.

1. the period now, and the namespaces the scope covers;
2. the webhook's Secret (WebhookReady);
3. spend for the period from Prometheus (SpendKnown), or the last numbers marked stale;
4. the forecast, thresholds that fire once per period (Events, webhook), anomalies;
5. enforcement, which ScalingPolicies read back from this status;
6. publish status and gauges.

Without an answer from Prometheus the budget keeps its last numbers, says they are stale, and asks
no workload to scale down.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import kopf

from thrifty import GROUP, VERSION
from thrifty.api.common import rfc3339
from thrifty.api.condition_types import (
    INVALID_SPEC,
    RESOURCE_BUDGET_CONDITIONS,
    BudgetCondition,
    BudgetReason,
)
from thrifty.api.conditions import Observation
from thrifty.api.resource_budget import (
    EnforcementStatus,
    FiredThreshold,
    ResourceBudgetSpec,
    ResourceBudgetStatus,
)
from thrifty.engine.budget import (
    budget_state,
    enforcement_decision,
    forecast_end_of_period,
    period_bounds,
    thresholds_to_fire,
    utilization_percent,
)
from thrifty.engine.budget_status import (
    alert_conditions,
    anomaly_condition,
    resolve_namespaces,
    spend_anomaly,
    spend_known,
    webhook_condition,
)
from thrifty.engine.spec_checks import budget_spec_problems
from thrifty.engine.workload_prices import active_price_book
from thrifty.handlers.cluster_indexes import cost_policy_specs, find_workload, first
from thrifty.handlers.operator_metrics import RESOURCE_BUDGET, timed_reconcile
from thrifty.handlers.resource_budget.budget_alerts import Alerts
from thrifty.handlers.resource_budget.budget_metrics import publish_metrics
from thrifty.handlers.resource_budget.scale_down import scale_down_workloads
from thrifty.handlers.resource_budget.spend_reads import budget_spend
from thrifty.handlers.status_writer import Conclusions, committed, publish, reconcile_guard, stalled
from thrifty.settings import RESYNC_SECONDS
from thrifty.sources.kube import secret_has_key
from thrifty.sources.prometheus_http import MetricsUnavailableError

__all__ = ["reconcile_resource_budget"]

RESOURCE = (GROUP, VERSION, "resourcebudgets")
# Kept while Prometheus cannot answer: they describe the last numbers, which status still shows.
_KEPT_WHILE_STALE = {
    BudgetCondition.FORECAST_OVERRUN,
    BudgetCondition.EXCEEDED,
    BudgetCondition.THRESHOLD_REACHED,
    BudgetCondition.SPEND_ANOMALY,
}


@kopf.on.resume(*RESOURCE)
@kopf.on.create(*RESOURCE)
@kopf.on.update(*RESOURCE, field="spec")
@kopf.timer(*RESOURCE, interval=RESYNC_SECONDS, initial_delay=RESYNC_SECONDS)
@timed_reconcile(RESOURCE_BUDGET)
@committed("resourcebudgets")
@reconcile_guard(RESOURCE_BUDGET_CONDITIONS, ResourceBudgetStatus)
def reconcile_resource_budget(
    body: kopf.Body, spec: kopf.Spec, name: str, patch: kopf.Patch, **indexes: Any
) -> None:
    budget = ResourceBudgetSpec.model_validate(dict(spec))
    status = ResourceBudgetStatus.model_validate(body.get("status") or {})
    problems = budget_spec_problems(budget)
    if problems:
        conclusions = stalled(INVALID_SPEC, "; ".join(problems))
        conclusions.kept |= set(RESOURCE_BUDGET_CONDITIONS.types)
        _publish(body, patch, budget, status, conclusions)
        return
    now = datetime.now(UTC).timestamp()
    start, end = period_bounds(
        now, budget.period, budget.period_start.time_zone, budget.period_start.day_of_month,
        budget.period_start.day_of_week,
    )  # fmt: skip
    period_start = rfc3339(datetime.fromtimestamp(start, UTC))
    fired = [] if status.period_start != period_start else list(status.fired_thresholds)
    labels = {ns: first(indexes["namespace_labels"], ns) or {} for ns in indexes["namespace_labels"]}
    namespaces = resolve_namespaces(budget.scope, labels)
    conclusions = Conclusions(prerequisites=[_webhook_ready(budget)])
    period_end = rfc3339(datetime.fromtimestamp(end, UTC))

    def in_scope(namespace: str, kind: str, workload: str) -> bool:
        selector = budget.scope.workload_selector
        if selector is None:
            return True
        found = find_workload(indexes, kind, namespace, workload)
        return found is not None and selector.matches(found.labels)

    alerts = Alerts(body, name, budget)
    book = active_price_book(cost_policy_specs(indexes))
    unknown = None
    try:
        spend = budget_spend(name, namespaces, in_scope, start, book)
    except MetricsUnavailableError as err:
        unknown = Observation(
            BudgetCondition.SPEND_KNOWN, "False", BudgetReason.PROMETHEUS_UNAVAILABLE,
            f"{err}; the last numbers are kept (data as of {status.data_as_of or 'never'}) and no "
            "workload is scaled down",
        )  # fmt: skip
    else:
        spent = spend.spent_between(start, now)
        forecast = forecast_end_of_period(
            spend.times, spend.step_spend, start, end, now, step_seconds=spend.step_seconds
        )
        if not (math.isfinite(spent) and math.isfinite(forecast.total)):
            unknown = Observation(
                BudgetCondition.SPEND_KNOWN, "False", BudgetReason.NON_FINITE_SPEND,
                f"spend came out as {spent} (forecast {forecast.total}): check the CostPolicy's prices; "
                "the last numbers are kept and no threshold fires",
            )  # fmt: skip
    if unknown is not None:
        conclusions.prerequisites.append(unknown)
        conclusions.kept |= _KEPT_WHILE_STALE
        desired = _last_numbers(status, period_start, period_end, fired, namespaces)
        publish_metrics(name, budget, desired, stale=True)
        _publish(body, patch, budget, desired, conclusions)
        return
    utilization = utilization_percent(spent, budget.amount)
    for percent in thresholds_to_fire(budget.thresholds, utilization, {f.percent for f in fired}):
        fired.append(FiredThreshold(percent=percent, fired_at=rfc3339(datetime.fromtimestamp(now, UTC))))
        alerts.threshold(percent, spent, forecast.total, period_start)
    stale = spend.stale_at(now)
    decision = enforcement_decision(budget.enforcement, spent, forecast.total, budget.amount)
    workloads = scale_down_workloads(spend, namespaces, in_scope, indexes) if decision.scale_down else []
    desired = ResourceBudgetStatus(
        period_start=period_start,
        period_end=period_end,
        spent=round(spent, 4),
        forecast=round(forecast.total, 4),
        hourly_rate=None if (rate := spend.latest_hourly_rate()) is None else round(rate, 4),
        forecast_method=forecast.method,
        utilization_percent=round(utilization, 1) if math.isfinite(utilization) else None,
        remaining=round(budget.amount - spent, 4),
        fired_thresholds=sorted(fired, key=lambda f: f.percent),
        state=budget_state(spent, forecast.total, budget.amount, {f.percent for f in fired}),
        data_as_of=None
        if spend.data_as_of is None
        else rfc3339(datetime.fromtimestamp(spend.data_as_of, UTC)),
        stale=stale,
        namespaces=list(namespaces),
        enforcement=EnforcementStatus(
            active=decision.block_scale_up or decision.scale_down, reason=decision.reason, workloads=workloads
        ),
    )
    anomaly = spend_anomaly(spend, budget.period_start.time_zone, now)
    alerts.anomaly(anomaly, status)
    conclusions.prerequisites.append(spend_known(spend, spent, stale, budget.currency, forecast.reason))
    conclusions.informational += [
        *alert_conditions(budget, spent, forecast.total, fired),
        anomaly_condition(anomaly),
    ]
    publish_metrics(name, budget, desired, stale)
    _publish(body, patch, budget, desired, conclusions)


def _last_numbers(
    status: ResourceBudgetStatus,
    period_start: str,
    period_end: str,
    fired: list[FiredThreshold],
    namespaces: tuple[str, ...],
) -> ResourceBudgetStatus:
    """The numbers of the last round that had them, marked stale."""
    held = status.enforcement
    return ResourceBudgetStatus(
        period_start=period_start,
        period_end=period_end,
        spent=status.spent,
        forecast=status.forecast,
        hourly_rate=status.hourly_rate,
        forecast_method=status.forecast_method,
        utilization_percent=status.utilization_percent,
        remaining=status.remaining,
        fired_thresholds=fired,
        state=status.state,
        data_as_of=status.data_as_of,
        stale=True,
        namespaces=list(namespaces),
        # Still holding scale-ups, but asking nothing to scale down on missing data.
        enforcement=None if held is None else EnforcementStatus(active=held.active, reason=held.reason),
    )


def _webhook_ready(budget: ResourceBudgetSpec) -> Observation:
    ref = budget.webhook.secret_ref if budget.webhook is not None else None
    found = None if ref is None else secret_has_key(ref.namespace, ref.name, ref.key)
    return webhook_condition(budget.webhook, found)


def _publish(
    body: kopf.Body,
    patch: kopf.Patch,
    budget: ResourceBudgetSpec,
    desired: ResourceBudgetStatus,
    conclusions: Conclusions,
) -> None:
    publish(
        body,
        patch,
        RESOURCE_BUDGET_CONDITIONS,
        desired,
        conclusions,
        ready=(
            BudgetReason.TRACKING,
            f"{budget.amount:g} {budget.currency} per {budget.period.lower()} period",
        ),
    )
