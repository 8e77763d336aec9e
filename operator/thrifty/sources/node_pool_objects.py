"""Read the node pools a CostPolicy lists: Karpenter NodePools (karpenter.sh/v1) and Cluster API
MachineDeployments (cluster.x-k8s.io, v1beta2 where served, else v1beta1), one GET each.

What is read is turned into plain records: the requirements, weight and limits of a NodePool, the
replicas, autoscaler bounds and node labels of a MachineDeployment, and which other field managers
declare (server-side apply) the fields the operator may write, since those are reported, not forced.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from kubernetes import client

from thrifty import FIELD_MANAGER
from thrifty.engine.node_pool_steering import Requirement
from thrifty.settings import ANNOTATION_PREFIX
from thrifty.sources.kube import api_client

__all__ = [
    "CLUSTER_API_GROUP",
    "KARPENTER",
    "LIMITS_BEFORE_RAISE_ANNOTATION",
    "MACHINE_MAX_SIZE",
    "MACHINE_MIN_SIZE",
    "MachineDeploymentObject",
    "NodePoolObject",
    "NodePoolReadError",
    "apply_managers",
    "machine_api_version",
    "read_machine_deployment",
    "read_node_pool",
]

KARPENTER: Final = ("karpenter.sh", "v1", "nodepools")
CLUSTER_API_GROUP: Final = "cluster.x-k8s.io"
# Newest first: v1beta2 is the storage version from Cluster API 1.11 on.
_CLUSTER_API_VERSIONS: Final = ("v1beta2", "v1beta1")
MACHINE_MIN_SIZE: Final = "cluster.x-k8s.io/cluster-api-autoscaler-node-group-min-size"
MACHINE_MAX_SIZE: Final = "cluster.x-k8s.io/cluster-api-autoscaler-node-group-max-size"
# The limits a pool had before a raise, and those the raise set, written in the same patch as the
# raise itself so that a restart at any point knows whether (and to what) to restore them.
LIMITS_BEFORE_RAISE_ANNOTATION: Final = f"{ANNOTATION_PREFIX}/limits-before-raise"


class NodePoolReadError(RuntimeError):
    """The pool could not be read: its API is not served, or the API server refused or failed."""


@dataclass(frozen=True)
class NodePoolObject:
    name: str
    requirements: tuple[Requirement, ...]
    weight: int | None
    limits: Mapping[str, str]
    limits_before_raise: Mapping[str, str] | None
    raised_to: Mapping[str, str] | None
    declared_elsewhere: Mapping[str, tuple[str, ...]]  # "weight"/"limits" -> other Apply managers


@dataclass(frozen=True)
class MachineDeploymentObject:
    namespace: str
    name: str
    api_version: str
    replicas: int
    min_size: int | None
    max_size: int | None
    node_labels: Mapping[str, str]


def read_node_pool(name: str) -> NodePoolObject | None:
    """The NodePool, or None when it does not exist."""
    group, version, plural = KARPENTER
    try:
        raw: dict[str, Any] = client.CustomObjectsApi(api_client()).get_cluster_custom_object(
            group, version, plural, name
        )
    except client.ApiException as err:
        if err.status == 404 and _served(group, version, plural):
            return None
        raise NodePoolReadError(_why(err, f"{group}/{version} NodePool {name}")) from err
    spec = raw.get("spec") or {}
    template = (spec.get("template") or {}).get("spec") or {}
    annotations = (raw.get("metadata") or {}).get("annotations") or {}
    before, raised = _raise_record(annotations.get(LIMITS_BEFORE_RAISE_ANNOTATION))
    weight = spec.get("weight")
    return NodePoolObject(
        name=name,
        requirements=tuple(
            Requirement(
                str(r.get("key", "")), str(r.get("operator", "")), tuple(map(str, r.get("values") or ()))
            )
            for r in template.get("requirements") or ()
        ),
        weight=int(weight) if weight is not None else None,
        limits={str(k): str(v) for k, v in (spec.get("limits") or {}).items()},
        limits_before_raise=before,
        raised_to=raised,
        declared_elsewhere={
            field: apply_managers(raw, ("f:spec", f"f:{field}")) for field in ("weight", "limits")
        },
    )


def read_machine_deployment(namespace: str, name: str) -> MachineDeploymentObject | None:
    """The MachineDeployment at the newest served version, or None when it does not exist."""
    version = machine_api_version()
    if version is None:
        raise NodePoolReadError(
            f"MachineDeployment {namespace}/{name}: the {CLUSTER_API_GROUP} API is not served in this cluster"
        )
    try:
        raw: dict[str, Any] = client.CustomObjectsApi(api_client()).get_namespaced_custom_object(
            CLUSTER_API_GROUP, version, namespace, "machinedeployments", name
        )
    except client.ApiException as err:
        if err.status == 404:
            return None
        raise NodePoolReadError(_why(err, f"MachineDeployment {namespace}/{name}")) from err
    meta, spec = raw.get("metadata") or {}, raw.get("spec") or {}
    annotations = meta.get("annotations") or {}
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    return MachineDeploymentObject(
        namespace=namespace,
        name=name,
        api_version=version,
        replicas=int(spec.get("replicas") or 0),
        min_size=_size(annotations.get(MACHINE_MIN_SIZE)),
        max_size=_size(annotations.get(MACHINE_MAX_SIZE)),
        node_labels={str(k): str(v) for k, v in labels.items()},
    )


def machine_api_version() -> str | None:
    """The newest served Cluster API version that serves MachineDeployments, or None."""
    for version in _CLUSTER_API_VERSIONS:
        if _served(CLUSTER_API_GROUP, version, "machinedeployments"):
            return version
    return None


def _served(group: str, version: str, plural: str) -> bool:
    try:
        found = client.CustomObjectsApi(api_client()).get_api_resources(group, version)
    except client.ApiException:
        return False
    return any(resource.name == plural for resource in (found.resources if found else []) or [])


def _why(err: client.ApiException, what: str) -> str:
    if err.status == 404:
        return f"{what}: the API is not served in this cluster"
    return f"{what}: the API server answered {err.status} {err.reason}"


def _size(value: Any) -> int | None:
    try:
        return int(str(value)) if value is not None else None
    except ValueError:
        return None


def _raise_record(text: Any) -> tuple[dict[str, str] | None, dict[str, str] | None]:
    """(limits before the raise, limits the raise set) from the annotation; (None, None) without it."""
    if not text:
        return None, None
    try:
        record = json.loads(str(text))
        before = {str(k): str(v) for k, v in (record.get("before") or {}).items()}
        raised = {str(k): str(v) for k, v in (record.get("raised") or {}).items()}
    except (ValueError, AttributeError):
        return None, None
    return before, raised


def apply_managers(raw: Mapping[str, Any], path: Sequence[str]) -> tuple[str, ...]:
    """Managers other than thrifty that declare the field at ``path`` by server-side apply: a GitOps
    tool or a person's `kubectl apply --server-side`, whose declaration the operator must not
    overwrite. (Update managers, such as client-side `kubectl apply`, record no intent to keep a
    value: a later write takes the field over.)"""
    owners = []
    for entry in (raw.get("metadata") or {}).get("managedFields") or []:
        if entry.get("operation") != "Apply" or entry.get("manager") == FIELD_MANAGER:
            continue
        node: Any = entry.get("fieldsV1") or {}
        for step in path:
            node = node.get(step) if isinstance(node, dict) else None
        if node is not None:
            owners.append(str(entry.get("manager")))
    return tuple(sorted(set(owners)))
