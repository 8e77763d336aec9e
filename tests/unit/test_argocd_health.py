"""The Argo CD health checks in examples/argocd, run on hand-written objects by Argo CD's Lua
interpreter (gopher-lua) with Argo CD's libraries: every rule, every reason of every kind, the
argocd-cm patch that ships them, and the Application example.

Here rather than under tests/integration: no cluster is involved, and the Go command they run on
is built once (seconds) and cached by the hash of its sources, like the sandbox's binaries.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, get_args, get_type_hints

import pytest
import yaml

from argocd_health_checks import (
    ARGOCD_CM,
    ARGOCD_EXAMPLES,
    KINDS,
    Health,
    HealthStatus,
    health_of,
    health_script,
    health_tool,
)
from thrifty import API_VERSION, FIELD_MANAGER, GROUP
from thrifty.api.condition_types import (
    INVALID_SPEC,
    RECONCILE_ERROR,
    BudgetReason,
    CostPolicyReason,
    PolicyReason,
)
from thrifty.api.conditions import READY, ConditionStatus, Observation, merge_conditions
from thrifty.engine.budget import Anomaly

# A spend anomaly's reason is the prefix and the anomaly's direction.
SPEND_ANOMALY_REASONS: Final = {
    f"{BudgetReason.SPEND_PREFIX}{direction}" for direction in get_args(get_type_hints(Anomaly)["direction"])
}

# Ready=False reasons that clear by themselves (Progressing), and those that need someone to act
# (Degraded). The reasons a kind gives only on its other conditions, or only with status True, are
# listed apart: a Ready=False with one of them would be Degraded, but none gets there.
WAITING: Final = {
    "ScalingPolicy": {
        PolicyReason.TARGET_NOT_FOUND,
        PolicyReason.NO_DATA,
        PolicyReason.PARTIAL_DATA,
        PolicyReason.QUERY_RETURNED_NOTHING,
        PolicyReason.INSUFFICIENT_HISTORY,
        PolicyReason.NO_FORECAST,
        PolicyReason.PLACING,
    },
    "ResourceBudget": {BudgetReason.STALE_DATA},
    "CostPolicy": set(),
}
NEEDS_ACTION: Final = {
    "ScalingPolicy": {
        PolicyReason.CONTAINER_NOT_FOUND,
        PolicyReason.PROMETHEUS_UNAVAILABLE,
        PolicyReason.NO_REQUEST,
        PolicyReason.INVALID_QUERY,
        PolicyReason.QUERY_RETURNED_SEVERAL_SERIES,
        PolicyReason.QUERY_RETURNED_NAN,
        PolicyReason.QUERY_RETURNED_INFINITY,
        PolicyReason.QUERY_RETURNED_NEGATIVE,
        PolicyReason.QUERY_RETURNED_SCALAR,
        PolicyReason.QUERY_RETURNED_STRING,
        PolicyReason.QUERY_RETURNED_RANGE_VECTOR,
        PolicyReason.QUERY_OUTSIDE_NAMESPACE,
        PolicyReason.CONFLICT,
        INVALID_SPEC,
        RECONCILE_ERROR,
    },
    "ResourceBudget": {
        BudgetReason.WEBHOOK_SECRET_NOT_FOUND,
        BudgetReason.SECRET_UNREADABLE,
        BudgetReason.PROMETHEUS_UNAVAILABLE,
        BudgetReason.NON_FINITE_SPEND,
        INVALID_SPEC,
        RECONCILE_ERROR,
    },
    "CostPolicy": {CostPolicyReason.NOT_IN_USE, INVALID_SPEC, RECONCILE_ERROR},
}
NEVER_ON_READY_FALSE: Final = {
    "ScalingPolicy": {
        PolicyReason.EVALUATED,
        PolicyReason.TARGET_FOUND,
        PolicyReason.CONTAINERS_FOUND,
        PolicyReason.METRICS_READ,
        PolicyReason.HISTORY_READ,
        PolicyReason.NO_CONFLICT,
        PolicyReason.RECOMMENDED,
        PolicyReason.UNCHANGED,
        PolicyReason.LIMIT_CAUSES_OOM,
        PolicyReason.STEERING,
        PolicyReason.FORECAST_INACCURATE,
        PolicyReason.NOT_LIMITED,
        PolicyReason.BUDGET_ENFORCED,
        PolicyReason.COST_CAPPED,
        PolicyReason.WITHIN_COST_LIMIT,
        PolicyReason.PLACED,
        PolicyReason.FALLBACK,
        PolicyReason.NOT_ELIGIBLE,
        PolicyReason.NOT_CONFIGURED,
    },
    "ResourceBudget": {
        BudgetReason.TRACKING,
        BudgetReason.NO_WEBHOOK,
        BudgetReason.WEBHOOK_SECRET_FOUND,
        BudgetReason.NO_CONTAINERS,
        BudgetReason.SPEND_COMPUTED,
        BudgetReason.FORECAST_OVERRUN,
        BudgetReason.FORECAST_WITHIN_BUDGET,
        BudgetReason.EXCEEDED,
        BudgetReason.WITHIN_BUDGET,
        BudgetReason.THRESHOLD_REACHED,
        BudgetReason.NO_THRESHOLD_REACHED,
        BudgetReason.NO_ANOMALY,
        *SPEND_ANOMALY_REASONS,
    },
    "CostPolicy": {
        CostPolicyReason.ACTIVE,
        CostPolicyReason.IN_USE,
        # NodePoolsReady and GovernanceViolation are reported beside Ready, never as its reason.
        CostPolicyReason.NO_NODE_POOLS,
        CostPolicyReason.NODE_POOLS_STEERED,
        CostPolicyReason.NODE_POOL_NOT_FOUND,
        CostPolicyReason.NODE_POOL_API_UNAVAILABLE,
        CostPolicyReason.CAPACITY_TYPE_MISMATCH,
        CostPolicyReason.FIELD_MANAGED_ELSEWHERE,
        CostPolicyReason.WRITE_FAILED,
        CostPolicyReason.COMPLIANT,
        CostPolicyReason.NO_GOVERNANCE,
        CostPolicyReason.OUTSIDE_GOVERNANCE,
    },
}


def reasons_given(kind: str) -> set[str]:
    """Every reason the kind's conditions can carry, as condition_types declares them."""
    declared = {"ScalingPolicy": PolicyReason, "ResourceBudget": BudgetReason, "CostPolicy": CostPolicyReason}
    reasons = {value for name, value in vars(declared[kind]).items() if name.isupper()}
    if kind == "ResourceBudget":
        reasons = (reasons - {BudgetReason.SPEND_PREFIX}) | SPEND_ANOMALY_REASONS
    return reasons | {INVALID_SPEC, RECONCILE_ERROR}


