"""The ScalingPolicy reconcile's status, driven through the real kopf handler with kopf's own Body,
Patch and in-memory indexes (no API server and no Prometheus: the spec here reads neither)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import kopf
import pytest
from kubernetes.client.exceptions import ApiException

from thrifty.api.common import ResourceList, ResourceRequirements
from thrifty.api.scaling_policy import ContainerRecommendation, Recommendation, ScalingPolicyStatus
from thrifty.engine.status_changes import policy_status_unchanged
from thrifty.engine.workload_records import TemplateContainer, Workload
from thrifty.handlers import status_writer
from thrifty.handlers.scaling_policy import policy_reconcile
from thrifty.handlers.scaling_policy.horizontal_step import HorizontalResult
from thrifty.handlers.scaling_policy.vertical_step import VerticalResult

WEB = Workload(
    "Deployment", "demo", "web", "uid-web", 3, 3, (TemplateContainer("web", 0.5, None, None, None),)
)


@pytest.fixture(autouse=True)
def posted(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    """The Events the reconcile posts (reason, type, message), caught here rather than sent."""
    events: list[tuple[str, str, str]] = []

    def post(obj: Any, type: str, reason: str, message: str) -> None:
        events.append((reason, type, message))

    monkeypatch.setattr(status_writer, "post_event", post)
    return events


def condition(type_: str, status: str, reason: str) -> dict[str, Any]:
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": "",
        "observedGeneration": 1,
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    }


INDEXES: dict[str, Any] = {
    "deployments": {("Deployment", "demo", "web"): [WEB]},
    "statefulsets": {},
    "horizontal_autoscalers": {},
    "vertical_autoscalers": {},
    "budgets": {},
    "cost_policies": {},
}


def policy_body(spec: dict[str, Any], status: dict[str, Any], uid: str) -> dict[str, Any]:
    return {
        "apiVersion": "thrifty.dev/v1alpha1",
        "kind": "ScalingPolicy",
        "metadata": {"name": "web", "namespace": "demo", "uid": uid, "generation": 2},
        "spec": spec,
        "status": status,
    }


def run_reconcile(
    spec: dict[str, Any], status: dict[str, Any], uid: str = "uid-policy", deployments: Any = "web"
) -> kopf.Patch:
    """The real reconcile on one policy; ``deployments`` is the index kopf would pass (WEB by default)."""
    body = kopf.Body(policy_body(spec, status, uid))  # type: ignore[arg-type]
    indexes = INDEXES if deployments == "web" else {**INDEXES, "deployments": deployments}
    return policy_reconcile.conclude_policy(body, indexes)


def reconcile(spec: dict[str, Any], conditions: list[dict[str, Any]]) -> dict[str, Any]:
    return dict(run_reconcile(spec, {"conditions": conditions}).status)


def test_a_predictive_condition_is_gone_once_spec_horizontal_is_removed() -> None:
    before = [
        condition("Ready", "True", "Evaluated"),
        condition("TargetFound", "True", "TargetFound"),
        condition("Predictive", "True", "Steering"),
        condition("MetricsAvailable", "True", "MetricsRead"),
        condition("BudgetLimited", "False", "NotLimited"),
    ]
    status = reconcile({"targetRef": {"kind": "Deployment", "name": "web"}}, before)
    types = [c["type"] for c in status["conditions"]]
    assert "Predictive" not in types
    assert "MetricsAvailable" not in types
    assert "BudgetLimited" not in types
    assert types == ["Ready", "ContainersFound", "SpotPlacement", "TargetFound"]
    assert status["currentReplicas"] == 3


def test_a_condition_another_controller_owns_is_left_alone() -> None:
    before = [condition("Ready", "True", "Evaluated"), condition("example.com/Audited", "True", "Audited")]
    status = reconcile({"targetRef": {"kind": "Deployment", "name": "web"}}, before)
    assert "example.com/Audited" in [c["type"] for c in status["conditions"]]


def test_a_missing_target_says_so_and_keeps_waiting() -> None:
    spec = {
        "targetRef": {"kind": "Deployment", "name": "gone"},
        "horizontal": {"minReplicas": 1, "maxReplicas": 3},
    }
    status = reconcile(spec, [condition("Predictive", "True", "Steering")])
    by_type = {c["type"]: c for c in status["conditions"]}
    assert (by_type["Ready"]["status"], by_type["Ready"]["reason"]) == ("False", "TargetNotFound")
    assert "Predictive" not in by_type


def test_an_unknown_time_zone_stalls_the_policy_with_the_field_named() -> None:
    spec = {
        "targetRef": {"kind": "Deployment", "name": "web"},
        "horizontal": {
            "minReplicas": 1,
            "maxReplicas": 3,
            "schedules": [{"name": "night", "timeZone": "Europe/Atlantis", "start": "20:00", "end": "06:00"}],
        },
    }
    before = [condition("Ready", "True", "Evaluated"), condition("Predictive", "True", "Steering")]
    status = reconcile(spec, before)
    by_type = {c["type"]: c for c in status["conditions"]}
    assert (by_type["Ready"]["status"], by_type["Ready"]["reason"]) == ("False", "InvalidSpec")
    assert (by_type["Stalled"]["status"], by_type["Stalled"]["reason"]) == ("True", "InvalidSpec")
    assert (
        "spec.horizontal.schedules[0].timeZone: unknown time zone 'Europe/Atlantis'"
        in by_type["Ready"]["message"]
    )
    # What status showed before stays until the spec is fixed.
    assert by_type["Predictive"]["reason"] == "Steering"


def test_an_exception_in_a_reconcile_ends_in_status_not_only_in_the_log() -> None:
    # A workload index of the wrong type is what no check foresees: the reconcile fails.
    spec = {"targetRef": {"kind": "Deployment", "name": "web"}}
    patch = run_reconcile(
        spec, {"conditions": [condition("Predictive", "True", "Steering")]}, deployments=None
    )
    by_type = {c["type"]: c for c in patch.status["conditions"]}
    assert (by_type["Ready"]["status"], by_type["Ready"]["reason"]) == ("False", "ReconcileError")
    assert by_type["Stalled"]["status"] == "True"
    assert "AttributeError" in by_type["Ready"]["message"]
    assert by_type["Predictive"]["reason"] == "Steering"


PENDING_SCALE = {"time": "2026-01-01T00:00:00Z", "action": "ScaleUp", "from": "2", "to": "3", "reason": "cpu"}


def reconcile_with_status(spec: dict[str, Any], status: dict[str, Any]) -> kopf.Patch:
    return run_reconcile(spec, status, uid="uid-pending")


def test_a_scale_interrupted_before_its_record_is_recorded_once_after_a_restart() -> None:
    # WEB runs 3 replicas: the pending 2 -> 3 happened, and the operator stopped before recording it.
    patch = reconcile_with_status(
        {"targetRef": {"kind": "Deployment", "name": "web"}}, {"pendingAction": PENDING_SCALE}
    )
    assert patch.status["pendingAction"] is None
    assert patch.status["lastAction"] == PENDING_SCALE
    assert patch.status["scalingHistory"]["changes"] == [
        {"time": "2026-01-01T00:00:00Z", "fromReplicas": 2, "toReplicas": 3}
    ]


def test_a_scale_that_never_happened_is_dropped() -> None:
    pending = {**PENDING_SCALE, "from": "3", "to": "4"}  # WEB still runs 3
    patch = reconcile_with_status(
        {"targetRef": {"kind": "Deployment", "name": "web"}}, {"pendingAction": pending}
    )
    assert patch.status["pendingAction"] is None
    assert "lastAction" not in patch.status
    assert "scalingHistory" not in patch.status


def test_a_policy_already_being_evaluated_is_not_evaluated_again_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    written: list[dict[str, Any]] = []
    monkeypatch.setattr(policy_reconcile, "commit", lambda body, patch, plural: written.append(dict(patch)))
    raw = {**policy_body({"targetRef": {"kind": "Deployment", "name": "web"}}, {}, "uid-busy")}

    with policy_reconcile._SINGLE_FLIGHT.of("uid-busy"):
        assert policy_reconcile.evaluate_policy(raw, INDEXES) == "busy"
    assert written == []

    assert policy_reconcile.evaluate_policy(raw, INDEXES) == "unchanged"
    assert written[0]["status"]["conditions"]


def test_a_write_the_api_server_times_out_fails_that_policy_only_and_is_tried_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []

    def timed_out(body: Any, patch: Any, plural: str) -> bool:
        calls.append(str(body.metadata.uid))
        if len(calls) == 1:
            raise ApiException(status=504, reason="Gateway Timeout")
        return True

    monkeypatch.setattr(policy_reconcile, "commit", timed_out)
    raw = policy_body({"targetRef": {"kind": "Deployment", "name": "web"}}, {}, "uid-timeout")
    assert policy_reconcile.evaluate_policy(raw, INDEXES) == "failed"
    assert policy_reconcile.evaluate_policy(raw, INDEXES) == "written"  # not left busy
    assert calls == ["uid-timeout", "uid-timeout"]


def test_a_spec_the_models_refuse_stalls_with_the_field_named() -> None:
    # Stored before the schema refused it: a schedule's time zone that is not a tz database name.
    spec = {
        "targetRef": {"kind": "Deployment", "name": "web"},
        "horizontal": {
            "maxReplicas": 3,
            "schedules": [
                {"name": "night", "timeZone": "Mars/Olympus_Mons", "start": "20:00", "end": "06:00"}
            ],
        },
    }
    status = reconcile(spec, [condition("Ready", "True", "Evaluated")])
    by_type = {c["type"]: c for c in status["conditions"]}
    assert (by_type["Ready"]["status"], by_type["Ready"]["reason"]) == ("False", "InvalidSpec")
    assert "spec.horizontal.schedules.0.timeZone" in by_type["Ready"]["message"]


def test_a_reason_that_only_counts_more_samples_is_not_a_new_recommendation() -> None:
    """Each usage read adds samples to "insufficient history: N samples"; the recommendation's values
    stay, so generatedAt stays and the status reads as unchanged: nothing is written."""

    def container(samples: int) -> ContainerRecommendation:
        return ContainerRecommendation(
            name="web",
            current=ResourceRequirements(requests=ResourceList(cpu="500m")),
            reason=f"insufficient history: {samples} samples over 0.1 h",
        )

    before = ScalingPolicyStatus(
        current_replicas=3,
        recommendation=Recommendation(
            replicas=3, containers=[container(4)], generated_at="2026-01-01T00:00:00Z"
        ),
    )
    later = datetime(2026, 1, 1, 0, 2, tzinfo=UTC)
    after = policy_reconcile._desired_status(
        before, WEB, HorizontalResult(replicas=3), VerticalResult(containers=[container(5)]), later, None
    )
    assert after.recommendation is not None
    assert after.recommendation.generated_at == "2026-01-01T00:00:00Z"
    assert policy_status_unchanged(before.to_wire(), after.to_wire())
    moved = VerticalResult(
        containers=[
            container(5).model_copy(
                update={"recommended": ResourceRequirements(requests=ResourceList(cpu="1"))}
            )
        ]
    )
    changed = policy_reconcile._desired_status(before, WEB, HorizontalResult(replicas=3), moved, later, None)
    assert changed.recommendation is not None
    assert changed.recommendation.generated_at == "2026-01-01T00:02:00Z"
    assert not policy_status_unchanged(before.to_wire(), changed.to_wire())
