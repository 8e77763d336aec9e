"""What the operator knows about the cluster without API calls: kopf indexes of the objects every
reconcile reads, and typed look-ups into them.

kopf passes each index to a handler as a keyword argument named after its indexing function; the
look-ups below take those arguments, so a reconcile never digs through an index itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import kopf

from thrifty import GROUP, VERSION
from thrifty.api.cost_policy import CostPolicySpec
from thrifty.api.resource_budget import ResourceBudgetSpec, ResourceBudgetStatus
from thrifty.engine.budget_caps import BudgetView, GovernedPolicy
from thrifty.engine.conflicts import OtherAutoscaler
from thrifty.engine.workload_records import Workload, WorkloadKey
from thrifty.handlers.status_writer import without_managed_fields
from thrifty.settings import ANNOTATION_PREFIX
from thrifty.sources.autoscalers import autoscaler_target, hpa_from, vpa_from
from thrifty.sources.workloads import workload_from

__all__ = [
    "StoredPolicy",
    "autoscalers_of",
    "budget_views",
    "cost_policy_specs",
    "find_workload",
    "first",
    "governed_policies",
    "policy_bodies",
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


def governed_policies(indexes: Mapping[str, Any]) -> dict[WorkloadKey, GovernedPolicy]:
    index = indexes["horizontal_policies"]
    return {key: found[0] for key in index if (found := _items(index, key, GovernedPolicy))}
