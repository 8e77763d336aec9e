"""CostPolicy (cluster-scoped): prices, spot/on-demand placement, node pools and guard rails."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Final, Literal

from pydantic import ConfigDict, Field, StringConstraints

from thrifty import API_VERSION
from thrifty.api.common import (
    CURRENCY_PATTERN,
    DNS_LABEL_PATTERN,
    DNS_SUBDOMAIN_PATTERN,
    LABEL_VALUE_MAX_LENGTH,
    LABEL_VALUE_PATTERN,
    MAX_PRICE,
    ApiModel,
    Condition,
    LabelKey,
    LabelSelector,
    LabelValue,
    ObjectMeta,
    Price,
    cel,
    conditions_field,
    k8s,
    object_field,
)

# The operator prices with the CostPolicy of this name: exactly one price list must win, and a fixed
# name makes the choice visible in Git.
ACTIVE_COST_POLICY: Final = "default"

# OpenCost's default prices (USD per hour), used when nothing better is known.
OPENCOST_CPU_HOUR: Final = 0.031611
OPENCOST_GIB_HOUR: Final = 0.004237
OPENCOST_SPOT_CPU_HOUR: Final = 0.006655
OPENCOST_SPOT_GIB_HOUR: Final = 0.000892
OPENCOST_GPU_HOUR: Final = 0.95

# Instance types, GPU models and regions are read from node label values, so they share that syntax
# (without the empty value, which names nothing).
NodeLabelValue = Annotated[
    str, StringConstraints(min_length=1, max_length=LABEL_VALUE_MAX_LENGTH, pattern=LABEL_VALUE_PATTERN)
]
# An instance type pattern: a label value in which "*" may stand for any run of characters.
INSTANCE_TYPE_GLOB_PATTERN: Final = r"^[A-Za-z0-9*]([-A-Za-z0-9_.*]{0,61}[A-Za-z0-9*])?$"
# The largest instance this API prices; the largest machines sold have fewer vCPUs, less memory and
# fewer GPUs.
MAX_INSTANCE_VCPU: Final = 4096
MAX_INSTANCE_MEMORY_GIB: Final = 65536
MAX_INSTANCE_GPUS: Final = 64
_PRICE_BOUND: Final = "0 to 1000000"

# AWS Spot Advisor's bands of how often an instance type's spot capacity is interrupted in a month.
InterruptionFrequency = Literal["<5%", "5-10%", "10-15%", "15-20%", ">20%"]
# The interruption risk each band counts as: its upper bound, so savings weighted by it are never
# overstated within the band. ">20%" has no upper bound: 0.25 continues the steps of 5 points.
INTERRUPTION_RISK: Final[Mapping[str, float]] = {
    "<5%": 0.05,
    "5-10%": 0.10,
    "10-15%": 0.15,
    "15-20%": 0.20,
    ">20%": 0.25,
}


def _gpu_model_rules() -> list[dict[str, str]]:
    """CEL on a GPU-model price map: the schema constrains only values, so the model names (node label
    values) are checked here."""
    return [
        cel(
            f"self.all(model, size(model) >= 1 && size(model) <= {LABEL_VALUE_MAX_LENGTH}"
            f" && model.matches(r'{LABEL_VALUE_PATTERN}'))",
            "gpuModels keys must be GPU model names as in the node's nvidia.com/gpu.product label: 1-63 "
            "alphanumerics, '-', '_' or '.' that start and end alphanumeric",
        )
    ]


class OnDemandRates(ApiModel):
    """On-demand prices per resource-hour, in pricing.currency."""

    cpu: float = Field(
        default=OPENCOST_CPU_HOUR,
        ge=0,
        le=MAX_PRICE,
        description=f"Price per vCPU-hour, {_PRICE_BOUND}. Default: 0.031611.",
    )
    memory: float = Field(
        default=OPENCOST_GIB_HOUR,
        ge=0,
        le=MAX_PRICE,
        description=f"Price per GiB-hour, {_PRICE_BOUND}. Default: 0.004237.",
    )
    gpu: float = Field(
        default=OPENCOST_GPU_HOUR,
        ge=0,
        le=MAX_PRICE,
        description=f"Price per GPU-hour, {_PRICE_BOUND}. Default: 0.95.",
    )
    gpu_models: dict[str, Price] = Field(
        default_factory=dict,
        max_length=64,
        description="Price per GPU-hour by GPU model (the node's nvidia.com/gpu.product label, e.g. "
        f"NVIDIA-A100-SXM4-40GB), each {_PRICE_BOUND}, at most 64 models; models not listed use gpu.",
        json_schema_extra=k8s(rules=_gpu_model_rules()),
    )


class SpotRates(ApiModel):
    """Spot prices per resource-hour, in pricing.currency."""

    cpu: float = Field(
        default=OPENCOST_SPOT_CPU_HOUR,
        ge=0,
        le=MAX_PRICE,
        description=f"Price per vCPU-hour, {_PRICE_BOUND}. Default: 0.006655.",
    )
    memory: float = Field(
        default=OPENCOST_SPOT_GIB_HOUR,
        ge=0,
        le=MAX_PRICE,
        description=f"Price per GiB-hour, {_PRICE_BOUND}. Default: 0.000892.",
    )
    gpu: float | None = Field(
        default=None,
        ge=0,
        le=MAX_PRICE,
        description=f"Price per GPU-hour, {_PRICE_BOUND}. Unset: the on-demand GPU price.",
    )
    gpu_models: dict[str, Price] = Field(
        default_factory=dict,
        max_length=64,
        description=f"Price per GPU-hour by GPU model, each {_PRICE_BOUND}, at most 64 models; models not "
        "listed use gpu.",
        json_schema_extra=k8s(rules=_gpu_model_rules()),
    )


class InstancePrice(ApiModel):
    """Hourly prices of one instance type. A node's price is split into CPU and memory as OpenCost does."""

    name: NodeLabelValue = Field(
        description="Instance type, as in the node's instance-type label (a label value: 1-63 "
        "alphanumerics, '-', '_' or '.'), unique within the catalog.",
    )
    vcpu: float = Field(
        gt=0, le=MAX_INSTANCE_VCPU, description="vCPUs of the instance type, greater than 0, at most 4096."
    )
    memory_gib: float = Field(
        validation_alias="memoryGiB",  # not `alias`: Python code keeps passing `memory_gib=`
        serialization_alias="memoryGiB",
        gt=0,
        le=MAX_INSTANCE_MEMORY_GIB,
        description="Memory of the instance type in GiB, greater than 0, at most 65536.",
    )
    gpus: int = Field(
        default=0, ge=0, le=MAX_INSTANCE_GPUS, description="GPUs of the instance type, 0-64. Default: 0."
    )
    on_demand: float = Field(ge=0, le=MAX_PRICE, description=f"On-demand price per hour, {_PRICE_BOUND}.")
    spot: float | None = Field(
        default=None,
        ge=0,
        le=MAX_PRICE,
        description=f"Spot price per hour, {_PRICE_BOUND}. Unset: derived from the spot rates.",
    )
    reserved: float | None = Field(
        default=None,
        ge=0,
        le=MAX_PRICE,
        description=f"Effective hourly price under a reservation or savings plan, {_PRICE_BOUND}. Unset: "
        "not reserved.",
    )
    interruption_frequency: InterruptionFrequency | None = Field(
        default=None,
        description="How often this type's spot capacity is interrupted in a month, as AWS Spot Advisor "
        'publishes it: "<5%", "5-10%", "10-15%", "15-20%" or ">20%". ScalingPolicy '
        "status.cost.monthlySpotSavingsRiskWeighted weights spot savings by (1 - risk), counting each "
        "band at its upper bound (0.05, 0.10, 0.15, 0.20) and >20% at 0.25, so they are not overstated. "
        "Unset: unknown, and workloads whose spot nodes are of this type get no risk-weighted figure.",
    )


