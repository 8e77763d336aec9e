"""How a budget speaks: Events, an optional webhook, and gauges on the operator's /metrics."""

from __future__ import annotations

import logging
from typing import Final

import kopf
from prometheus_client import Gauge

from thrifty.actuators.webhook import NOTIFIER
from thrifty.api.conditions import Observation
from thrifty.api.resource_budget import ResourceBudgetSpec, ResourceBudgetStatus
from thrifty.engine.budget import Anomaly
from thrifty.sources.kube import SecretUnreadableError, secret_value

log = logging.getLogger(__name__)

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


class Alerts:
    def __init__(self, body: kopf.Body, name: str, budget: ResourceBudgetSpec) -> None:
        self.body, self.name, self.budget = body, name, budget

    def threshold(self, percent: int, spent: float, forecast: float, period_start: str) -> None:
        budget = self.budget
        message = (
            f"{percent}% of {budget.amount:g} {budget.currency} reached: {spent:.2f} spent in the "
            f"{budget.period.lower()} period starting {period_start}; forecast {forecast:.2f}"
        )
        kopf.event(
            self.body,
            type="Warning" if percent >= 100 else "Normal",
            reason="ThresholdReached",
            message=message,
        )
        self._webhook(f"ResourceBudget {self.name}: {message}")

    def anomaly(self, found: Anomaly | None, status: ResourceBudgetStatus) -> Observation:
        if found is None:
            return Observation("SpendAnomaly", "False", "NoAnomaly", "daily spend is within its recent range")
        before = next((c for c in status.conditions if c.type == "SpendAnomaly"), None)
        if before is None or before.status != "True":
            kopf.event(self.body, type="Warning", reason="SpendAnomaly", message=found.reason)
            self._webhook(f"ResourceBudget {self.name}: {found.reason}")
        return Observation("SpendAnomaly", "True", f"Spend{found.direction}", found.reason)

    def _webhook(self, text: str) -> None:
        if self.budget.webhook is None:
            return
        ref = self.budget.webhook.secret_ref
        try:
            url = secret_value(ref.namespace, ref.name, ref.key)
        except SecretUnreadableError as err:
            log.warning("budget %s: webhook not sent: %s", self.name, err)
            return
        if url:
            NOTIFIER.notify(url, text)