def thrifty_object(
    kind: str,
    ready: tuple[ConditionStatus, str, str] | None = None,
    generation: int = 1,
    observed: int | None = 1,
    others: tuple[Observation, ...] = (),
) -> dict[str, Any]:
    """An object of ``kind`` whose status holds the conditions the operator would write (Ready from
    ``ready``), observed at generation ``observed``."""
    metadata: dict[str, Any] = {"name": "example", "generation": generation}
    if kind == "ScalingPolicy":
        metadata["namespace"] = "demo"
    obj: dict[str, Any] = {"apiVersion": API_VERSION, "kind": kind, "metadata": metadata, "spec": {}}
    observations = [*others, *([Observation(READY, *ready)] if ready else [])]
    if observations:
        conditions = merge_conditions([], observations, observed, datetime.now(UTC))
        obj["status"] = {"conditions": [c.to_wire() for c in conditions]}
        if observed is not None:
            obj["status"]["observedGeneration"] = observed
    return obj


def test_the_classification_covers_every_reason_once() -> None:
    for kind in KINDS:
        groups = (WAITING[kind], NEEDS_ACTION[kind], NEVER_ON_READY_FALSE[kind])
        assert set().union(*groups) == reasons_given(kind), f"{kind}: classify every reason it gives"
        assert sum(len(group) for group in groups) == len(reasons_given(kind)), f"{kind}: once each"


@pytest.mark.parametrize(
    ("kind", "reason"),
    [(kind, reason) for kind in KINDS for reason in sorted(reasons_given(kind))],
)
def test_ready_false_is_progressing_while_waiting_else_degraded(kind: str, reason: str) -> None:
    health = health_of(
        thrifty_object(kind, ("False", reason, "what the operator found")), health_script(kind)
    )
    expected: HealthStatus = "Progressing" if reason in WAITING[kind] else "Degraded"
    assert health == Health(expected, f"{reason}: what the operator found")


@pytest.mark.parametrize("kind", KINDS)
def test_ready_true_is_healthy_with_its_message(kind: str) -> None:
    obj = thrifty_object(kind, ("True", "Ready", "managed in Apply mode"), generation=4, observed=4)
    assert health_of(obj, health_script(kind)) == Health("Healthy", "managed in Apply mode")


@pytest.mark.parametrize("kind", KINDS)
def test_ready_unknown_is_progressing(kind: str) -> None:
    health = health_of(thrifty_object(kind, ("Unknown", "Checking", "not decided")), health_script(kind))
    assert health == Health("Progressing", "Checking: not decided")


@pytest.mark.parametrize("kind", KINDS)
def test_no_status_yet_is_progressing(kind: str) -> None:
    health = health_of(thrifty_object(kind), health_script(kind))
    assert health == Health("Progressing", f"Waiting for the operator to evaluate the {kind}")


