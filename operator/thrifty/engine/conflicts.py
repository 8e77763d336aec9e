"""Who else sizes a workload. Two controllers changing the same field fight; Thrifty steps back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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
