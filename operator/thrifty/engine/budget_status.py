"""What a ResourceBudget's status says about its numbers: the conditions from spend, forecast,
thresholds, anomalies and the webhook, and which namespaces its scope covers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from thrifty.api.condition_types import BudgetCondition, BudgetReason
from thrifty.api.conditions import Observation
from thrifty.api.resource_budget import BudgetScope, FiredThreshold, ResourceBudgetSpec, Webhook
from thrifty.engine.budget import Anomaly, daily_anomaly, daily_totals
from thrifty.engine.spend_pricing import BudgetSpend

__all__ = [
    "alert_conditions",
    "anomaly_condition",
    "resolve_namespaces",
    "spend_anomaly",
    "spend_known",
    "webhook_condition",
]


def resolve_namespaces(
    scope: BudgetScope, namespace_labels: Mapping[str, Mapping[str, str]]
) -> tuple[str, ...]:
    """The scope's namespaces: those it lists, else every namespace its selector matches (all of them
    without a selector)."""
    if scope.namespaces is not None:
        return tuple(sorted(scope.namespaces))
    selector = scope.namespace_selector
    return tuple(
        sorted(ns for ns, labels in namespace_labels.items() if selector is None or selector.matches(labels))
    )


def spend_known(spend: BudgetSpend, spent: float, stale: bool, currency: str, forecast: str) -> Observation:
    notes = "; ".join(spend.notes)
    kind = BudgetCondition.SPEND_KNOWN
    if stale:
        return Observation(
            kind,
            "False",
            BudgetReason.STALE_DATA,
            f"the newest cost sample is old{': ' + notes if notes else ''}; no workload is scaled down",
        )
    if spend.data_as_of is None:
        return Observation(
            kind,
            "True",
            BudgetReason.NO_CONTAINERS,
            f"no container in scope has cost samples, spend is 0 ({notes})",
        )
    return Observation(
        kind,
        "True",
        BudgetReason.SPEND_COMPUTED,
        f"{spent:.2f} {currency} spent by {spend.containers} containers; {forecast}",
    )


def alert_conditions(
    budget: ResourceBudgetSpec, spent: float, forecast: float, fired: Sequence[FiredThreshold]
) -> list[Observation]:
    amount = f"{budget.amount:g} {budget.currency}"
    overrun = forecast > budget.amount
    exceeded = spent > 0 and spent >= budget.amount
    reached = ", ".join(f"{f.percent}%" for f in sorted(fired, key=lambda f: f.percent))
    return [
        Observation(
            BudgetCondition.FORECAST_OVERRUN,
            "True" if overrun else "False",
            BudgetReason.FORECAST_OVERRUN if overrun else BudgetReason.FORECAST_WITHIN_BUDGET,
            f"forecast {forecast:.2f} for the period against {amount}",
        ),
        Observation(
            BudgetCondition.EXCEEDED,
            "True" if exceeded else "False",
            BudgetReason.EXCEEDED if exceeded else BudgetReason.WITHIN_BUDGET,
            f"spent {spent:.2f} of {amount}",
        ),
        Observation(
            BudgetCondition.THRESHOLD_REACHED,
            "True" if fired else "False",
            BudgetReason.THRESHOLD_REACHED if fired else BudgetReason.NO_THRESHOLD_REACHED,
            f"fired this period: {reached}" if fired else "no threshold reached this period",
        ),
    ]


def spend_anomaly(spend: BudgetSpend, time_zone: str, now: float) -> Anomaly | None:
    """The last complete day's spend against the days before it."""
    _, totals = daily_totals(spend.times, spend.step_spend, time_zone, now)
    return daily_anomaly(totals) if len(totals) else None


def anomaly_condition(found: Anomaly | None) -> Observation:
    if found is None:
        return Observation(
            BudgetCondition.SPEND_ANOMALY,
            "False",
            BudgetReason.NO_ANOMALY,
            "daily spend is within its recent range",
        )
    return Observation(
        BudgetCondition.SPEND_ANOMALY, "True", f"{BudgetReason.SPEND_PREFIX}{found.direction}", found.reason
    )


def webhook_condition(webhook: Webhook | None, found: bool | None) -> Observation:
    """WebhookReady; ``found``: whether the Secret carries the key, None when the API could not say."""
    kind = BudgetCondition.WEBHOOK_READY
    if webhook is None:
        return Observation(kind, "True", BudgetReason.NO_WEBHOOK, "no webhook configured")
    ref = webhook.secret_ref
    where = f"key {ref.key!r} of Secret {ref.namespace}/{ref.name}"
    if found is None:
        return Observation(kind, "Unknown", BudgetReason.SECRET_UNREADABLE, f"could not read {where}")
    if not found:
        return Observation(kind, "False", BudgetReason.WEBHOOK_SECRET_NOT_FOUND, f"{where} does not exist")
    return Observation(kind, "True", BudgetReason.WEBHOOK_SECRET_FOUND, f"webhook URL is in {where}")
