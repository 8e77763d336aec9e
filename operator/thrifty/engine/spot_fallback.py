"""When a workload's spot replicas move to on-demand, and when they come back.

Two states, kept in the cluster (the policy's status) so that a restarted operator decides the same:

- **Placed**: the mix is the target. A spot pod Pending for ``pendingSeconds`` or longer (no spot
  capacity will take it) starts a fallback.
- **Fallback** since a time: new pods, and the spot pods still waiting for a node, go to on-demand;
  spot pods that run keep running. Once ``returnAfterSeconds`` have passed
  and a spot node is schedulable again, the workload is Placed again; its replicas move back one pod
  at a time, and a returned pod that stays Pending starts the next fallback.

Decisions are a function of the persisted state, the observations and ``now``; nothing here reads
the clock.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "FallbackSettings",
    "PlacementDecision",
    "PlacementState",
    "SpotObservation",
    "next_placement_state",
]


@dataclass(frozen=True)
class FallbackSettings:
    enabled: bool
    pending_seconds: float
    return_after_seconds: float


@dataclass(frozen=True)
class PlacementState:
    fallback_since: float | None = None  # unix seconds a fallback began; None: Placed


@dataclass(frozen=True)
class SpotObservation:
    oldest_pending_spot: float | None  # unix seconds since the longest-Pending spot pod waits, if any
    spot_schedulable: bool  # some spot node is Ready and not cordoned


@dataclass(frozen=True)
class PlacementDecision:
    state: PlacementState
    reason: str  # the SpotPlacement condition's reason: Placed or Fallback
    message: str


def next_placement_state(
    state: PlacementState, seen: SpotObservation, settings: FallbackSettings, now: float
) -> PlacementDecision:
    if state.fallback_since is not None:
        waited = now - state.fallback_since
        if waited < settings.return_after_seconds:
            return _fallback(state, f"on on-demand for {waited:.0f} s; spot is tried again after "
                             f"{settings.return_after_seconds:.0f} s")  # fmt: skip
        if not seen.spot_schedulable:
            return _fallback(state, f"on on-demand for {waited:.0f} s; no spot node is schedulable yet")
        return PlacementDecision(
            PlacementState(), "Placed", "spot is schedulable again: replicas move back one pod at a time"
        )
    pending = None if seen.oldest_pending_spot is None else now - seen.oldest_pending_spot
    if settings.enabled and pending is not None and pending >= settings.pending_seconds:
        return _fallback(
            PlacementState(fallback_since=now),
            f"a spot pod was Pending for {pending:.0f} s (limit {settings.pending_seconds:.0f} s): its "
            "replicas run on on-demand",
        )
    if pending is not None:
        return PlacementDecision(
            PlacementState(), "Placed", f"a spot pod is Pending for {pending:.0f} s; the mix is kept"
        )
    return PlacementDecision(PlacementState(), "Placed", "replicas are placed at the target mix")


def _fallback(state: PlacementState, message: str) -> PlacementDecision:
    return PlacementDecision(state, "Fallback", message)
