"""Kubernetes-convention conditions: one per type, lastTransitionTime moves only when status does.

Each kind declares the condition types it owns (``ConditionSet``) and the reasons it gives, as
constants in ``thrifty.api.condition_types``. Publishing a round's observations removes an owned
type that was not observed in that round, so a condition never outlives the part of the spec that
produced it; types owned by someone else (another controller, a user) are left alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from thrifty.api.common import Condition, rfc3339

__all__ = [
    "READY",
    "ConditionSet",
    "ConditionStatus",
    "Observation",
    "merge_conditions",
    "ready_from",
]

ConditionStatus = Literal["True", "False", "Unknown"]
READY: Final = "Ready"


@dataclass(frozen=True)
class Observation:
    """What a reconciler concluded about one condition type."""

    type: str
    status: ConditionStatus
    reason: str
    message: str


@dataclass(frozen=True)
class ConditionSet:
    """The condition types one kind owns, besides its summary ``Ready``."""

    kind: str
    owned: tuple[str, ...]

    def __post_init__(self) -> None:
        if READY in self.owned:
            raise ValueError(f"{self.kind}: Ready is the summary, not one of the owned types")

    @property
    def types(self) -> frozenset[str]:
        return frozenset((READY, *self.owned))

    def check(self, observed: Iterable[Observation]) -> None:
        """Refuse an observation of a type the kind does not declare: a typo would otherwise become a
        condition that no round ever removes."""
        unknown = sorted({o.type for o in observed} - self.types)
        if unknown:
            raise ValueError(f"{self.kind} does not own condition types {', '.join(unknown)}")


def merge_conditions(
    existing: Sequence[Condition],
    observed: Iterable[Observation],
    generation: int | None,
    now: datetime,
    owned: frozenset[str] = frozenset(),
) -> list[Condition]:
    """Conditions after applying observations. A type in ``owned`` that is not observed now is
    removed; any other type not observed now is kept as it was."""
    observations = list(observed)
    seen = {item.type for item in observations}
    by_type = {c.type: c for c in existing if c.type in seen or c.type not in owned}
    for item in observations:
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
    return sorted(by_type.values(), key=lambda condition: (condition.type != READY, condition.type))


def ready_from(observed: Sequence[Observation], ok_reason: str, ok_message: str) -> Observation:
    """The summary `Ready`: False with the first failing condition's reason, else True."""
    for item in observed:
        if item.status != "True":
            return Observation(READY, "False", item.reason, item.message)
    return Observation(READY, "True", ok_reason, ok_message)
