"""What the stabilization windows, rate policies and cooldowns remember, to and from
``status.scalingHistory``: keeping it in the cluster is what lets a restarted operator decide exactly
as before."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from thrifty.api.common import rfc3339
from thrifty.api.scaling_policy import DesiredReplicas, ScaleChange, ScalingHistory
from thrifty.engine.horizontal import HorizontalState, Recommendation, ScaleEvent

__all__ = ["history_from", "merged_state", "resumed_state", "stamp", "state_from", "with_change"]


def state_from(history: ScalingHistory | None) -> HorizontalState:
    if history is None:
        return HorizontalState()
    return HorizontalState(
        tuple(Recommendation(_seconds(d.time), d.replicas) for d in history.desired),
        tuple(ScaleEvent(_seconds(c.time), c.from_replicas, c.to_replicas) for c in history.changes),
    )


def history_from(state: HorizontalState) -> ScalingHistory:
    return ScalingHistory(
        desired=[DesiredReplicas(time=stamp(r.time), replicas=r.replicas) for r in state.recommendations],
        changes=[
            ScaleChange(time=stamp(e.time), from_replicas=e.from_replicas, to_replicas=e.to_replicas)
            for e in state.events
        ],
    )


def stamp(seconds: float) -> str:
    """Unix seconds as Kubernetes writes a time."""
    return rfc3339(datetime.fromtimestamp(seconds, UTC))


def _seconds(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def resumed_state(persisted: HorizontalState, now: float) -> HorizontalState:
    """The state a process that has not yet decided for a policy starts from. Status keeps the
    desired counts, but their times are written only when something a user reads changes, so each
    remembered count is taken as desired until ``now``: after a restart a scale-down waits at most
    one more stabilization window, and never comes early. Changes are written on every action and
    are exact."""
    return HorizontalState(
        tuple(Recommendation(now, r.replicas) for r in persisted.recommendations), persisted.events
    )


def merged_state(remembered: HorizontalState, persisted: HorizontalState) -> HorizontalState:
    """This process's own state (exact), plus any change the status records that it does not know
    (made by another replica, or recorded after an interrupted action)."""
    state = remembered
    for event in persisted.events:
        state = with_change(state, event)
    return state


def with_change(state: HorizontalState, event: ScaleEvent) -> HorizontalState:
    """``state`` with ``event`` among its changes, unless it is there already. Status keeps whole
    seconds and this process keeps the exact time, so one change is known by its second."""
    if any(_change_key(known) == _change_key(event) for known in state.events):
        return state
    events = sorted((*state.events, event), key=lambda e: (e.time, e.to_replicas))
    return HorizontalState(state.recommendations, tuple(events))


def _change_key(event: ScaleEvent) -> tuple[int, int, int]:
    return math.floor(event.time), event.from_replicas, event.to_replicas
