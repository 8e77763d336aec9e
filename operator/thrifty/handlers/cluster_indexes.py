"""What the operator knows about the cluster without API calls: kopf indexes of the objects every
reconcile reads, and typed look-ups into them.

kopf passes each index to a handler as a keyword argument named after its indexing function; the
look-ups below take those arguments, so a reconcile never digs through an index itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import kopf

from thrifty import GROUP, VERSION
from thrifty.api.common import LabelSelector
from thrifty.api.cost_policy import CostPolicySpec
from thrifty.api.resource_budget import ResourceBudgetSpec, ResourceBudgetStatus
from thrifty.engine.budget_caps import BudgetView, GovernedPolicy
from thrifty.engine.conflicts import OtherAutoscaler
from thrifty.engine.cost import NodeCapacity, SpotLabel, capacity_type
from thrifty.engine.pod_placement import PodRecord
from thrifty.engine.quantities import parse_quantity
from thrifty.engine.spot_mix import Capacity
from thrifty.engine.workload_records import Workload, WorkloadKey
from thrifty.handlers.placement_plans import admission_seen
from thrifty.handlers.status_writer import without_managed_fields
from thrifty.settings import ANNOTATION_PREFIX, CAPACITY_TYPE_ANNOTATION, PLACEMENT_MARK_ANNOTATION
from thrifty.sources.autoscalers import autoscaler_target, hpa_from, vpa_from
from thrifty.sources.workloads import pod_requests, workload_from

__all__ = [
    "FallbackWaiting",
    "NodeSeen",
    "PodSeen",
    "StoredPolicy",
    "autoscalers_of",
    "budget_views",
    "cluster_node_labels",
    "cluster_nodes",
    "controller_of",
    "cost_policy_specs",
    "covered_by_disruption_budget",
    "fallback_waiting_pods",
    "find_workload",
    "first",
    "governed_policies",
    "namespace_labels_of",
    "pod_workload",
    "policy_bodies",
    "spot_schedulable",
    "workload_pod_nodes",
    "workload_pods",
]

T = TypeVar("T")
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
AutoscalerIndex = dict[tuple[str, str, str], OtherAutoscaler]  # (kind, namespace, name) of the target


@kopf.index("apps", "v1", "deployments")
def deployments(body: kopf.Body, **_: Any) -> dict[tuple[str, str, str], Workload]:
    workload = workload_from("Deployment", body)
    return {("Deployment", workload.namespace, workload.name): workload}


@kopf.index("apps", "v1", "statefulsets")
def statefulsets(body: kopf.Body, **_: Any) -> dict[tuple[str, str, str], Workload]:
    workload = workload_from("StatefulSet", body)
    return {("StatefulSet", workload.namespace, workload.name): workload}


@kopf.index("autoscaling", "v2", "horizontalpodautoscalers")
def horizontal_autoscalers(namespace: str | None, name: str, spec: Any, **_: Any) -> AutoscalerIndex:
    kind, target = autoscaler_target(spec)
    return {(kind, namespace or "", target): hpa_from(name, spec)}


@kopf.index("autoscaling.k8s.io", "v1", "verticalpodautoscalers")
def vertical_autoscalers(namespace: str | None, name: str, spec: Any, **_: Any) -> AutoscalerIndex:
    kind, target = autoscaler_target(spec)
    return {(kind, namespace or "", target): vpa_from(name, spec)}


@kopf.index("", "v1", "namespaces")
def namespace_labels(name: str, labels: kopf.Labels, **_: Any) -> dict[str, dict[str, str]]:
    return {name: dict(labels)}


@kopf.index("scheduling.k8s.io", "v1", "priorityclasses")
def priority_classes(name: str, body: kopf.Body, **_: Any) -> dict[str, int]:
    return {name: int(body.get("value") or 0)}


@kopf.index(GROUP, VERSION, "scalingpolicies")
def horizontal_policies(
    namespace: str | None, name: str, spec: kopf.Spec, **_: Any
) -> dict[WorkloadKey, GovernedPolicy]:
    horizontal = spec.get("horizontal")
    target = spec.get("targetRef") or {}
    if not horizontal:
        return {}
    key = (namespace or "", str(target.get("kind", "")), str(target.get("name", "")))
    return {
        key: GovernedPolicy(
            namespace=key[0],
            policy=name,
            kind=key[1],
            workload=key[2],
            priority=int(spec.get("priority") or 0),
            min_replicas=int(horizontal.get("minReplicas") or 1),
        )
    }


@dataclass(frozen=True)
class StoredPolicy:
    """A policy as the watch last delivered it, kept as compact JSON: a quarter of the memory of the
    parsed object, which a round rebuilds for one policy at a time."""

    namespace: str
    uid: str
    compact: str

    def raw(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.compact)
        return parsed


@kopf.index(GROUP, VERSION, "scalingpolicies")
def scaling_policy_bodies(body: kopf.Body, uid: str | None, **_: Any) -> dict[str, StoredPolicy]:
    """Every policy for the evaluation round, without managedFields, kopf's copy of the spec and
    kubectl's, which nothing here reads."""
    kept = without_managed_fields(body)
    meta = kept["metadata"]
    meta["annotations"] = {
        key: value
        for key, value in (meta.get("annotations") or {}).items()
        if not key.startswith(f"{ANNOTATION_PREFIX}/") and key != LAST_APPLIED
    }
    compact = json.dumps(kept, separators=(",", ":"))
    return {str(uid): StoredPolicy(str(meta.get("namespace", "")), str(uid), compact)}


