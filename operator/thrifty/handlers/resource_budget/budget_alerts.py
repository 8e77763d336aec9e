"""How a budget speaks: Events and an optional webhook, for thresholds and anomalies."""

from __future__ import annotations

import logging

import kopf

from thrifty.actuators.object_events import post_event
from thrifty.actuators.webhook import NOTIFIER
from thrifty.api.condition_types import BudgetCondition
from thrifty.api.resource_budget import ResourceBudgetSpec, ResourceBudgetStatus
from thrifty.engine.budget import Anomaly
from thrifty.sources.kube import SecretUnreadableError, secret_value

__all__ = ["Alerts"]

log = logging.getLogger(__name__)


class Alerts:
    def __init__(self, body: kopf.Body, name: str, budget: ResourceBudgetSpec) -> None:
        self.body, self.name, self.budget = body, name, budget

    def threshold(self, percent: int, spent: float, forecast: float, period_start: str) -> None:
        budget = self.budget
        message = (
            f"{percent}% of {budget.amount:g} {budget.currency} reached: {spent:.2f} spent in the "
            f"{budget.period.lower()} period starting {period_start}; forecast {forecast:.2f}"
        )
        post_event(self.body, "Warning" if percent >= 100 else "Normal", "ThresholdReached", message)
        self._webhook(f"ResourceBudget {self.name}: {message}")

    def anomaly(self, found: Anomaly | None, status: ResourceBudgetStatus) -> None:
        """An Event and a webhook post when an anomaly starts, not on every round it lasts."""
        if found is None:
            return
        before = next((c for c in status.conditions if c.type == BudgetCondition.SPEND_ANOMALY), None)
        if before is None or before.status != "True":
            post_event(self.body, "Warning", "SpendAnomaly", found.reason)
            self._webhook(f"ResourceBudget {self.name}: {found.reason}")

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
