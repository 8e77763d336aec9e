"""Every kopf handler of Thrifty. `kopf run -m thrifty.handlers.operator` and `thrifty run` load this."""

from thrifty.handlers import cost_policy, prices, resource_budget, scaling_policy, settings, workloads

__all__ = ["cost_policy", "prices", "resource_budget", "scaling_policy", "settings", "workloads"]