class CapacityTypeLabel(ApiModel):
    """A node label that tells spot nodes from on-demand ones."""

    key: LabelKey = Field(description="The label key, e.g. karpenter.sh/capacity-type.")
    spot_values: list[LabelValue] = Field(
        min_length=1,
        max_length=8,
        description='Values of the label that mean spot, e.g. ["spot"], 1-8 distinct label values; any '
        "other value means on-demand.",
        json_schema_extra=k8s(list_type="set"),
    )


DEFAULT_CAPACITY_TYPE_LABELS: Final = (
    CapacityTypeLabel(key="karpenter.sh/capacity-type", spot_values=["spot"]),
    CapacityTypeLabel(key="eks.amazonaws.com/capacityType", spot_values=["SPOT"]),
    CapacityTypeLabel(key="cloud.google.com/gke-spot", spot_values=["true"]),
    CapacityTypeLabel(key="cloud.google.com/gke-preemptible", spot_values=["true"]),
    CapacityTypeLabel(key="kubernetes.azure.com/scalesetpriority", spot_values=["spot"]),
)
DEFAULT_INSTANCE_TYPE_LABELS: Final = ("node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type")
DEFAULT_REGION_LABELS: Final = ("topology.kubernetes.io/region", "failure-domain.beta.kubernetes.io/region")


