"""ScalingPolicy's reconcile: its kopf handlers, the evaluation round, its steps and its reads."""

from thrifty.handlers.scaling_policy.evaluation_round import start_rounds, stop_rounds
from thrifty.handlers.scaling_policy.policy_reconcile import reconcile_scaling_policy

__all__ = ["reconcile_scaling_policy", "start_rounds", "stop_rounds"]
