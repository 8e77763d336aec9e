"""Conditions follow the Kubernetes convention: one per type, and lastTransitionTime only moves when
the status does, so re-running a reconcile with the same observations changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from thrifty.api.conditions import ConditionSet, Observation, merge_conditions, ready_from

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def test_a_new_condition_gets_the_current_time_and_generation() -> None:
    [condition] = merge_conditions([], [Observation("TargetFound", "True", "TargetFound", "ok")], 3, T0)
    assert condition.last_transition_time == "2026-01-01T12:00:00Z"
    assert condition.observed_generation == 3


def test_same_status_keeps_the_transition_time_but_takes_the_new_message() -> None:
    first = merge_conditions([], [Observation("Ready", "False", "TargetNotFound", "waiting")], 1, T0)
    later = T0 + timedelta(minutes=5)
    [again] = merge_conditions(
        first, [Observation("Ready", "False", "TargetNotFound", "still waiting")], 2, later
    )
    assert again.last_transition_time == "2026-01-01T12:00:00Z"
    assert again.message == "still waiting"
    assert again.observed_generation == 2


def test_a_status_change_moves_the_transition_time() -> None:
    first = merge_conditions([], [Observation("Ready", "False", "TargetNotFound", "")], 1, T0)
    later = T0 + timedelta(minutes=5)
    [flipped] = merge_conditions(first, [Observation("Ready", "True", "Evaluated", "")], 1, later)
    assert flipped.last_transition_time == "2026-01-01T12:05:00Z"


def test_unobserved_types_are_kept_and_ready_comes_first() -> None:
    first = merge_conditions(
        [], [Observation("Zeta", "True", "Z", ""), Observation("Alpha", "True", "A", "")], 1, T0
    )
    merged = merge_conditions(first, [Observation("Ready", "True", "Evaluated", "")], 1, T0)
    assert [c.type for c in merged] == ["Ready", "Alpha", "Zeta"]


def test_ready_takes_the_reason_of_the_first_failing_prerequisite() -> None:
    observed = [
        Observation("TargetFound", "True", "TargetFound", ""),
        Observation("ContainersFound", "False", "ContainerNotFound", "no container sidecar"),
        Observation("Other", "Unknown", "Unreadable", ""),
    ]
    assert ready_from(observed, "Evaluated", "fine") == Observation(
        "Ready", "False", "ContainerNotFound", "no container sidecar"
    )
    assert ready_from(observed[:1], "Evaluated", "fine") == Observation("Ready", "True", "Evaluated", "fine")


def test_an_owned_type_not_observed_is_removed_and_a_foreign_one_kept() -> None:
    first = merge_conditions(
        [],
        [Observation("Predictive", "True", "Steering", ""), Observation("Audited", "True", "A", "")],
        1,
        T0,
    )
    owned = frozenset({"Ready", "Predictive"})
    merged = merge_conditions(first, [Observation("Ready", "True", "Evaluated", "")], 2, T0, owned)
    assert [c.type for c in merged] == ["Ready", "Audited"]


def test_a_kind_refuses_a_condition_type_it_does_not_declare() -> None:
    kind = ConditionSet("ScalingPolicy", ("TargetFound",))
    kind.check([Observation("TargetFound", "True", "TargetFound", "")])
    with pytest.raises(ValueError, match="does not own condition types TargetFund"):
        kind.check([Observation("TargetFund", "True", "TargetFound", "")])
