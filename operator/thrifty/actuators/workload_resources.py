"""Write container requests and limits into a workload's pod template, as field manager `thrifty`.

A strategic-merge patch that names only the containers and resources being changed, so other
owners' fields (and Argo CD's view of them) stay untouched; Argo CD users can then ignore exactly
what `thrifty` manages (`managedFieldsManagers: [thrifty]`).
"""

from __future__ import annotations

from collections.abc import Mapping

from kubernetes import client

from thrifty import FIELD_MANAGER
from thrifty.engine.policy_requests import ContainerResources
from thrifty.sources.kube import api_client

__all__ = ["patch_container_resources"]


def patch_container_resources(
    kind: str, namespace: str, name: str, containers: Mapping[str, ContainerResources]
) -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": container, "resources": _resources(wanted)}
                        for container, wanted in sorted(containers.items())
                    ]
                }
            }
        }
    }
    apps = client.AppsV1Api(api_client())
    if kind == "Deployment":
        apps.patch_namespaced_deployment(name, namespace, patch, field_manager=FIELD_MANAGER)
    elif kind == "StatefulSet":
        apps.patch_namespaced_stateful_set(name, namespace, patch, field_manager=FIELD_MANAGER)
    else:
        raise ValueError(f"cannot resize a {kind}")


def _resources(wanted: ContainerResources) -> dict[str, dict[str, str]]:
    resources: dict[str, dict[str, str]] = {}
    if wanted.requests:
        resources["requests"] = dict(wanted.requests)
    if wanted.limits:
        resources["limits"] = dict(wanted.limits)
    return resources
