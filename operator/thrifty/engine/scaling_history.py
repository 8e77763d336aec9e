"""What the stabilization windows, rate policies and cooldowns remember, to and from
``status.scalingHistory``: keeping it in the cluster is what lets a restarted operator decide exactly
as before."""

from __future__ import annotations

from datetime import UTC, datetime

from thrifty.api.common import rfc3339
from thrifty.api.scaling_policy import DesiredReplicas, ScaleChange, ScalingHistory
from thrifty.engine.horizontal import HorizontalState, Recommendation, ScaleEvent

__all__ = ["history_from", "stamp", "state_from"]


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
