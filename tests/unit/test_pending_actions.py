"""An action recorded as pending before a crash: the workload tells whether it happened."""

from __future__ import annotations

from thrifty.api.scaling_policy import LastAction
from thrifty.engine.horizontal import ScaleEvent
from thrifty.engine.pending_actions import requests_summary, resolve_pending
from thrifty.engine.quantities import MiB
from thrifty.engine.workload_records import TemplateContainer, Workload


def workload(replicas: int, cpu: float = 0.25) -> Workload:
    containers = (
        TemplateContainer("web", cpu, None, 347 * MiB, None),
        TemplateContainer("sidecar", 0.01, None, None, None),
    )
    return Workload("Deployment", "demo", "web", "uid", replicas, replicas, containers)


def test_a_scale_the_workload_shows_is_done_and_counts_as_a_change() -> None:
    pending = LastAction(time="2026-01-01T00:00:10Z", action="ScaleUp", from_="2", to="5", reason="cpu")
    resolved = resolve_pending(pending, workload(5))
    assert resolved is not None
    assert resolved.event == ScaleEvent(1_767_225_610.0, 2, 5)
    assert resolve_pending(pending, workload(2)) is None


def test_a_resize_is_done_when_the_template_requests_what_it_wrote() -> None:
    pending = LastAction(
        time="2026-01-01T00:00:10Z",
        action="Resize",
        from_="web cpu 500m",
        to="web cpu 250m memory 347Mi",
        reason="x",
    )
    resolved = resolve_pending(pending, workload(2))
    assert resolved is not None
    assert resolved.event is None
    assert resolve_pending(pending, workload(2, cpu=0.5)) is None


def test_the_summary_reads_the_template_in_the_form_of_the_record() -> None:
    assert (
        requests_summary(workload(2), "web cpu 1 memory 1Gi, sidecar cpu 5m")
        == "web cpu 250m memory 347Mi, sidecar cpu 10m"
    )
    assert requests_summary(workload(2), "gone cpu 1") == "gone cpu unset"


def test_nothing_pending_resolves_to_nothing() -> None:
    assert resolve_pending(None, workload(2)) is None
    assert resolve_pending(LastAction(action="ScaleUp", to="2"), workload(2)) is None