class NodeLabels(ApiModel):
    """Node label keys the operator reads. For each, the first key present on a node wins."""

    instance_type: list[LabelKey] = Field(
        default_factory=lambda: list(DEFAULT_INSTANCE_TYPE_LABELS),
        min_length=1,
        max_length=8,
        description="Keys naming the instance type, 1-8 distinct label keys. Default: "
        "node.kubernetes.io/instance-type, beta.kubernetes.io/instance-type.",
        json_schema_extra=k8s(list_type="set", default=list(DEFAULT_INSTANCE_TYPE_LABELS)),
    )
    region: list[LabelKey] = Field(
        default_factory=lambda: list(DEFAULT_REGION_LABELS),
        min_length=1,
        max_length=8,
        description="Keys naming the region, 1-8 distinct label keys. Default: "
        "topology.kubernetes.io/region, failure-domain.beta.kubernetes.io/region.",
        json_schema_extra=k8s(list_type="set", default=list(DEFAULT_REGION_LABELS)),
    )
    capacity_type: list[CapacityTypeLabel] = Field(
        default_factory=lambda: [label.model_copy() for label in DEFAULT_CAPACITY_TYPE_LABELS],
        min_length=1,
        max_length=8,
        description="Keys (and their spot values) naming the capacity type, 1-8, each key once. Default: "
        "karpenter.sh/capacity-type=spot, eks.amazonaws.com/capacityType=SPOT, "
        "cloud.google.com/gke-spot=true, cloud.google.com/gke-preemptible=true, "
        "kubernetes.azure.com/scalesetpriority=spot. Nodes matching none are on-demand.",
        json_schema_extra=k8s(
            list_type="map",
            map_keys=["key"],
            default=[label.to_wire() for label in DEFAULT_CAPACITY_TYPE_LABELS],
        ),
    )


class Pricing(ApiModel):
    """How resource-hours turn into money."""

    currency: str = Field(
        default="USD",
        pattern=CURRENCY_PATTERN,
        max_length=3,
        description="ISO 4217 code of every price here, three upper-case letters (e.g. EUR). Default: USD.",
    )
    hours_per_month: float = Field(
        default=730,
        ge=1,
        le=744,
        description="Hours in a billing month, for monthly figures, 1-744 (31 days). Default: 730.",
    )
    on_demand: OnDemandRates = object_field(OnDemandRates, "On-demand rates. Default: OpenCost's defaults.")
    spot: SpotRates = object_field(SpotRates, "Spot rates. Default: OpenCost's defaults.")
    catalog: list[InstancePrice] = Field(
        default_factory=list,
        max_length=512,
        description="Optional per-instance-type prices, at most 512, each name once; they take precedence "
        "over the resource rates for nodes whose instance type is listed.",
        json_schema_extra=k8s(list_type="map", map_keys=["name"]),
    )
    node_labels: NodeLabels = object_field(
        NodeLabels, "Node label keys for instance type, region and capacity type."
    )


class SpotEligibility(ApiModel):
    """Which workloads may run replicas on spot capacity."""

    min_replicas: int = Field(
        default=2,
        ge=1,
        le=100000,
        description="Fewest replicas a workload needs to be eligible, 1-100000. Default: 2.",
    )
    require_pod_disruption_budget: bool = Field(
        default=True, description="Require a PodDisruptionBudget covering the workload. Default: true."
    )
    allow_stateful_sets: bool = Field(
        default=False,
        description="Also place StatefulSets on spot; otherwise only Deployments. Default: false.",
    )


class SpotFallback(ApiModel):
    """Falling back to on-demand when spot capacity is unavailable, and returning later."""

    enabled: bool = Field(default=True, description="Fall back to on-demand at all. Default: true.")
    pending_seconds: int = Field(
        default=300,
        ge=30,
        le=86400,
        description="Seconds a spot pod may stay Pending before its replica moves to on-demand, "
        "30-86400. Default: 300.",
    )
    return_after_seconds: int = Field(
        default=3600,
        ge=60,
        le=604800,
        description="Seconds after a fallback before spot is tried again, 60-604800 (7 days). Default: 3600.",
    )


