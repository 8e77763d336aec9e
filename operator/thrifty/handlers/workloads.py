"""What the operator knows about Deployments and StatefulSets, from kopf indexes (no API calls)."""

from __future__ import annotations

from typing import Any

import kopf

from thrifty.engine.conflicts import OtherAutoscaler
from thrifty.sources.workloads import Workload, workload_from


def _workload(kind: str, body: kopf.Body) -> dict[tuple[str, str, str], Workload]:
    workload = workload_from(kind, body)
    return {(kind, workload.namespace, workload.name): workload}


@kopf.index("apps", "v1", "deployments")
def deployments(body: kopf.Body, **_: Any) -> dict[tuple[str, str, str], Workload]:
    return _workload("Deployment", body)


@kopf.index("apps", "v1", "statefulsets")
def statefulsets(body: kopf.Body, **_: Any) -> dict[tuple[str, str, str], Workload]:
    return _workload("StatefulSet", body)


def find_workload(
    indexes: list[kopf.Index[Any, Any]], kind: str, namespace: str, name: str
) -> Workload | None:
    for index in indexes:
        for workload in index.get((kind, namespace, name), []):
            if isinstance(workload, Workload):
                return workload
    return None


AutoscalerIndex = dict[tuple[str, str, str], OtherAutoscaler]


def _target(spec: Any) -> tuple[str, str]:
    ref = spec.get("scaleTargetRef") or spec.get("targetRef") or {}
    return str(ref.get("kind", "")), str(ref.get("name", ""))


@kopf.index("autoscaling", "v2", "horizontalpodautoscalers")
def horizontal_autoscalers(namespace: str | None, name: str, spec: Any, **_: Any) -> AutoscalerIndex:
    kind, target = _target(spec)
    declared = spec.get("metrics") or []
    # An HPA that declares no metrics scales on CPU (80%) by default.
    metrics = _resource_metric_names(declared) if declared else ("cpu",)
    return {(kind, namespace or "", target): OtherAutoscaler("HorizontalPodAutoscaler", name, metrics)}


def _resource_metric_names(metrics: list[Any]) -> tuple[str, ...]:
    """Names of an HPA's Resource and ContainerResource metrics (cpu, memory)."""
    sources = {"Resource": "resource", "ContainerResource": "containerResource"}
    return tuple(
        str((metric.get(sources[metric["type"]]) or {}).get("name", ""))
        for metric in metrics
        if metric.get("type") in sources
    )


@kopf.index("autoscaling.k8s.io", "v1", "verticalpodautoscalers")
def vertical_autoscalers(namespace: str | None, name: str, spec: Any, **_: Any) -> AutoscalerIndex:
    kind, target = _target(spec)
    mode = (spec.get("updatePolicy") or {}).get("updateMode")
    return {(kind, namespace or "", target): OtherAutoscaler("VerticalPodAutoscaler", name, update_mode=mode)}


def autoscalers_of(
    indexes: list[kopf.Index[Any, Any]], kind: str, namespace: str, name: str
) -> list[OtherAutoscaler]:
    return [
        item
        for index in indexes
        for item in index.get((kind, namespace, name), [])
        if isinstance(item, OtherAutoscaler)
    ]
