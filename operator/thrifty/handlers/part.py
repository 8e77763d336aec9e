"""What one half of a ScalingPolicy (vertical or horizontal) concluded, for the status writer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import kopf

from thrifty.api.conditions import Observation
from thrifty.sources.workloads import Workload


@dataclass
class Part:
    prerequisites: list[Observation] = field(default_factory=list)  # decide Ready
    informational: list[Observation] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)  # status fields (snake_case)
    not_ready: Observation | None = None  # overrides a True Ready (e.g. a conflict in Apply mode)


def combined(kind: str, observations: list[Observation]) -> Observation | None:
    """One condition from several halves' observations of it: False if any is False."""
    if not observations:
        return None
    failing = [o for o in observations if o.status != "True"]
    chosen = failing or observations
    messages = dict.fromkeys(o.message for o in chosen)  # both halves may say the same thing
    return Observation(kind, chosen[0].status, chosen[0].reason, "; ".join(messages))


def record_change(body: kopf.Body, workload: Workload, reason: str, message: str, by_policy: str) -> None:
    """An Event on the policy and one on the workload, so both `kubectl describe`s show the change."""
    # kopf.event, not kopf.info: info-level Events are dropped at the WARNING posting level we set.
    kopf.event(body, type="Normal", reason=reason, message=message)
    kopf.event(
        kopf.Body(workload.reference()),  # type: ignore[arg-type]  # kopf builds a Body from any raw dict
        type="Normal",
        reason=reason,
        message=f"by ScalingPolicy {body.metadata.name}: {by_policy}",
    )
