"""A budget's gauges on the operator's /metrics."""

from __future__ import annotations

from typing import Final

from prometheus_client import Gauge

from thrifty.api.resource_budget import ResourceBudgetSpec, ResourceBudgetStatus

__all__ = ["publish_metrics"]

AMOUNT: Final = Gauge("thrifty_budget_amount", "Budget amount per period.", ["budget", "currency"])
SPENT: Final = Gauge("thrifty_budget_spent", "Spent so far this period.", ["budget", "currency"])
FORECAST: Final = Gauge(
    "thrifty_budget_forecast", "Forecast spend at the period's end.", ["budget", "currency"]
)
UTILIZATION: Final = Gauge(
    "thrifty_budget_utilization_percent", "Spent in percent of the amount.", ["budget"]
)
FIRED: Final = Gauge(
    "thrifty_budget_threshold_fired",
    "1 when the threshold fired this period, else 0.",
    ["budget", "threshold"],
)
STALE: Final = Gauge("thrifty_budget_stale", "1 when the budget's cost data is stale.", ["budget"])


def publish_metrics(name: str, budget: ResourceBudgetSpec, status: ResourceBudgetStatus, stale: bool) -> None:
    currency = budget.currency
    AMOUNT.labels(name, currency).set(budget.amount)
    if status.spent is not None:
        SPENT.labels(name, currency).set(status.spent)
    if status.forecast is not None:
        FORECAST.labels(name, currency).set(status.forecast)
    if status.utilization_percent is not None:
        UTILIZATION.labels(name).set(status.utilization_percent)
    fired = {f.percent for f in status.fired_thresholds}
    for percent in budget.thresholds:
        FIRED.labels(name, str(percent)).set(1 if percent in fired else 0)
    STALE.labels(name).set(1 if stale else 0)
