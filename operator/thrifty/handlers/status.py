"""Write a resource's status only when it changed, and post an Event when Ready changes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import kopf

from thrifty.api.common import ApiModel, Condition
from thrifty.api.conditions import Observation, merge_conditions, ready_from


def publish(
    body: kopf.Body,
    patch: kopf.Patch,
    status_model: type[ApiModel],
    prerequisites: Sequence[Observation],
    ready: tuple[str, str],
    fields: Mapping[str, Any] | None = None,
    informational: Sequence[Observation] = (),
    not_ready: Observation | None = None,
) -> None:
    """Merge the observations into status (plus a summary Ready) and patch what differs.

    Ready is False with the first failing prerequisite's reason, or with `not_ready` when given;
    informational conditions are reported without deciding Ready.

    Re-running with the same observations patches nothing and posts nothing, which is what makes a
    restart of the operator free of side effects.
    """
    current_raw: Mapping[str, Any] = body.get("status") or {}
    current = status_model.model_validate(current_raw)
    existing: list[Condition] = list(getattr(current, "conditions", []))
    summary = ready_from(prerequisites, *ready)
    if summary.status == "True" and not_ready is not None:
        summary = not_ready
    generation = body.metadata.get("generation")
    conditions = merge_conditions(
        existing, [*prerequisites, *informational, summary], generation, datetime.now(UTC)
    )
    desired = current.model_copy(
        update={"observed_generation": generation, "conditions": conditions, **(fields or {})}
    )
    wire = desired.to_wire()
    for key, value in wire.items():
        if current_raw.get(key) != value:
            patch.status[key] = value
    before = next((c for c in existing if c.type == "Ready"), None)
    if before is None or (before.status, before.reason) != (summary.status, summary.reason):
        kind = "Normal" if summary.status == "True" else "Warning"
        kopf.event(body, type=kind, reason=summary.reason, message=summary.message)