def _ready(status: Mapping[str, Any]) -> bool:
    """Whether a pod's or node's Ready condition is True."""
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])


def controller_of(meta: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The owner reference of an object's controller (a pod's ReplicaSet, a ReplicaSet's Deployment)."""
    return next((o for o in meta.get("ownerReferences") or [] if o.get("controller")), None)


@dataclass(frozen=True)
class PodSeen:
    """A pod of a ReplicaSet or StatefulSet, as placement reads it."""

    name: str
    node: str | None
    sent_to: str | None  # the capacity type Thrifty's webhook sent it to, from its annotation
    ready: bool
    created: float
    deleting: bool
    cpu_request: float = 0.0  # cores, summed over its containers
    memory_request: float = 0.0  # bytes


# The pod, ReplicaSet, node and PodDisruptionBudget indexes are coroutines: kopf runs them on its event
# loop instead of a worker thread per event, and pods change more often than anything else it watches.
@kopf.index("", "v1", "pods")
async def pods_by_owner(body: kopf.Body, **_: Any) -> dict[tuple[str, str, str], PodSeen]:
    """Live pods by their controller: (namespace, ReplicaSet or StatefulSet, its name)."""
    meta, spec, status = body.get("metadata") or {}, body.get("spec") or {}, body.get("status") or {}
    owner = controller_of(meta)
    if owner is None or owner.get("kind") not in ("ReplicaSet", "StatefulSet"):
        return {}
    if status.get("phase") in ("Succeeded", "Failed"):
        return {}
    annotations = meta.get("annotations") or {}
    if mark := str(annotations.get(PLACEMENT_MARK_ANNOTATION, "")):
        admission_seen(mark)
    created = meta.get("creationTimestamp")
    cpu, memory = pod_requests(spec)
    seen = PodSeen(
        name=str(meta.get("name", "")),
        node=spec.get("nodeName") or None,
        sent_to=annotations.get(CAPACITY_TYPE_ANNOTATION),
        ready=_ready(status),
        created=datetime.fromisoformat(str(created)).timestamp() if created else 0.0,
        deleting=bool(meta.get("deletionTimestamp")),
        cpu_request=cpu,
        memory_request=memory,
    )
    return {(str(meta.get("namespace", "")), str(owner["kind"]), str(owner.get("name", ""))): seen}


def _deployment_of(body: kopf.Body) -> tuple[str, str, str] | None:
    """(namespace, ReplicaSet, Deployment) of a ReplicaSet a Deployment controls."""
    meta = body.get("metadata") or {}
    owner = controller_of(meta)
    if owner is None or owner.get("kind") != "Deployment":
        return None
    return str(meta.get("namespace", "")), str(meta.get("name", "")), str(owner.get("name", ""))


@kopf.index("apps", "v1", "replicasets")
async def replica_sets_by_deployment(body: kopf.Body, **_: Any) -> dict[tuple[str, str], str]:
    """(namespace, Deployment) -> the names of its ReplicaSets."""
    found = _deployment_of(body)
    return {} if found is None else {(found[0], found[2]): found[1]}


@kopf.index("apps", "v1", "replicasets")
async def replica_set_owners(body: kopf.Body, **_: Any) -> dict[tuple[str, str], str]:
    """(namespace, ReplicaSet) -> its Deployment."""
    found = _deployment_of(body)
    return {} if found is None else {(found[0], found[1]): found[2]}


@dataclass(frozen=True)
class NodeSeen:
    labels: Mapping[str, str]
    schedulable: bool  # Ready and not cordoned
    capacity: NodeCapacity | None  # from status.capacity; None when it gives no CPU or memory


def _node_capacity(status: Mapping[str, Any]) -> NodeCapacity | None:
    capacity = status.get("capacity") or {}
    try:
        return NodeCapacity(
            vcpus=parse_quantity(capacity["cpu"]),
            memory_gib=parse_quantity(capacity["memory"]) / 2**30,
            gpus=parse_quantity(capacity.get("nvidia.com/gpu", 0)),
        )
    except (KeyError, ValueError):
        return None


@kopf.index("", "v1", "nodes")
async def nodes(name: str, body: kopf.Body, **_: Any) -> dict[str, NodeSeen]:
    spec, status = body.get("spec") or {}, body.get("status") or {}
    labels = {str(k): str(v) for k, v in (body.get("metadata", {}).get("labels") or {}).items()}
    return {name: NodeSeen(labels, _ready(status) and not spec.get("unschedulable"), _node_capacity(status))}


@kopf.index("policy", "v1", "poddisruptionbudgets")
async def disruption_budgets(namespace: str | None, body: kopf.Body, **_: Any) -> dict[str, LabelSelector]:
    """Each namespace's PodDisruptionBudget selectors."""
    selector = (body.get("spec") or {}).get("selector")
    if selector is None:
        return {}
    return {namespace or "": LabelSelector.model_validate(dict(selector))}


@kopf.index(GROUP, VERSION, "resourcebudgets")
def budgets(name: str, spec: kopf.Spec, status: kopf.Status, **_: Any) -> dict[str, BudgetView]:
    view = BudgetView.of(
        name, ResourceBudgetSpec.model_validate(dict(spec)), ResourceBudgetStatus.model_validate(dict(status))
    )
    return {name: view}


@kopf.index(GROUP, VERSION, "costpolicies")
def cost_policies(name: str, spec: kopf.Spec, **_: Any) -> dict[str, CostPolicySpec]:
    return {name: CostPolicySpec.model_validate(dict(spec))}


def _items(index: Mapping[Any, Iterable[Any]], key: Any, kind: type[T]) -> list[T]:
    return [item for item in index.get(key, []) if isinstance(item, kind)]


def first(index: Mapping[Any, Iterable[Any]], key: Any) -> Any:
    """The first item indexed under ``key``, None when there is none."""
    for item in index.get(key, []):
        return item
    return None


def find_workload(indexes: Mapping[str, Any], kind: str, namespace: str, name: str) -> Workload | None:
    """The Deployment or StatefulSet, from a handler's keyword arguments."""
    for index in (indexes["deployments"], indexes["statefulsets"]):
        found = _items(index, (kind, namespace, name), Workload)
        if found:
            return found[0]
    return None


def autoscalers_of(indexes: Mapping[str, Any], kind: str, namespace: str, name: str) -> list[OtherAutoscaler]:
    """Every HPA and VPA that targets the workload."""
    return [
        item
        for index in (indexes["horizontal_autoscalers"], indexes["vertical_autoscalers"])
        for item in _items(index, (kind, namespace, name), OtherAutoscaler)
    ]


def budget_views(indexes: Mapping[str, Any]) -> list[BudgetView]:
    return [view for items in indexes["budgets"].values() for view in items if isinstance(view, BudgetView)]


def cost_policy_specs(indexes: Mapping[str, Any]) -> dict[str, CostPolicySpec]:
    index = indexes["cost_policies"]
    return {name: found[0] for name in index if (found := _items(index, name, CostPolicySpec))}


def policy_bodies(indexes: Mapping[str, Any]) -> list[StoredPolicy]:
    """Every ScalingPolicy the watch knows."""
    index = indexes["scaling_policy_bodies"]
    return [found for uid in list(index) if (found := first(index, uid)) is not None]


def _pods_of(indexes: Mapping[str, Any], namespace: str, kind: str, name: str) -> list[PodSeen]:
    """The live pods of a Deployment (through its ReplicaSets) or StatefulSet."""
    if kind == "Deployment":
        owners = [
            ("ReplicaSet", rs) for rs in indexes["replica_sets_by_deployment"].get((namespace, name), [])
        ]
    else:
        owners = [("StatefulSet", name)]
    return [
        pod
        for owner_kind, owner in owners
        for pod in _items(indexes["pods_by_owner"], (namespace, owner_kind, owner), PodSeen)
    ]


def workload_pods(
    indexes: Mapping[str, Any], namespace: str, kind: str, name: str, labels: Sequence[SpotLabel]
) -> list[PodRecord]:
    """The live pods of a workload, each on the capacity type of its node, or the one it was sent to
    while it waits for a node."""
    known_nodes = indexes["nodes"]
    found = []
    for pod in _pods_of(indexes, namespace, kind, name):
        node = first(known_nodes, pod.node) if pod.node else None
        capacity: Capacity | None
        if isinstance(node, NodeSeen):
            capacity = capacity_type(node.labels, labels)
        else:
            capacity = pod.sent_to if pod.sent_to in ("spot", "on-demand") else None  # type: ignore[assignment]
        found.append(
            PodRecord(pod.name, capacity, pod.node is not None, pod.ready, pod.created, pod.deleting)
        )
    return found


@dataclass(frozen=True)
class FallbackWaiting:
    """Whether some workload is in spot fallback, and the requests (cores, bytes) of its pods that
    wait for an on-demand node."""

    active: bool
    waiting: list[tuple[float, float]]


def fallback_waiting_pods(indexes: Mapping[str, Any]) -> FallbackWaiting:
    """Over every ScalingPolicy whose status shows a spot fallback (status.placement.fallbackSince)."""
    active = False
    waiting = []
    for stored in policy_bodies(indexes):
        raw = stored.raw()
        if not ((raw.get("status") or {}).get("placement") or {}).get("fallbackSince"):
            continue
        active = True
        target = (raw.get("spec") or {}).get("targetRef") or {}
        for pod in _pods_of(indexes, stored.namespace, str(target.get("kind")), str(target.get("name"))):
            if pod.node is None and not pod.deleting and pod.sent_to == "on-demand":
                waiting.append((pod.cpu_request, pod.memory_request))
    return FallbackWaiting(active, waiting)


def workload_pod_nodes(
    indexes: Mapping[str, Any], namespace: str, kind: str, name: str
) -> list[Mapping[str, str]]:
    """The labels of the node each of a workload's running pods is on now, one entry per pod."""
    known_nodes = indexes["nodes"]
    found = []
    for pod in _pods_of(indexes, namespace, kind, name):
        node = first(known_nodes, pod.node) if pod.node and not pod.deleting else None
        if isinstance(node, NodeSeen):
            found.append(node.labels)
    return found


def pod_workload(
    indexes: Mapping[str, Any], namespace: str, owner_kind: str, owner: str
) -> tuple[str, str] | None:
    """The (kind, name) of the Deployment or StatefulSet a new pod's controller belongs to."""
    if owner_kind == "StatefulSet":
        return "StatefulSet", owner
    if owner_kind == "ReplicaSet":
        deployment = first(indexes["replica_set_owners"], (namespace, owner))
        return None if deployment is None else ("Deployment", str(deployment))
    return None


def cluster_nodes(indexes: Mapping[str, Any]) -> list[NodeSeen]:
    return [node for items in indexes["nodes"].values() for node in items if isinstance(node, NodeSeen)]


def cluster_node_labels(indexes: Mapping[str, Any]) -> list[Mapping[str, str]]:
    return [node.labels for node in cluster_nodes(indexes)]


def spot_schedulable(indexes: Mapping[str, Any], labels: Sequence[SpotLabel]) -> bool:
    """Whether some spot node is Ready and not cordoned."""
    return any(
        node.schedulable and capacity_type(node.labels, labels) == "spot" for node in cluster_nodes(indexes)
    )


def covered_by_disruption_budget(indexes: Mapping[str, Any], workload: Workload) -> bool:
    return any(
        selector.match_labels or selector.match_expressions
        for selector in _items(indexes["disruption_budgets"], workload.namespace, LabelSelector)
        if selector.matches(workload.pod_labels)
    )


def namespace_labels_of(indexes: Mapping[str, Any], namespace: str) -> dict[str, str]:
    found = first(indexes["namespace_labels"], namespace)
    return dict(found) if isinstance(found, dict) else {"kubernetes.io/metadata.name": namespace}


def governed_policies(indexes: Mapping[str, Any]) -> dict[WorkloadKey, GovernedPolicy]:
    index = indexes["horizontal_policies"]
    return {key: found[0] for key in index if (found := _items(index, key, GovernedPolicy))}
