"""What ScalingPolicies learn from ResourceBudgets: which budget holds a workload, and how far.

The budget handler writes its decision (scope, whether enforcement is active, ScaleDown's targets) to
the budget's status; policies read it from this index, so they never query spend themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import kopf

from thrifty import GROUP, VERSION
from thrifty.api.common import LabelSelector
from thrifty.api.conditions import Observation
from thrifty.api.resource_budget import ResourceBudgetSpec, ResourceBudgetStatus
from thrifty.sources.workloads import Workload


@dataclass(frozen=True)
class BudgetView:
    name: str
    enforcement: str
    active: bool
    namespaces: frozenset[str]
    workload_selector: LabelSelector | None
    caps: dict[tuple[str, str, str], int]  # (namespace, kind, name) -> max replicas, for ScaleDown


@kopf.index(GROUP, VERSION, "resourcebudgets")
def budgets(name: str, spec: kopf.Spec, status: kopf.Status, **_: Any) -> dict[str, BudgetView]:
    budget = ResourceBudgetSpec.model_validate(dict(spec))
    current = ResourceBudgetStatus.model_validate(dict(status))
    enforcement = current.enforcement
    return {
        name: BudgetView(
            name=name,
            enforcement=budget.enforcement,
            active=bool(enforcement and enforcement.active),
            namespaces=frozenset(current.namespaces),
            workload_selector=budget.scope.workload_selector,
            caps={
                (w.namespace, w.kind, w.name): w.max_replicas
                for w in (enforcement.workloads if enforcement else [])
            },
        )
    }


def covers(view: BudgetView, workload: Workload) -> bool:
    if workload.namespace not in view.namespaces:
        return False
    return view.workload_selector is None or view.workload_selector.matches(workload.labels)


def budget_cap(index: kopf.Index[Any, Any], workload: Workload) -> tuple[tuple[int, str] | None, Observation]:
    """The lowest cap any enforcing budget puts on the workload now, and the BudgetLimited condition."""
    views = [v for items in index.values() for v in items if isinstance(v, BudgetView)]
    holding = [v for v in views if v.enforcement != "Alert" and v.active and covers(v, workload)]
    if not holding:
        return None, Observation(
            "BudgetLimited", "False", "NotLimited", "no budget in force limits this workload"
        )
    key = (workload.namespace, workload.kind, workload.name)
    cap, view = min(((v.caps.get(key, workload.desired_replicas), v) for v in holding), key=lambda p: p[0])
    verb = "scales it down to" if cap < workload.desired_replicas else "holds it at"
    message = f"ResourceBudget {view.name} ({view.enforcement}) {verb} {cap} replicas"
    return (cap, f"budget {view.name}"), Observation("BudgetLimited", "True", "BudgetEnforced", message)
