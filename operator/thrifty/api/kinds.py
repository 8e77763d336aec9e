"""The registry of Thrifty's custom resources: names, scope, models and `kubectl get` columns.

crdgen builds one CRD per entry; handlers and the CLI look kinds up here instead of repeating names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from thrifty import GROUP, VERSION
from thrifty.api.common import ApiModel
from thrifty.api.cost_policy import CostPolicySpec, CostPolicyStatus
from thrifty.api.resource_budget import ResourceBudgetSpec, ResourceBudgetStatus
from thrifty.api.scaling_policy import ScalingPolicySpec, ScalingPolicyStatus

CATEGORY: Final = "thrifty"


@dataclass(frozen=True)
class PrinterColumn:
    """One additionalPrinterColumns entry."""

    name: str
    type: Literal["string", "integer", "number", "boolean", "date"]
    json_path: str
    description: str
    priority: int = 0  # 1 hides the column unless `kubectl get -o wide`

    def to_crd(self) -> dict[str, object]:
        column: dict[str, object] = {
            "name": self.name,
            "type": self.type,
            "jsonPath": self.json_path,
            "description": self.description,
        }
        if self.priority:
            column["priority"] = self.priority
        return column


READY_COLUMN: Final = PrinterColumn(
    "Ready", "string", '.status.conditions[?(@.type=="Ready")].status', "Whether the Ready condition is True"
)
AGE_COLUMN: Final = PrinterColumn("Age", "date", ".metadata.creationTimestamp", "Time since creation")


@dataclass(frozen=True)
class Kind:
    """A custom resource kind and everything its CRD needs."""

    kind: str
    plural: str
    singular: str
    scope: Literal["Namespaced", "Cluster"]
    short_names: tuple[str, ...]
    description: str
    spec_model: type[ApiModel]
    status_model: type[ApiModel]
    printer_columns: tuple[PrinterColumn, ...]
    categories: tuple[str, ...] = (CATEGORY,)

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{GROUP}"

    @property
    def group(self) -> str:
        return GROUP

    @property
    def version(self) -> str:
        return VERSION


SCALING_POLICY: Final = Kind(
    kind="ScalingPolicy",
    plural="scalingpolicies",
    singular="scalingpolicy",
    scope="Namespaced",
    short_names=("sp", "scalingpol"),
    description="ScalingPolicy scales one Deployment or StatefulSet out and in (horizontal) and right-sizes "
    "its container requests (vertical) from observed usage, with cost in mind. In mode Recommend it only "
    "writes its decisions to status; in mode Apply it also changes the workload.",
    spec_model=ScalingPolicySpec,
    status_model=ScalingPolicyStatus,
    printer_columns=(
        PrinterColumn("Target", "string", ".spec.targetRef.name", "The managed workload"),
        PrinterColumn("Mode", "string", ".spec.mode", "Recommend or Apply"),
        PrinterColumn("Replicas", "integer", ".status.currentReplicas", "Current replicas"),
        PrinterColumn("Recommended", "integer", ".status.recommendation.replicas", "Recommended replicas"),
        PrinterColumn("CPU", "string", ".status.summary.cpu", "CPU request now→recommended"),
        PrinterColumn("Memory", "string", ".status.summary.memory", "Memory request now→recommended"),
        PrinterColumn("Savings/mo", "string", ".status.summary.savings", "Monthly savings if recommended"),
        PrinterColumn("Spot%", "integer", ".status.placement.spotPercent", "Percent of the pods on spot now"),
        READY_COLUMN,
        AGE_COLUMN,
    ),
)

RESOURCE_BUDGET: Final = Kind(
    kind="ResourceBudget",
    plural="resourcebudgets",
    singular="resourcebudget",
    scope="Cluster",
    short_names=("rb", "budget"),
    description="ResourceBudget caps what a set of namespaces and workloads may cost per day, week or "
    "month. Thresholds fire alerts; enforcement can block scale-ups or scale workloads down.",
    spec_model=ResourceBudgetSpec,
    status_model=ResourceBudgetStatus,
    printer_columns=(
        PrinterColumn("Amount", "number", ".spec.amount", "Budget per period"),
        PrinterColumn("Currency", "string", ".spec.currency", "Currency"),
        PrinterColumn("Period", "string", ".spec.period", "Daily, Weekly or Monthly"),
        PrinterColumn("Spent", "number", ".status.spent", "Spent so far this period"),
        PrinterColumn("Forecast", "number", ".status.forecast", "Forecast spend at the end of the period"),
        PrinterColumn("Per-Hour", "number", ".status.hourlyRate", "Spend per hour now"),
        PrinterColumn("Utilization", "number", ".status.utilizationPercent", "Spent, in percent of amount"),
        PrinterColumn("State", "string", ".status.state", "OK, Warning, ForecastOverrun or Exceeded"),
        READY_COLUMN,
        AGE_COLUMN,
    ),
)

COST_POLICY: Final = Kind(
    kind="CostPolicy",
    plural="costpolicies",
    singular="costpolicy",
    scope="Cluster",
    short_names=("cp", "costpol"),
    description="CostPolicy holds cluster-wide prices (per resource-hour or per instance type), the "
    "spot/on-demand placement policy, the node pools the operator may adjust, and governance limits. "
    "The operator uses the CostPolicy named default.",
    spec_model=CostPolicySpec,
    status_model=CostPolicyStatus,
    printer_columns=(
        PrinterColumn("Currency", "string", ".spec.pricing.currency", "Currency of all prices"),
        PrinterColumn("Spot-Target", "integer", ".spec.spot.targetPercent", "Percent of replicas on spot"),
        PrinterColumn("Nodes", "integer", ".status.summary.nodes", "Nodes in the cluster"),
        PrinterColumn("Spot-Nodes", "integer", ".status.summary.spotNodes", "Nodes on spot capacity"),
        PrinterColumn(
            "Cost/h", "number", ".status.summary.hourlyCost", "What the priced nodes cost per hour"
        ),
        PrinterColumn(
            "Spot%",
            "number",
            ".status.summary.spotReplicaPercent",
            "Percent of replicas above the base on spot",
        ),
        READY_COLUMN,
        AGE_COLUMN,
    ),
)

KINDS: Final = (SCALING_POLICY, RESOURCE_BUDGET, COST_POLICY)


def by_kind(kind: str) -> Kind:
    """The registry entry for a kind name, e.g. "ScalingPolicy"."""
    for entry in KINDS:
        if entry.kind == kind:
            return entry
    raise KeyError(kind)
