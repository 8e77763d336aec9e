"""HorizontalPodAutoscalers and VerticalPodAutoscalers as the records conflicts are judged on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from thrifty.engine.conflicts import OtherAutoscaler, horizontal_autoscaler

__all__ = ["autoscaler_target", "hpa_from", "vpa_from"]

_METRIC_SOURCES = {"Resource": "resource", "ContainerResource": "containerResource"}


def autoscaler_target(spec: Mapping[str, Any]) -> tuple[str, str]:
    """(kind, name) of the workload an HPA (scaleTargetRef) or a VPA (targetRef) sizes."""
    ref = spec.get("scaleTargetRef") or spec.get("targetRef") or {}
    return str(ref.get("kind", "")), str(ref.get("name", ""))


def hpa_from(name: str, spec: Mapping[str, Any]) -> OtherAutoscaler:
    declared: Sequence[Mapping[str, Any]] = spec.get("metrics") or []
    names = [
        str((metric.get(_METRIC_SOURCES[metric["type"]]) or {}).get("name", ""))
        for metric in declared
        if metric.get("type") in _METRIC_SOURCES
    ]
    return horizontal_autoscaler(name, names if declared else None)


def vpa_from(name: str, spec: Mapping[str, Any]) -> OtherAutoscaler:
    mode = (spec.get("updatePolicy") or {}).get("updateMode")
    return OtherAutoscaler("VerticalPodAutoscaler", name, update_mode=mode)
