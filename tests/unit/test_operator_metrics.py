"""The operator's /metrics without a cluster: each ScalingPolicy's gauges from its status, their
removal once the policy is gone, the actions counted where the API server answers them, and the
reconcile and round histograms. Values are read back from prometheus_client's default registry."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import kopf
import pytest
from kubernetes.client import ApiException
from prometheus_client import REGISTRY

from thrifty.api.scaling_policy import Horizontal, LastAction
from thrifty.engine.horizontal import HorizontalState, MetricReading
from thrifty.engine.pod_placement import Move
from thrifty.engine.policy_gauges import policy_samples
from thrifty.engine.policy_replicas import decide_replicas
from thrifty.engine.workload_records import TemplateContainer, Workload
from thrifty.handlers import operator_metrics, status_writer
from thrifty.handlers.cost_policy import cost_policy_reconcile
from thrifty.handlers.scaling_policy import horizontal_step, placement_step, policy_reconcile
from thrifty.handlers.scaling_policy.policy_metrics import drop_policy_metrics_except, publish_policy_metrics

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def gauge(name: str, policy: str = "web", **labels: str) -> float | None:
    return REGISTRY.get_sample_value(
        f"thrifty_policy_{name}", {"namespace": "demo", "policy": policy, **labels}
    )


def actions(kind: str, result: str) -> float:
    return REGISTRY.get_sample_value("thrifty_actions_total", {"kind": kind, "result": result}) or 0.0


def reconciles(resource: str) -> float:
    value = REGISTRY.get_sample_value("thrifty_reconcile_duration_seconds_count", {"resource": resource})
    return value or 0.0


def ready(status: str, reason: str) -> dict[str, str]:
    return {"type": "Ready", "status": status, "reason": reason, "message": ""}


STATUS: dict[str, Any] = {
    "conditions": [ready("True", "Evaluated")],
    "currentReplicas": 3,
    "recommendation": {
        "replicas": 4,
        "containers": [
            {
                "name": "web",
                "current": {"requests": {"cpu": "500m", "memory": "512Mi"}},
                "recommended": {"requests": {"cpu": "250m", "memory": "384Mi"}},
            },
            {"name": "sidecar", "current": {"requests": {"cpu": "10m"}}},
        ],
    },
    "cost": {"monthlyCurrent": 61.2, "monthlyRecommended": 40.5, "currency": "USD"},
    "placement": {"onDemand": 1, "spot": 3, "unplaced": 1},
}


@pytest.fixture(autouse=True)
def no_policies_left() -> Any:
    yield
    drop_policy_metrics_except(())


# ----- a policy's gauges -----


def test_a_status_sets_every_gauge_of_its_policy() -> None:
    publish_policy_metrics("uid-web", "demo", "web", STATUS)

    assert gauge("replicas") == 3
    assert gauge("recommended_replicas") == 4
    assert gauge("requests", container="web", resource="cpu") == 0.5
    assert gauge("requests", container="web", resource="memory") == 512 * 2**20
    assert gauge("recommended_requests", container="web", resource="cpu") == 0.25
    assert gauge("recommended_requests", container="web", resource="memory") == 384 * 2**20
    assert gauge("requests", container="sidecar", resource="cpu") == 0.01
    assert gauge("recommended_requests", container="sidecar", resource="cpu") is None
    assert gauge("monthly_cost", currency="USD") == 61.2
    assert gauge("recommended_monthly_cost", currency="USD") == 40.5
    assert gauge("spot_share") == 0.75  # of the 4 placed pods; the unplaced one is on neither
    assert gauge("stale") == 0


@pytest.mark.parametrize(
    ("condition", "stale"),
    [
        (ready("False", "PrometheusUnavailable"), 1),
        (ready("False", "NoData"), 1),
        (ready("False", "TargetNotFound"), 0),
        (ready("False", "InvalidSpec"), 0),
        (ready("True", "Evaluated"), 0),
    ],
)
def test_a_policy_is_stale_while_ready_is_false_for_want_of_data(
    condition: dict[str, str], stale: int
) -> None:
    publish_policy_metrics("uid-web", "demo", "web", {"conditions": [condition]})
    assert gauge("stale") == stale


def test_a_policy_without_placement_or_cost_has_no_such_series() -> None:
    samples = {sample.gauge for sample in policy_samples({"currentReplicas": 2})}
    assert samples == {"replicas", "stale"}
    publish_policy_metrics("uid-web", "demo", "web", {"currentReplicas": 2, "placement": {"onDemand": 0}})
    assert gauge("spot_share") is None


def test_what_a_new_status_no_longer_gives_is_removed() -> None:
    publish_policy_metrics("uid-web", "demo", "web", STATUS)
    later = {
        **STATUS,
        "recommendation": {"replicas": 4, "containers": STATUS["recommendation"]["containers"][:1]},
    }
    later["cost"] = {"monthlyCurrent": 61.2, "currency": "USD"}
    publish_policy_metrics("uid-web", "demo", "web", later)

    assert gauge("requests", container="sidecar", resource="cpu") is None
    assert gauge("recommended_monthly_cost", currency="USD") is None
    assert gauge("requests", container="web", resource="cpu") == 0.5


def test_a_deleted_policy_leaves_no_series_and_a_new_one_of_its_name_keeps_its_own() -> None:
    publish_policy_metrics("uid-web", "demo", "web", STATUS)
    publish_policy_metrics("uid-api", "demo", "api", STATUS)
    drop_policy_metrics_except({"uid-web"})
    assert gauge("replicas", policy="api") is None
    assert gauge("stale", policy="api") is None
    assert gauge("replicas") == 3

    # Deleted and created again under its name: the round that finds the old uid gone keeps the new one's.
    publish_policy_metrics("uid-web-2", "demo", "web", {"currentReplicas": 5})
    drop_policy_metrics_except({"uid-web-2"})
    assert gauge("replicas") == 5


# ----- through an evaluation -----

WEB = Workload(
    "Deployment", "demo", "web", "uid-web", 3, 3, (TemplateContainer("web", 0.5, None, None, None),)
)
INDEXES: dict[str, Any] = {
    "deployments": {("Deployment", "demo", "web"): [WEB]},
    "statefulsets": {},
    "horizontal_autoscalers": {},
    "vertical_autoscalers": {},
    "budgets": {},
    "cost_policies": {},
}


@pytest.fixture
def no_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Events and status writes caught here rather than sent."""
    monkeypatch.setattr(status_writer, "post_event", lambda *args: None)
    monkeypatch.setattr(policy_reconcile, "commit", lambda body, patch, plural: True)
    monkeypatch.setattr(status_writer, "commit", lambda body, patch, plural: True)


