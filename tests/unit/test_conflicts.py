"""Thrifty steps back when another autoscaler already sizes the same workload."""

from __future__ import annotations

from thrifty.engine.conflicts import OtherAutoscaler, horizontal_conflicts, vertical_conflicts


def test_an_hpa_on_cpu_blocks_right_sizing_but_one_on_a_custom_metric_does_not() -> None:
    on_cpu = OtherAutoscaler("HorizontalPodAutoscaler", "web", resource_metrics=("cpu",))
    on_queue = OtherAutoscaler("HorizontalPodAutoscaler", "web-queue", resource_metrics=())
    assert vertical_conflicts([on_cpu]) == ["HorizontalPodAutoscaler web scales on cpu"]
    assert vertical_conflicts([on_queue]) == []


def test_a_vpa_conflicts_only_in_a_mode_that_updates_pods() -> None:
    for mode in (None, "Auto", "Recreate", "InPlaceOrRecreate"):
        assert vertical_conflicts([OtherAutoscaler("VerticalPodAutoscaler", "v", update_mode=mode)])
    for mode in ("Off", "Initial"):
        assert vertical_conflicts([OtherAutoscaler("VerticalPodAutoscaler", "v", update_mode=mode)]) == []


def test_any_hpa_owns_the_replicas() -> None:
    hpa = OtherAutoscaler("HorizontalPodAutoscaler", "web-queue")
    vpa = OtherAutoscaler("VerticalPodAutoscaler", "v", update_mode="Auto")
    assert horizontal_conflicts([hpa, vpa]) == ["HorizontalPodAutoscaler web-queue scales the same workload"]