@pytest.mark.parametrize("kind", KINDS)
def test_a_status_without_ready_is_progressing(kind: str) -> None:
    empty = thrifty_object(kind) | {"status": {}}
    other = Observation("Stalled", "True", INVALID_SPEC, "the spec cannot be read")
    without_ready = thrifty_object(kind, others=(other,))
    for obj in (empty, without_ready):
        assert health_of(obj, health_script(kind)).status == "Progressing"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("ready", [("True", "Ready", "fine"), ("False", INVALID_SPEC, "bad")])
def test_ready_of_an_older_generation_is_progressing(
    kind: str, ready: tuple[ConditionStatus, str, str]
) -> None:
    health = health_of(thrifty_object(kind, ready, generation=3, observed=2), health_script(kind))
    expected = f"Waiting for the operator to evaluate generation 3 (Ready describes generation 2): {ready[2]}"
    assert health == Health("Progressing", expected)


@pytest.mark.parametrize("kind", KINDS)
def test_the_observed_generation_of_status_stands_in_for_the_conditions(kind: str) -> None:
    obj = thrifty_object(kind, ("True", "Ready", "fine"), generation=2, observed=None)
    obj["status"]["observedGeneration"] = 1
    assert health_of(obj, health_script(kind)).status == "Progressing"
    obj["status"]["observedGeneration"] = 2
    assert health_of(obj, health_script(kind)).status == "Healthy"


@pytest.mark.parametrize("kind", KINDS)
def test_without_an_observed_generation_ready_decides(kind: str) -> None:
    obj = thrifty_object(kind, ("True", "Ready", "fine"), generation=7, observed=None)
    assert "observedGeneration" not in obj["status"]["conditions"][0]
    assert health_of(obj, health_script(kind)) == Health("Healthy", "fine")


def test_the_argocd_cm_patch_is_generated_from_the_scripts() -> None:
    generator = ARGOCD_EXAMPLES / "generate_argocd_cm.py"
    checked = subprocess.run([sys.executable, str(generator), "--check"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    config_map = yaml.safe_load(ARGOCD_CM.read_text())
    assert (config_map["kind"], config_map["metadata"]["name"]) == ("ConfigMap", "argocd-cm")
    assert config_map["data"] == {
        f"resource.customizations.health.{GROUP}_{kind}": health_script(kind).read_text() for kind in KINDS
    }


@pytest.mark.parametrize("kind", KINDS)
def test_argo_cd_finds_each_kind_in_the_patch_by_its_group_and_kind(kind: str) -> None:
    obj = thrifty_object(kind, ("False", RECONCILE_ERROR, "boom"))
    assert health_of(obj) == health_of(obj, health_script(kind)) == Health("Degraded", "ReconcileError: boom")


def test_a_status_argo_cd_does_not_know_is_an_error(tmp_path: Path) -> None:
    script = tmp_path / "unknown.lua"
    script.write_text('return {status = "Fine", message = "no such status"}\n')
    with pytest.raises(AssertionError, match="invalid health status"):
        health_of(thrifty_object("CostPolicy"), script)


def test_scripts_get_only_the_libraries_argo_cd_opens(tmp_path: Path) -> None:
    script = tmp_path / "string.lua"
    script.write_text('return {status = string.upper("healthy")}\n')
    with pytest.raises(AssertionError, match="upper"):
        health_of(thrifty_object("CostPolicy"), script)


def test_an_object_that_is_neither_json_nor_yaml_is_an_error() -> None:
    tool = [str(health_tool()), "-script", str(health_script("CostPolicy")), "-"]
    ran = subprocess.run(tool, input="{", capture_output=True, text=True)
    assert ran.returncode == 1
    assert "neither JSON nor YAML" in ran.stderr


def application(name: str) -> dict[str, Any]:
    documents = list(yaml.safe_load_all((ARGOCD_EXAMPLES / "application.yaml").read_text()))
    (found,) = [doc for doc in documents if doc["metadata"]["name"] == name]
    assert (found["apiVersion"], found["kind"]) == ("argoproj.io/v1alpha1", "Application")
    return dict(found)


def test_the_team_application_leaves_thriftys_fields_to_thrifty() -> None:
    spec = application("payments")["spec"]
    ignored = {(entry["group"], entry["kind"]): entry for entry in spec["ignoreDifferences"]}
    for kind in ("Deployment", "StatefulSet"):
        assert ignored[("apps", kind)]["managedFieldsManagers"] == [FIELD_MANAGER]
    assert spec["syncPolicy"]["automated"]["selfHeal"] is True
    assert "RespectIgnoreDifferences=true" in spec["syncPolicy"]["syncOptions"]


def test_the_thrifty_application_installs_the_chart() -> None:
    spec = application("thrifty")["spec"]
    assert spec["source"]["path"] == "charts/thrifty"
    assert spec["source"]["helm"]["valuesObject"]["webhook"]["certificate"]["source"] == "certManager"