@pytest.mark.usefixtures("no_writes")
def test_an_evaluation_publishes_the_status_it_concluded_and_is_timed() -> None:
    raw = {
        "metadata": {"name": "web", "namespace": "demo", "uid": "uid-evaluated", "generation": 1},
        "spec": {"targetRef": {"kind": "Deployment", "name": "gone"}},
        "status": {"currentReplicas": 2},
    }
    before = reconciles("scalingpolicy")

    assert policy_reconcile.evaluate_policy(raw, INDEXES) == "written"

    assert reconciles("scalingpolicy") == before + 1
    assert gauge("replicas") == 2  # what status showed stays while the target is missing
    assert gauge("stale") == 0  # TargetNotFound is not about data


@pytest.mark.usefixtures("no_writes")
def test_a_cost_policy_reconcile_is_timed() -> None:
    body = kopf.Body(
        {  # type: ignore[arg-type]
            "metadata": {"name": "staging", "uid": "uid-staging", "generation": 1},
            "spec": {},
            "status": {},
        }
    )
    before = reconciles("costpolicy")
    cost_policy_reconcile.reconcile_cost_policy(
        body=body, spec=body.spec, name="staging", patch=kopf.Patch(), nodes={}, scaling_policy_bodies={}
    )
    assert reconciles("costpolicy") == before + 1


