"""Fallback to on-demand and the return to spot, as a function of what status keeps and what is seen:
a restart in any state decides as the running operator would have."""

from __future__ import annotations

from thrifty.engine.spot_fallback import (
    FallbackSettings,
    PlacementState,
    SpotObservation,
    next_placement_state,
)

SETTINGS = FallbackSettings(enabled=True, pending_seconds=30, return_after_seconds=60)
CALM = SpotObservation(oldest_pending_spot=None, spot_schedulable=True)
NOW = 1_800_000_000.0


def pending_for(seconds: float, schedulable: bool = False) -> SpotObservation:
    return SpotObservation(oldest_pending_spot=NOW - seconds, spot_schedulable=schedulable)


def test_a_placed_workload_without_pending_pods_stays_placed() -> None:
    decision = next_placement_state(PlacementState(), CALM, SETTINGS, NOW)
    assert (decision.state, decision.reason) == (PlacementState(), "Placed")


def test_a_spot_pod_pending_less_than_the_limit_keeps_the_mix() -> None:
    decision = next_placement_state(PlacementState(), pending_for(29), SETTINGS, NOW)
    assert decision.state == PlacementState()
    assert "29 s" in decision.message


def test_a_spot_pod_pending_for_the_limit_falls_back_from_now() -> None:
    decision = next_placement_state(PlacementState(), pending_for(30), SETTINGS, NOW)
    assert decision.state == PlacementState(fallback_since=NOW)
    assert decision.reason == "Fallback"


def test_fallback_disabled_keeps_waiting_for_spot() -> None:
    off = FallbackSettings(enabled=False, pending_seconds=30, return_after_seconds=60)
    assert next_placement_state(PlacementState(), pending_for(600), off, NOW).state == PlacementState()


def test_a_fallback_holds_until_return_after_even_if_spot_is_back() -> None:
    state = PlacementState(fallback_since=NOW - 59)
    decision = next_placement_state(state, CALM, SETTINGS, NOW)
    assert decision.state == state
    assert decision.reason == "Fallback"


def test_after_return_after_it_returns_only_once_spot_is_schedulable() -> None:
    state = PlacementState(fallback_since=NOW - 60)
    still_cordoned = SpotObservation(oldest_pending_spot=None, spot_schedulable=False)
    assert next_placement_state(state, still_cordoned, SETTINGS, NOW).state == state
    returned = next_placement_state(state, CALM, SETTINGS, NOW)
    assert returned.state == PlacementState()
    assert returned.reason == "Placed"


def test_a_returned_pod_that_stays_pending_starts_the_next_fallback() -> None:
    returned = next_placement_state(PlacementState(fallback_since=NOW - 120), CALM, SETTINGS, NOW)
    later = NOW + 30
    again = next_placement_state(
        returned.state, SpotObservation(oldest_pending_spot=NOW, spot_schedulable=True), SETTINGS, later
    )
    assert again.state == PlacementState(fallback_since=later)


def test_a_restart_in_each_state_decides_the_same() -> None:
    """The state is all status keeps; a new process rebuilds it from there and sees the same."""
    for state, seen in (
        (PlacementState(), CALM),
        (PlacementState(), pending_for(45)),
        (PlacementState(fallback_since=NOW - 10), CALM),
        (PlacementState(fallback_since=NOW - 90), CALM),
    ):
        running = next_placement_state(state, seen, SETTINGS, NOW)
        persisted = PlacementState(state.fallback_since)  # what a restarted operator reads back
        assert next_placement_state(persisted, seen, SETTINGS, NOW) == running
