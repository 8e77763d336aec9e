"""CostPolicy's reconcile: which CostPolicy sets the prices."""

from thrifty.handlers.cost_policy.cost_policy_reconcile import reconcile_cost_policy

__all__ = ["reconcile_cost_policy"]