class SpotPolicy(ApiModel):
    """The spot/on-demand mix, in EC2 Auto Scaling's terms: a base on on-demand, a percentage above it."""

    namespace_selector: LabelSelector | None = Field(
        default=None,
        description="Namespaces whose workloads are considered. Unset or {}: every namespace.",
    )
    workload_selector: LabelSelector | None = Field(
        default=None,
        description="Workloads (by their labels) that are considered. Unset: every eligible workload.",
    )
    target_percent: int = Field(
        ge=0,
        le=100,
        description="Percent of each workload's replicas above onDemandBase to run on spot, 0-100.",
    )
    on_demand_base: int = Field(
        default=1,
        ge=0,
        le=100000,
        description="Replicas of each workload that always stay on on-demand capacity, 0-100000. Default: 1.",
    )
    eligibility: SpotEligibility = object_field(
        SpotEligibility, "Which workloads may use spot. Default: 2+ replicas, a PDB, Deployments only."
    )
    fallback: SpotFallback = object_field(
        SpotFallback, "Fallback to on-demand when spot pods stay Pending, and the return to spot."
    )


class NodePool(ApiModel):
    """A node pool the operator may adjust: a Karpenter NodePool or a Cluster API MachineDeployment."""

    model_config = ConfigDict(
        json_schema_extra=k8s(
            rules=[
                cel(
                    "self.kind == 'MachineDeployment' ? has(self.namespace) : !has(self.namespace)",
                    "namespace is required for a MachineDeployment and not allowed for a NodePool "
                    "(cluster-scoped)",
                    ".namespace",
                ),
                cel(
                    "!has(self.allowedChanges) || (self.kind == 'NodePool'"
                    " ? self.allowedChanges.all(c, c != 'Replicas')"
                    " : self.allowedChanges.all(c, c == 'Replicas'))",
                    "allowedChanges: a NodePool allows Limits and Weight, a MachineDeployment allows "
                    "Replicas",
                    ".allowedChanges",
                ),
            ]
        )
    )

    kind: Literal["NodePool", "MachineDeployment"] = Field(
        description="NodePool (Karpenter, karpenter.sh/v1) or MachineDeployment (Cluster API, "
        "cluster.x-k8s.io, read and scaled at v1beta2, else v1beta1).",
    )
    name: str = Field(
        min_length=1, max_length=253, pattern=DNS_SUBDOMAIN_PATTERN, description="Name of the object."
    )
    namespace: str | None = Field(
        default=None,
        max_length=63,
        pattern=DNS_LABEL_PATTERN,
        description="Namespace of a MachineDeployment. Not set for NodePools, which are cluster-scoped.",
    )
    capacity_type: Literal["Spot", "OnDemand"] = Field(
        description="The capacity type of the pool's nodes: Spot or OnDemand. The operator checks it "
        "against the pool itself (a NodePool's karpenter.sh/capacity-type requirement, a "
        "MachineDeployment's node labels in spec.template.metadata.labels, read with "
        "pricing.nodeLabels.capacityType) and reports a disagreement in the NodePoolsReady condition, "
        "changing nothing on that pool.",
    )
    allowed_changes: list[Literal["Limits", "Weight", "Replicas"]] = Field(
        default_factory=list,
        max_length=3,
        description="What the operator may change; it never writes a NodePool's spec.template, "
        "which would make Karpenter replace its nodes. NodePool: Weight (spec.weight: 100 on the "
        "capacity type spot.targetPercent prefers, spot when it is above 0, and 1 on the other, so "
        "that pods placement does not pin go there first) and Limits (spec.limits: while a workload "
        "is in spot fallback, an OnDemand pool's limits are raised by what its Pending pods need, "
        "each at the smallest catalog instance type that fits it, and restored once no workload is; "
        "the limits before the raise are kept in the pool's thrifty.dev/limits-before-raise "
        "annotation). MachineDeployment: Replicas, through the scale subresource: the listed Spot "
        "and OnDemand MachineDeployments keep their total and split it at spot.targetPercent "
        "(on-demand rounded up), each within its cluster.x-k8s.io/cluster-api-autoscaler-node-group-"
        "min-size and -max-size annotations. Empty: read only. Default: empty.",
        json_schema_extra=k8s(list_type="set"),
    )


