"""Deployments and StatefulSets as plain records: what their pod templates request now."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubernetes import client

from thrifty.engine.quantities import parse_quantity
from thrifty.engine.workload_records import TemplateContainer, Workload
from thrifty.settings import ANNOTATION_PREFIX
from thrifty.sources.kube import api_client

WORKLOAD_KINDS = ("Deployment", "StatefulSet")


def workload_from(kind: str, obj: Mapping[str, Any]) -> Workload:
    """A workload from its JSON form (as kopf and the API return it)."""
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    template = (spec.get("template") or {}).get("spec") or {}
    return Workload(
        kind=kind,
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        uid=str(meta.get("uid", "")),
        desired_replicas=int(spec.get("replicas", 1)),
        replicas=int(status.get("replicas") or 0),
        containers=tuple(_template_container(c) for c in template.get("containers") or []),
        labels={str(k): str(v) for k, v in (meta.get("labels") or {}).items()},
        # Only Thrifty's own: kubectl's last-applied-configuration alone is the size of the object.
        annotations={
            str(k): str(v)
            for k, v in (meta.get("annotations") or {}).items()
            if str(k).startswith(f"{ANNOTATION_PREFIX}/")
        },
        priority_class=template.get("priorityClassName"),
        pod_labels={
            str(k): str(v)
            for k, v in (((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}).items()
        },
    )


def list_workloads(namespace: str) -> list[Workload]:
    """Every Deployment and StatefulSet of a namespace, read through the API."""
    apps = client.AppsV1Api(api_client())
    serialize = api_client().sanitize_for_serialization
    found = [
        workload_from("Deployment", serialize(d)) for d in apps.list_namespaced_deployment(namespace).items
    ]
    found += [
        workload_from("StatefulSet", serialize(s)) for s in apps.list_namespaced_stateful_set(namespace).items
    ]
    return found


def pod_requests(pod_spec: Mapping[str, Any]) -> tuple[float, float]:
    """Cores and bytes a pod's containers request, summed; a request not set counts as none."""
    containers = [_template_container(c) for c in pod_spec.get("containers") or []]
    return (
        sum(c.cpu_request or 0.0 for c in containers),
        sum(c.memory_request or 0.0 for c in containers),
    )


def _quantity(resources: Mapping[str, Any], section: str, name: str) -> float | None:
    value = (resources.get(section) or {}).get(name)
    return None if value is None else parse_quantity(value)


def _template_container(container: Mapping[str, Any]) -> TemplateContainer:
    resources = container.get("resources") or {}
    return TemplateContainer(
        name=str(container["name"]),
        cpu_request=_quantity(resources, "requests", "cpu"),
        cpu_limit=_quantity(resources, "limits", "cpu"),
        memory_request=_quantity(resources, "requests", "memory"),
        memory_limit=_quantity(resources, "limits", "memory"),
    )
