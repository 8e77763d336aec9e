"""What the budget handler learns from the cluster without API calls: namespaces' labels, the
ScalingPolicies that own replicas (with their priority and minReplicas), PriorityClasses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import kopf

from thrifty import GROUP, VERSION


@kopf.index("", "v1", "namespaces")
def namespace_labels(name: str, labels: kopf.Labels, **_: Any) -> dict[str, dict[str, str]]:
    return {name: dict(labels)}


@kopf.index("scheduling.k8s.io", "v1", "priorityclasses")
def priority_classes(name: str, body: kopf.Body, **_: Any) -> dict[str, int]:
    return {name: int(body.get("value") or 0)}


@dataclass(frozen=True)
class GovernedPolicy:
    """A ScalingPolicy with a horizontal half: the only workloads whose replicas a budget may lower."""

    namespace: str
    policy: str
    kind: str
    workload: str
    priority: int
    min_replicas: int


@kopf.index(GROUP, VERSION, "scalingpolicies")
def horizontal_policies(
    namespace: str | None, name: str, spec: kopf.Spec, **_: Any
) -> dict[tuple[str, str, str], GovernedPolicy]:
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


def first(index: kopf.Index[Any, Any], key: Any) -> Any:
    for item in index.get(key, []):
        return item
    return None
