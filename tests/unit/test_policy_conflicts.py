"""An HPA on the same workload: reported in Recommend mode, Ready=False (nothing applied) in Apply mode."""

from __future__ import annotations

from thrifty.engine.conflicts import OtherAutoscaler, horizontal_conflicts
from thrifty.handlers.scaling_vertical import part_with_conflicts

HPA = OtherAutoscaler("HorizontalPodAutoscaler", "web-hpa", ("cpu",))


def test_apply_mode_refuses_with_conflict_while_an_hpa_targets_the_workload() -> None:
    part = part_with_conflicts(horizontal_conflicts([HPA]), "Apply")
    assert part.not_ready is not None
    assert (part.not_ready.status, part.not_ready.reason) == ("False", "Conflict")
    assert "HorizontalPodAutoscaler web-hpa scales the same workload" in part.not_ready.message
    assert [(o.type, o.status) for o in part.informational] == [("Conflict", "True")]


def test_recommend_mode_only_reports_the_conflict() -> None:
    part = part_with_conflicts(horizontal_conflicts([HPA]), "Recommend")
    assert part.not_ready is None
    assert [(o.type, o.status) for o in part.informational] == [("Conflict", "True")]


def test_no_other_autoscaler_no_conflict() -> None:
    part = part_with_conflicts(horizontal_conflicts([]), "Apply")
    assert part.not_ready is None
    assert [(o.type, o.status, o.reason) for o in part.informational] == [("Conflict", "False", "NoConflict")]
