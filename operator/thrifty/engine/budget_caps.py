"""What ScalingPolicies learn from ResourceBudgets: which budget holds a workload, and how far.

The budget's reconcile writes its decision (scope, whether enforcement is active, ScaleDown's targets)
to the budget's status; policies read it back through an index of budgets, so they never query spend
themselves.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from thrifty.api.common import LabelSelector
from thrifty.api.condition_types import PolicyCondition, PolicyReason
from thrifty.api.conditions import Observation
from thrifty.api.resource_budget import GovernedWorkload, ResourceBudgetSpec, ResourceBudgetStatus
from thrifty.engine.budget import BudgetWorkload, scale_down_plan, workload_priority
from thrifty.engine.workload_records import Workload, WorkloadKey

__all__ = ["BudgetView", "GovernedPolicy", "ReplicaCap", "budget_cap", "covers", "scale_down_caps"]

ReplicaCap = tuple[int, str]  # (max replicas, who sets it: "budget NAME")


@dataclass(frozen=True)
class BudgetView:
    """A budget as a ScalingPolicy sees it: its scope and what its enforcement asks now."""

    name: str
    enforcement: str
    active: bool
    namespaces: frozenset[str]
    workload_selector: LabelSelector | None
    caps: dict[WorkloadKey, int]  # (namespace, kind, name) -> max replicas, for ScaleDown

    @classmethod
    def of(cls, name: str, spec: ResourceBudgetSpec, status: ResourceBudgetStatus) -> BudgetView:
        enforcement = status.enforcement
        return cls(
            name=name,
            enforcement=spec.enforcement,
            active=bool(enforcement and enforcement.active),
            namespaces=frozenset(status.namespaces),
            workload_selector=spec.scope.workload_selector,
            caps={
                (w.namespace, w.kind, w.name): w.max_replicas
                for w in (enforcement.workloads if enforcement else [])
            },
        )


@dataclass(frozen=True)
class GovernedPolicy:
    """A ScalingPolicy with a horizontal half: the only workloads whose replicas a budget may lower."""

    namespace: str
    policy: str
    kind: str
    workload: str
    priority: int
    min_replicas: int


def covers(view: BudgetView, workload: Workload) -> bool:
    if workload.namespace not in view.namespaces:
        return False
    return view.workload_selector is None or view.workload_selector.matches(workload.labels)


def budget_cap(views: Iterable[BudgetView], workload: Workload) -> tuple[ReplicaCap | None, Observation]:
    """The lowest cap any enforcing budget puts on the workload now, and the BudgetLimited condition."""
    holding = [v for v in views if v.enforcement != "Alert" and v.active and covers(v, workload)]
    if not holding:
        return None, Observation(
            PolicyCondition.BUDGET_LIMITED,
            "False",
            PolicyReason.NOT_LIMITED,
            "no budget in force limits this workload",
        )
    key = (workload.namespace, workload.kind, workload.name)
    cap, view = min(((v.caps.get(key, workload.desired_replicas), v) for v in holding), key=lambda p: p[0])
    verb = "scales it down to" if cap < workload.desired_replicas else "holds it at"
    message = f"ResourceBudget {view.name} ({view.enforcement}) {verb} {cap} replicas"
    return (cap, f"budget {view.name}"), Observation(
        PolicyCondition.BUDGET_LIMITED, "True", PolicyReason.BUDGET_ENFORCED, message
    )


def scale_down_caps(
    policies: Iterable[tuple[GovernedPolicy, Workload, int | None]],
    hourly_by_workload: Mapping[WorkloadKey, float],
) -> list[GovernedWorkload]:
    """ScaleDown's caps once spend reaches the amount: every governed workload in scope that costs
    something, down to and then held at its minReplicas, lowest priority first. Each item is a
    policy, its workload and the value of the workload's PriorityClass (None without one)."""
    candidates = []
    for policy, workload, class_value in policies:
        priority, _ = workload_priority(workload.annotations, class_value, default=policy.priority)
        hourly = hourly_by_workload.get((policy.namespace, policy.kind, policy.workload), 0.0)
        candidates.append(
            BudgetWorkload(
                key="/".join((policy.namespace, policy.kind, policy.workload)),
                priority=priority,
                current_replicas=workload.desired_replicas,
                min_replicas=policy.min_replicas,
                hourly_cost_per_replica=hourly / max(workload.desired_replicas, 1),
            )
        )
    steps = {step.key: step for step in scale_down_plan(candidates, math.inf)}
    held = []
    for candidate in sorted(candidates, key=lambda w: (w.priority, -w.hourly_cost_per_replica, w.key)):
        if candidate.hourly_cost_per_replica <= 0:
            continue  # costs nothing: no saving, not held
        step = steps.get(candidate.key)
        namespace, kind, name = candidate.key.split("/", 2)
        # One already at its minReplicas (scaled down by an earlier round) stays listed and held
        # there: the budget still holds it, and status says so.
        at_minimum = (
            f"priority {candidate.priority}: held at {candidate.min_replicas} replicas (its minReplicas)"
        )
        held.append(
            GovernedWorkload(
                namespace=namespace,
                kind=kind,
                name=name,
                max_replicas=step.to_replicas if step else candidate.min_replicas,
                reason=step.reason if step else at_minimum,
            )
        )
    return held
