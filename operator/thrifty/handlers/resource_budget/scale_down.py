"""ScaleDown's inputs from the indexes: the governed ScalingPolicies in a budget's scope, their
workloads and PriorityClasses. Which of them go down, and how far, is the engine's decision.

Only workloads with a horizontal ScalingPolicy are lowered: the policy's minReplicas is the floor a
team declared, and the policy is what applies the cap. The plan goes to the budget's status; each
ScalingPolicy reads its own cap from there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from thrifty.api.resource_budget import GovernedWorkload
from thrifty.engine.budget_caps import GovernedPolicy, scale_down_caps
from thrifty.engine.spend_pricing import BudgetSpend
from thrifty.engine.workload_records import Workload
from thrifty.handlers.cluster_indexes import find_workload, first, governed_policies

__all__ = ["scale_down_workloads"]


def scale_down_workloads(
    spend: BudgetSpend,
    namespaces: tuple[str, ...],
    in_scope: Callable[[str, str, str], bool],
    indexes: Mapping[str, Any],
) -> list[GovernedWorkload]:
    governed: list[tuple[GovernedPolicy, Workload, int | None]] = []
    for key, policy in governed_policies(indexes).items():
        if policy.namespace not in namespaces or not in_scope(*key):
            continue
        workload = find_workload(indexes, policy.kind, policy.namespace, policy.workload)
        if workload is not None:
            class_value = first(indexes["priority_classes"], workload.priority_class or "")
            governed.append((policy, workload, class_value))
    return scale_down_caps(governed, spend.hourly_by_workload)
