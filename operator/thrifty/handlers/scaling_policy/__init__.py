"""ScalingPolicy's reconcile: its kopf handler, its horizontal and vertical steps, its reads."""

from thrifty.handlers.scaling_policy.policy_reconcile import reconcile_scaling_policy

__all__ = ["reconcile_scaling_policy"]
