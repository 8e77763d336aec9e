"""Crash-safe actions: a change is recorded in the policy's status as pending just before it is made,
and cleared in the status write that records its outcome. A pending action found at the start of a
round was interrupted; the workload itself tells whether it happened."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from thrifty.api.scaling_policy import LastAction
from thrifty.engine.horizontal import ScaleEvent
from thrifty.engine.quantities import format_cpu, format_memory
from thrifty.engine.workload_records import Workload

__all__ = ["RESIZE_ACTION", "SCALE_ACTIONS", "Resolved", "requests_summary", "resolve_pending"]

SCALE_ACTIONS = frozenset({"ScaleUp", "ScaleDown"})
RESIZE_ACTION = "Resize"


@dataclass(frozen=True)
class Resolved:
    """An interrupted action that did happen: the last action it is, and for a scale the change the
    rate policies and cooldowns must count."""

    action: LastAction
    event: ScaleEvent | None


def resolve_pending(pending: LastAction | None, workload: Workload | None) -> Resolved | None:
    """The pending action if the workload shows it was done; None if there was none or it never
    happened (the process stopped before the write, or the write failed)."""
    if pending is None or workload is None or pending.time is None or pending.to is None:
        return None
    if pending.action in SCALE_ACTIONS:
        if str(workload.desired_replicas) != pending.to or pending.from_ is None:
            return None
        at = datetime.fromisoformat(pending.time).timestamp()
        return Resolved(pending, ScaleEvent(at, int(pending.from_), int(pending.to)))
    if pending.action == RESIZE_ACTION and requests_summary(workload, pending.to) == pending.to:
        return Resolved(pending, None)
    return None


def requests_summary(workload: Workload, like: str) -> str:
    """The pod template's requests now, for the containers and resources that ``like`` names, in its
    form: "web cpu 250m memory 347Mi, sidecar cpu 10m"."""
    template = {c.name: c for c in workload.containers}
    parts = []
    for part in like.split(", "):
        name, *words = part.split(" ")
        container = template.get(name)
        values = []
        for resource in words[::2]:
            value = None
            if container is not None:
                value = container.cpu_request if resource == "cpu" else container.memory_request
            shown = (
                "unset" if value is None else format_cpu(value) if resource == "cpu" else format_memory(value)
            )
            values.append(f"{resource} {shown}")
        parts.append(" ".join([name, *values]))
    return ", ".join(parts)
