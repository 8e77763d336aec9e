"""A ScalingPolicy's status is written when something a user reads changes, not every round."""

from __future__ import annotations

from typing import Any

from thrifty.engine.horizontal import HorizontalState, Recommendation, ScaleEvent
from thrifty.engine.scaling_history import history_from, merged_state, resumed_state, state_from
from thrifty.engine.status_changes import policy_status_unchanged

BEFORE: dict[str, Any] = {
    "currentReplicas": 4,
    "currentUtilization": {"cpuPercent": 61.2},
    "recommendation": {
        "replicas": 4,
        "reason": "reactive: cpu at 0.87x target asks for 4 replicas",
        "containers": [
            {"name": "web", "recommended": {"requests": {"cpu": "290m"}}, "reason": "16731 samples"}
        ],
    },
    "forecast": {"metric": "cpu", "peakReplicas": 4, "recentError": 0.029, "peakAt": "2026-01-01T06:00:00Z"},
    "scalingHistory": {"desired": [{"time": "2026-01-01T00:00:00Z", "replicas": 4}], "changes": []},
    "conditions": [
        {"type": "Ready", "status": "True", "reason": "Evaluated", "message": "a", "observedGeneration": 1}
    ],
}


def with_(**changes: Any) -> dict[str, Any]:
    return {**BEFORE, **changes}


def test_what_moves_by_itself_every_round_is_not_a_change() -> None:
    after = with_(
        currentUtilization={"cpuPercent": 63.9},
        recommendation={
            **BEFORE["recommendation"],
            "reason": "reactive: cpu at 0.91x target asks for 4 replicas",
            "containers": [{**BEFORE["recommendation"]["containers"][0], "reason": "16734 samples"}],
        },
        forecast={**BEFORE["forecast"], "recentError": 0.031, "peakAt": "2026-01-01T06:05:00Z"},
        scalingHistory={"desired": [{"time": "2026-01-01T00:00:15Z", "replicas": 4}], "changes": []},
        conditions=[{**BEFORE["conditions"][0], "message": "b"}],
    )
    assert policy_status_unchanged(BEFORE, after)


def test_a_decision_a_condition_or_a_real_move_is_a_change() -> None:
    assert not policy_status_unchanged(
        BEFORE, with_(recommendation={**BEFORE["recommendation"], "replicas": 5})
    )
    assert not policy_status_unchanged(BEFORE, with_(currentReplicas=5))
    assert not policy_status_unchanged(BEFORE, with_(currentUtilization={"cpuPercent": 66.2}))
    assert not policy_status_unchanged(
        BEFORE, with_(conditions=[{**BEFORE["conditions"][0], "status": "False"}])
    )
    changes = [{"time": "2026-01-01T00:00:15Z", "fromReplicas": 4, "toReplicas": 5}]
    assert not policy_status_unchanged(BEFORE, with_(scalingHistory={"desired": [], "changes": changes}))
    assert not policy_status_unchanged(BEFORE, with_(lastAction={"action": "ScaleUp"}))


def test_a_resumed_process_takes_every_remembered_count_as_desired_now() -> None:
    persisted = HorizontalState(
        (Recommendation(100.0, 9), Recommendation(200.0, 4)), (ScaleEvent(150.0, 4, 9),)
    )
    resumed = resumed_state(persisted, now=1000.0)
    assert resumed.recommendations == (Recommendation(1000.0, 9), Recommendation(1000.0, 4))
    assert resumed.events == persisted.events


def test_a_change_only_status_knows_is_merged_into_this_process_state() -> None:
    remembered = HorizontalState((Recommendation(990.0, 5),), (ScaleEvent(900.0, 4, 5),))
    persisted = HorizontalState((), (ScaleEvent(900.0, 4, 5), ScaleEvent(980.0, 5, 6)))
    merged = merged_state(remembered, persisted)
    assert merged.recommendations == remembered.recommendations
    assert merged.events == (ScaleEvent(900.0, 4, 5), ScaleEvent(980.0, 5, 6))


def test_a_change_this_process_made_is_not_doubled_by_its_own_status_record() -> None:
    """Status keeps whole seconds; the process keeps the exact time of the same change."""
    remembered = HorizontalState((Recommendation(990.0, 5),), (ScaleEvent(900.73, 4, 5),))
    persisted = state_from(history_from(remembered))
    merged = merged_state(remembered, persisted)
    assert merged.events == (ScaleEvent(900.73, 4, 5),)
    assert [(c.from_replicas, c.to_replicas) for c in history_from(merged).changes] == [(4, 5)]