class Governance(ApiModel):
    """Guard rails on placement and spend that recommendations never cross."""

    allowed_instance_types: list[
        Annotated[
            str,
            StringConstraints(
                min_length=1, max_length=LABEL_VALUE_MAX_LENGTH, pattern=INSTANCE_TYPE_GLOB_PATTERN
            ),
        ]
    ] = Field(
        default_factory=list,
        max_length=256,
        description='Instance types workloads may be placed on; "*" wildcards allowed (e.g. m5.*). Each '
        "is an instance-type label value (1-63 alphanumerics, '-', '_', '.') with '*' allowed; at most "
        "256. Pods the placement webhook places get a required node affinity for the instance types "
        "of the catalog and of the cluster's nodes that match; node pools listed in nodePools whose "
        "requirements allow another type (or any type) are named in the GovernanceViolation "
        "condition. Empty: any.",
        json_schema_extra=k8s(list_type="set"),
    )
    allowed_regions: list[NodeLabelValue] = Field(
        default_factory=list,
        max_length=64,
        description="Regions workloads may be placed in, as in the node's region label (1-63 "
        "alphanumerics, '-', '_' or '.'); at most 64. Pods the placement webhook places get a required "
        "node affinity for them on the first pricing.nodeLabels.region key; node pools listed in "
        "nodePools whose requirements allow another region (or any) are named in the "
        "GovernanceViolation condition. Empty: any.",
        json_schema_extra=k8s(list_type="set"),
    )
    max_hourly_cost_per_workload: float | None = Field(
        default=None,
        ge=0,
        le=MAX_PRICE,
        description="Most a single workload may cost per hour, in pricing.currency, "
        f"{_PRICE_BOUND}. A ScalingPolicy's recommended replicas (and, in Apply mode, its scale-ups) "
        "are capped at the most whose pod requests cost no more, at the rates of the nodes its pods "
        "run on (at the spot/on-demand mix when placement steers it), never below minReplicas; its "
        "GovernanceLimited condition names the limit while it holds. Unset: no cap.",
    )


class CostPolicySpec(ApiModel):
    """Cluster-wide prices and placement rules. The operator uses the CostPolicy named default."""

    pricing: Pricing = object_field(Pricing, "Prices and the node labels used to look them up.")
    spot: SpotPolicy | None = Field(
        default=None, description="Spot/on-demand placement. Unset: the operator does not steer placement."
    )
    node_pools: list[NodePool] = Field(
        default_factory=list,
        max_length=32,
        description="Node pools the operator reports on (status.nodePools) and, within each one's "
        "allowedChanges, steers toward spot.targetPercent; at most 32, each kind and name once. "
        "Only the CostPolicy named default acts on them.",
        json_schema_extra=k8s(list_type="map", map_keys=["kind", "name"]),
    )
    governance: Governance | None = Field(
        default=None, description="Allowed instance types and regions, and a cost cap per workload."
    )


# ----- status -----


class CostPolicySummary(ApiModel):
    """A few figures about the cluster under this policy, refreshed every resync. Only the CostPolicy
    in use (named default) has them."""

    pricing_source: str | None = Field(
        default=None,
        description="Where node prices come from: Catalog (spec.pricing.catalog lists instance types; a "
        "node of a type it does not list is priced at the rates) or Rates (no catalog: the per-resource "
        "rates price every node).",
    )
    nodes: int | None = Field(default=None, description="Nodes in the cluster.")
    spot_nodes: int | None = Field(
        default=None,
        description="Nodes on spot capacity, told apart by spec.pricing.nodeLabels.capacityType.",
    )
    hourly_cost: float | None = Field(
        default=None,
        description="What the priced nodes cost per hour, in pricing.currency, to 4 decimals: each node's "
        "catalog price (the spot price on spot nodes, the reserved price on on-demand nodes when the "
        "catalog gives one), or its capacity at the rates. Nodes counted in unpricedNodes are left "
        "out. Unset: no node could be priced.",
    )
    unpriced_nodes: int | None = Field(
        default=None,
        description="Nodes left out of hourlyCost: their instance type is not in the catalog and the "
        "node reports no CPU or memory capacity (status.capacity) to price it at the rates.",
    )
    spot_replica_percent: float | None = Field(
        default=None,
        description="Percent of eligible replicas above onDemandBase running on spot now, to 0.1, over "
        "every Ready ScalingPolicy whose workload placement considers (status.placement set, SpotPlacement "
        "neither NotEligible nor NotConfigured): the sum of min(spot, onDemand + spot - base) over the "
        "sum of max(onDemand + spot - base, 0), from status.placement's onDemand and spot pods (on, or "
        "sent to, each capacity type), where base is the policy's spec.placement.onDemandBase, else "
        "this CostPolicy's spot.onDemandBase. Unset: no such replicas.",
    )


