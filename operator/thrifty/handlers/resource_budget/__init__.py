"""ResourceBudget's reconcile: spend, forecast, thresholds, alerts and enforcement."""

from thrifty.handlers.resource_budget.budget_reconcile import reconcile_resource_budget

__all__ = ["reconcile_resource_budget"]
