"""ScaleDown: which workloads in scope go down, lowest priority first, never below minReplicas.

Only workloads with a horizontal ScalingPolicy are lowered: the policy's minReplicas is the floor a
team declared, and the policy is what applies the cap. The plan goes to the budget's status; each
ScalingPolicy reads its own cap from there.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from thrifty.api.resource_budget import GovernedWorkload
from thrifty.engine.budget import BudgetWorkload, scale_down_plan, workload_priority
from thrifty.handlers import budget_indexes
from thrifty.handlers.budget_indexes import GovernedPolicy
from thrifty.handlers.budget_spend import BudgetSpend
from thrifty.handlers.workloads import find_workload


def scale_down_workloads(
    spend: BudgetSpend,
    namespaces: tuple[str, ...],
    in_scope: Callable[[str, str, str], bool],
    indexes: dict[str, Any],
) -> list[GovernedWorkload]:
    candidates: list[BudgetWorkload] = []
    for key, items in indexes["horizontal_policies"].items():
        policy = next((p for p in items if isinstance(p, GovernedPolicy)), None)
        if policy is None or policy.namespace not in namespaces or not in_scope(*key):
            continue
        workload = find_workload(
            [indexes["deployments"], indexes["statefulsets"]], policy.kind, policy.namespace, policy.workload
        )
        if workload is None:
            continue
        class_value = budget_indexes.first(indexes["priority_classes"], workload.priority_class or "")
        priority, _ = workload_priority(workload.annotations, class_value, default=policy.priority)
        hourly = spend.hourly_by_workload.get(key, 0.0)
        candidates.append(
            BudgetWorkload(
                key="/".join(key),
                priority=priority,
                current_replicas=workload.desired_replicas,
                min_replicas=policy.min_replicas,
                hourly_cost_per_replica=hourly / max(workload.desired_replicas, 1),
            )
        )
    plan = scale_down_plan(candidates, math.inf)
    return [
        GovernedWorkload(
            namespace=step.key.split("/")[0],
            kind=step.key.split("/")[1],
            name=step.key.split("/", 2)[2],
            max_replicas=step.to_replicas,
            reason=step.reason,
        )
        for step in plan
    ]
