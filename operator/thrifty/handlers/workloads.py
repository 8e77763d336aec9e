"""What the operator knows about Deployments and StatefulSets, from kopf indexes (no API calls)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import kopf


@dataclass(frozen=True)
class Workload:
    kind: str
    namespace: str
    name: str
    replicas: int
    containers: tuple[str, ...]


def _workload(
    kind: str, namespace: str | None, name: str, spec: Any, status: Any
) -> dict[tuple[str, str, str], Workload]:
    containers = tuple(c["name"] for c in spec.get("template", {}).get("spec", {}).get("containers", []))
    replicas = int(status.get("replicas") or 0)
    # Both kinds are namespaced: kopf always passes a namespace for them.
    ns = namespace or ""
    return {(kind, ns, name): Workload(kind, ns, name, replicas, containers)}


@kopf.index("apps", "v1", "deployments")
def deployments(
    namespace: str | None, name: str, spec: Any, status: Any, **_: Any
) -> dict[tuple[str, str, str], Workload]:
    return _workload("Deployment", namespace, name, spec, status)


@kopf.index("apps", "v1", "statefulsets")
def statefulsets(
    namespace: str | None, name: str, spec: Any, status: Any, **_: Any
) -> dict[tuple[str, str, str], Workload]:
    return _workload("StatefulSet", namespace, name, spec, status)


def find_workload(
    indexes: list[kopf.Index[Any, Any]], kind: str, namespace: str, name: str
) -> Workload | None:
    for index in indexes:
        for workload in index.get((kind, namespace, name), []):
            if isinstance(workload, Workload):
                return workload
    return None
