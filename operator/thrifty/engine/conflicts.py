"""Who else sizes a workload. Two controllers changing the same field fight; Thrifty steps back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from thrifty.api.condition_types import PolicyCondition, PolicyReason
from thrifty.api.conditions import READY, Observation

__all__ = [
    "VPA_UPDATING_MODES",
    "OtherAutoscaler",
    "conflict_conditions",
    "horizontal_autoscaler",
    "horizontal_conflicts",
    "vertical_conflicts",
]

# VPA update modes in which the VPA itself changes pods (Off and Initial-only-on-create do not fight).
VPA_UPDATING_MODES = frozenset({"Auto", "Recreate", "InPlaceOrRecreate"})


@dataclass(frozen=True)
class OtherAutoscaler:
    kind: str  # HorizontalPodAutoscaler or VerticalPodAutoscaler
    name: str
    resource_metrics: tuple[str, ...] = ()  # an HPA's Resource/ContainerResource metric names
    update_mode: str | None = None  # a VPA's updatePolicy.updateMode (None means its default, Auto)


def vertical_conflicts(others: Sequence[OtherAutoscaler]) -> list[str]:
    """Reasons right-sizing must not act: an HPA on CPU/memory (resizing moves its utilization target)
    or a VPA that updates pods itself."""
    reasons = []
    for other in others:
        if other.kind == "HorizontalPodAutoscaler":
            sized = sorted(set(other.resource_metrics) & {"cpu", "memory"})
            if sized:
                reasons.append(f"HorizontalPodAutoscaler {other.name} scales on {' and '.join(sized)}")
        elif other.kind == "VerticalPodAutoscaler" and (other.update_mode or "Auto") in VPA_UPDATING_MODES:
            reasons.append(
                f"VerticalPodAutoscaler {other.name} updates pods (updateMode {other.update_mode or 'Auto'})"
            )
    return reasons


def horizontal_conflicts(others: Sequence[OtherAutoscaler]) -> list[str]:
    """Reasons horizontal scaling must not act: any HPA on the same workload owns its replicas."""
    return [
        f"HorizontalPodAutoscaler {o.name} scales the same workload"
        for o in others
        if o.kind == "HorizontalPodAutoscaler"
    ]


def horizontal_autoscaler(name: str, declared_metrics: Sequence[str] | None) -> OtherAutoscaler:
    """An HPA; ``declared_metrics`` are its Resource metric names, None when its spec lists no metric
    at all, which the HPA reads as CPU at 80%."""
    metrics = ("cpu",) if declared_metrics is None else tuple(declared_metrics)
    return OtherAutoscaler("HorizontalPodAutoscaler", name, metrics)


def conflict_conditions(conflicts: Sequence[str], mode: str) -> tuple[Observation, Observation | None]:
    """The Conflict condition, and in Apply mode the Ready=False that overrides a True Ready while
    another autoscaler owns what Thrifty would change."""
    if not conflicts:
        return Observation(
            PolicyCondition.CONFLICT,
            "False",
            PolicyReason.NO_CONFLICT,
            "no other autoscaler manages this workload",
        ), None
    found = Observation(PolicyCondition.CONFLICT, "True", PolicyReason.CONFLICT, "; ".join(conflicts))
    if mode != "Apply":
        return found, None
    return found, Observation(
        READY, "False", PolicyReason.CONFLICT, f"nothing is applied: {'; '.join(conflicts)}"
    )