class NodePoolChange(ApiModel):
    """The last change the operator made to a node pool."""

    time: str | None = Field(default=None, description="When the change was made, RFC 3339.")
    field: str | None = Field(
        default=None, description="What changed: spec.weight, spec.limits or spec.replicas."
    )
    from_: str | None = Field(
        default=None,
        validation_alias="from",
        serialization_alias="from",
        description='Value before the change, e.g. "1" or "cpu=8".',
    )
    to: str | None = Field(default=None, description='Value after the change, e.g. "100" or "cpu=12".')
    reason: str | None = Field(default=None, description="Why the change was made.")


class NodePoolStatus(ApiModel):
    """One node pool of spec.nodePools as the operator last saw it."""

    kind: str = Field(description="NodePool or MachineDeployment.")
    name: str = Field(description="Name of the object.")
    namespace: str | None = Field(default=None, description="Namespace of a MachineDeployment.")
    capacity_type: str | None = Field(
        default=None, description="Spot or OnDemand, as the pool itself says (see spec)."
    )
    found: bool | None = Field(default=None, description="Whether the object exists.")
    nodes: int | None = Field(
        default=None,
        description="Nodes of the pool in the cluster (label karpenter.sh/nodepool, or "
        "cluster.x-k8s.io/deployment-name for a MachineDeployment).",
    )
    hourly_cost: float | None = Field(
        default=None,
        description="What the pool's nodes cost per hour at catalog prices (else the rates), in "
        "pricing.currency, to 4 decimals.",
    )
    weight: int | None = Field(default=None, description="A NodePool's spec.weight now.")
    limits: dict[str, str] | None = Field(
        default=None, description="A NodePool's spec.limits now, as Kubernetes quantities."
    )
    limits_before_raise: dict[str, str] | None = Field(
        default=None,
        description="A NodePool's spec.limits before the operator raised them for a spot fallback; "
        "unset when they are not raised.",
    )
    replicas: int | None = Field(default=None, description="A MachineDeployment's spec.replicas now.")
    min_replicas: int | None = Field(
        default=None, description="A MachineDeployment's cluster-autoscaler min-size annotation."
    )
    max_replicas: int | None = Field(
        default=None, description="A MachineDeployment's cluster-autoscaler max-size annotation."
    )
    message: str | None = Field(
        default=None, description="What keeps the operator from steering the pool, if anything."
    )
    last_change: NodePoolChange | None = Field(
        default=None, description="The last change the operator made to the pool."
    )


class CostPolicyStatus(ApiModel):
    """What the operator observed. Written by the operator only."""

    observed_generation: int | None = Field(
        default=None, description="metadata.generation the status was computed for."
    )
    conditions: list[Condition] = conditions_field(
        "Ready (the policy is valid and in use), InUse (False for any CostPolicy not named default), "
        "NodePoolsReady (every pool in spec.nodePools exists and agrees with its capacityType; its "
        "message says what was changed or refused), GovernanceViolation (True names the node pools "
        "whose requirements allow instance types or regions governance does not)."
    )
    summary: CostPolicySummary | None = Field(default=None, description="Figures about the cluster.")
    node_pools: list[NodePoolStatus] | None = Field(
        default=None,
        description="Each pool of spec.nodePools: capacity type, nodes, hourly cost, limits or "
        "replicas in use, and the last change with why.",
    )


class CostPolicy(ApiModel):
    """A whole CostPolicy object as read from the cluster."""

    api_version: str = Field(default=API_VERSION, description=f"{API_VERSION}.")
    kind: Literal["CostPolicy"] = Field(default="CostPolicy", description="CostPolicy.")
    metadata: ObjectMeta = Field(default_factory=ObjectMeta, description="Object metadata.")
    spec: CostPolicySpec = Field(description="Desired behaviour.")
    status: CostPolicyStatus | None = Field(default=None, description="Observed state.")