def test_every_series_of_actions_and_reconciles_exists_before_anything_happens() -> None:
    for resource in ("scalingpolicy", "resourcebudget", "costpolicy"):
        assert (
            REGISTRY.get_sample_value("thrifty_reconcile_duration_seconds_count", {"resource": resource})
            is not None
        )
    for kind in ("scale", "budget_scale_down", "resize", "evict", "replace_pending"):
        for result in ("applied", "failed", "refused", "conflict"):
            assert (
                REGISTRY.get_sample_value("thrifty_actions_total", {"kind": kind, "result": result})
                is not None
            )


# ----- actions -----

POLICY_BODY = kopf.Body(
    {"metadata": {"name": "web", "namespace": "demo", "uid": "uid-acting"}}  # type: ignore[arg-type]
)


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> list[ApiException | None]:
    """What the API server answers the next calls (None: done); Events are caught."""
    answers: list[ApiException | None] = []

    def answer(*args: Any) -> None:
        error = answers.pop(0) if answers else None
        if error is not None:
            raise error

    monkeypatch.setattr(horizontal_step, "post_event", lambda *args: None)
    for module in (horizontal_step, placement_step):
        monkeypatch.setattr(module, "record_change", lambda *args: None)
    monkeypatch.setattr(horizontal_step, "record_pending_action", lambda *args: None)
    monkeypatch.setattr(horizontal_step, "scale_workload", answer)
    monkeypatch.setattr(placement_step, "evict_pod", answer)
    monkeypatch.setattr(placement_step, "delete_waiting_pod", answer)
    return answers


def scale_to(ratio: float, cap: tuple[int, str] | None = None) -> LastAction | None:
    horizontal = Horizontal.model_validate({"minReplicas": 1, "maxReplicas": 10})
    outcome = decide_replicas(
        horizontal, 3, [MetricReading("cpu", ratio)], HorizontalState(), NOW.timestamp(), budget_cap=cap
    )
    return horizontal_step._scale(POLICY_BODY, WEB, outcome, NOW, cap, None)


def test_a_scale_is_counted_once_by_its_outcome(api: list[ApiException | None]) -> None:
    applied, failed = actions("scale", "applied"), actions("scale", "failed")
    assert scale_to(2.0) is not None
    api.append(ApiException(status=404, reason="Not Found"))
    assert scale_to(2.0) is None

    assert actions("scale", "applied") == applied + 1
    assert actions("scale", "failed") == failed + 1


def test_a_scale_down_to_a_budgets_cap_is_a_budget_scale_down(api: list[ApiException | None]) -> None:
    budget, scale = actions("budget_scale_down", "applied"), actions("scale", "applied")
    # The load asks for 3 replicas (ratio 1.0); the budget holds the workload at 1.
    assert scale_to(1.0, cap=(1, "budget team")) is not None
    # Under a cap it does not reach, the load itself asks for fewer: an ordinary scale-down.
    assert scale_to(0.3, cap=(5, "budget team")) is not None

    assert actions("budget_scale_down", "applied") == budget + 1
    assert actions("scale", "applied") == scale + 1


def test_pod_moves_count_each_pod_by_how_the_api_server_answered(api: list[ApiException | None]) -> None:
    before = {result: actions("evict", result) for result in ("applied", "refused")}
    conflicts = actions("replace_pending", "conflict")
    api += [None, ApiException(status=429, reason="Too Many Requests")]
    evicted = Move("evict", "on-demand", ("web-a", "web-b"), "toward the mix")
    placement_step._move(POLICY_BODY, WEB, ("demo", "Deployment", "web"), evicted, NOW)
    api.append(ApiException(status=409, reason="pod web-c got a node meanwhile"))
    pending = Move("replace-pending", "spot", ("web-c",), "fallback")
    placement_step._move(POLICY_BODY, WEB, ("demo", "Deployment", "web"), pending, NOW)

    assert actions("evict", "applied") == before["applied"] + 1
    assert actions("evict", "refused") == before["refused"] + 1
    assert actions("replace_pending", "conflict") == conflicts + 1


def test_an_action_that_raises_something_else_counts_as_failed() -> None:
    before = actions("resize", "failed")
    with pytest.raises(ConnectionError), operator_metrics.counted_action("resize"):
        raise ConnectionError("the API server went away")
    assert actions("resize", "failed") == before + 1
