"""An HPA on the same workload: reported in Recommend mode, Ready=False (nothing applied) in Apply mode."""

from __future__ import annotations

from thrifty.engine.conflicts import OtherAutoscaler, conflict_conditions, horizontal_conflicts

HPA = OtherAutoscaler("HorizontalPodAutoscaler", "web-hpa", ("cpu",))


def test_apply_mode_refuses_with_conflict_while_an_hpa_targets_the_workload() -> None:
    conflict, not_ready = conflict_conditions(horizontal_conflicts([HPA]), "Apply")
    assert not_ready is not None
    assert (not_ready.type, not_ready.status, not_ready.reason) == ("Ready", "False", "Conflict")
    assert "HorizontalPodAutoscaler web-hpa scales the same workload" in not_ready.message
    assert (conflict.type, conflict.status) == ("Conflict", "True")


def test_recommend_mode_only_reports_the_conflict() -> None:
    conflict, not_ready = conflict_conditions(horizontal_conflicts([HPA]), "Recommend")
    assert not_ready is None
    assert (conflict.type, conflict.status) == ("Conflict", "True")


def test_no_other_autoscaler_no_conflict() -> None:
    conflict, not_ready = conflict_conditions(horizontal_conflicts([]), "Apply")
    assert not_ready is None
    assert (conflict.type, conflict.status, conflict.reason) == ("Conflict", "False", "NoConflict")
