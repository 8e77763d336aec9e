"""Write node pools as field manager `thrifty`: a Karpenter NodePool's weight and limits by merge patch
(never its spec.template, which would make Karpenter replace the pool's nodes), and a Cluster API
MachineDeployment's replicas through its scale subresource, as the cluster autoscaler does."""

from __future__ import annotations

import json
from collections.abc import Mapping

from kubernetes import client

from thrifty import FIELD_MANAGER
from thrifty.sources.kube import api_client
from thrifty.sources.node_pool_objects import (
    CLUSTER_API_GROUP,
    KARPENTER,
    LIMITS_BEFORE_RAISE_ANNOTATION,
)

__all__ = ["raise_pool_limits", "restore_pool_limits", "scale_machine_deployment", "set_pool_weight"]


def set_pool_weight(name: str, weight: int) -> None:
    _patch_pool(name, {"spec": {"weight": weight}})


def raise_pool_limits(name: str, before: Mapping[str, str], raised: Mapping[str, str]) -> None:
    """The new limits and the record of what they were, in one patch: a restart never finds one
    without the other."""
    record = json.dumps({"before": dict(before), "raised": dict(raised)}, sort_keys=True)
    _patch_pool(
        name,
        {
            "metadata": {"annotations": {LIMITS_BEFORE_RAISE_ANNOTATION: record}},
            "spec": {"limits": dict(raised)},
        },
    )


def restore_pool_limits(name: str, raised: Mapping[str, str], before: Mapping[str, str] | None) -> None:
    """Limits back to ``before`` (keys the raise added are removed) and the record dropped; with
    ``before`` None, only the record is dropped (someone changed the limits since the raise)."""
    patch: dict[str, object] = {"metadata": {"annotations": {LIMITS_BEFORE_RAISE_ANNOTATION: None}}}
    if before is not None:
        patch["spec"] = {"limits": {**dict.fromkeys(raised), **before}}
    _patch_pool(name, patch)


def _patch_pool(name: str, patch: Mapping[str, object]) -> None:
    group, version, plural = KARPENTER
    client.CustomObjectsApi(api_client()).patch_cluster_custom_object(
        group, version, plural, name, patch, field_manager=FIELD_MANAGER
    )


def scale_machine_deployment(namespace: str, name: str, api_version: str, replicas: int) -> None:
    if replicas < 0:
        raise ValueError("replicas must be non-negative")
    client.CustomObjectsApi(api_client()).patch_namespaced_custom_object_scale(
        CLUSTER_API_GROUP,
        api_version,
        namespace,
        "machinedeployments",
        name,
        {"spec": {"replicas": replicas}},
        field_manager=FIELD_MANAGER,
    )
