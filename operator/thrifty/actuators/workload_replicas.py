"""Set a workload's replicas through its scale subresource, as field manager `thrifty`.

The scale subresource is what the HPA writes; it needs only the `scale` permission and touches
nothing but spec.replicas, so Argo CD users can ignore exactly that field for manager `thrifty`.
"""

from __future__ import annotations

from kubernetes import client

from thrifty import FIELD_MANAGER
from thrifty.sources.kube import api_client


def scale_workload(kind: str, namespace: str, name: str, replicas: int) -> None:
    if replicas < 0:
        raise ValueError("replicas must be non-negative")
    body = {"spec": {"replicas": replicas}}
    apps = client.AppsV1Api(api_client())
    if kind == "Deployment":
        apps.patch_namespaced_deployment_scale(name, namespace, body, field_manager=FIELD_MANAGER)
    elif kind == "StatefulSet":
        apps.patch_namespaced_stateful_set_scale(name, namespace, body, field_manager=FIELD_MANAGER)
    else:
        raise ValueError(f"cannot scale a {kind}")
