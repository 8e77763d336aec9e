"""Kubernetes-convention conditions: one per type, lastTransitionTime moves only when status does."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from thrifty.api.common import Condition, rfc3339

ConditionStatus = Literal["True", "False", "Unknown"]


@dataclass(frozen=True)
class Observation:
    """What a reconciler concluded about one condition type."""

    type: str
    status: ConditionStatus
    reason: str
    message: str


def merge_conditions(
    existing: Sequence[Condition], observed: Iterable[Observation], generation: int | None, now: datetime
) -> list[Condition]:
    """Conditions after applying observations; types not observed now are kept as they were."""
    by_type = {condition.type: condition for condition in existing}
    for item in observed:
        before = by_type.get(item.type)
        moved = before is None or before.status != item.status
        by_type[item.type] = Condition(
            type=item.type,
            status=item.status,
            reason=item.reason,
            message=item.message,
            observed_generation=generation,
            last_transition_time=rfc3339(now) if moved or before is None else before.last_transition_time,
        )
    return sorted(by_type.values(), key=lambda condition: (condition.type != "Ready", condition.type))


def ready_from(observed: Sequence[Observation], ok_reason: str, ok_message: str) -> Observation:
    """The summary `Ready`: False with the first failing condition's reason, else True."""
    for item in observed:
        if item.status != "True":
            return Observation("Ready", "False", item.reason, item.message)
    return Observation("Ready", "True", ok_reason, ok_message)
