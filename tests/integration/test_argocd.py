"""Thrifty under Argo CD, on real objects of the sandbox: the health checks of examples/argocd give
each kind Healthy, Degraded and Progressing in the states the operator really writes, and every
write Thrifty makes to a user's workload carries field manager thrifty, which the Application
example's ignoreDifferences leave to Thrifty.

The objects are read with `kubectl get -o json` and fed to the argocd-cm patch users install, run
by Argo CD's Lua interpreter (see argocd_health_checks).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any, Final

import pytest
import yaml
from sandbox_helpers import (
    REPO,
    OperatorProcess,
    apply,
    condition,
    deployment_manifest,
    get,
    kubectl,
    quick_reads,
    scaling_policy_manifest,
    wait_for,
)

from argocd_health_checks import Health, HealthStatus, health_of
from thrifty import FIELD_MANAGER
from thrifty.sandbox.cluster import SandboxEnv
from thrifty.settings import ANNOTATION_PREFIX

# The first test also waits for the sandbox, the demo history and every state below.
pytestmark = pytest.mark.timeout(1500)

NAMESPACE: Final = "argocd-health"
FIELDS_NAMESPACE: Final = "argocd-fields"
# Deadlines for eventual states, not benchmarks: a new workload's first usage reading takes a minute.
STATE_SECONDS: Final = 120
SCALE_SECONDS: Final = 240
KOPF_MANAGER: Final = "kopf"  # kopf sends no fieldManager: the API server names it after its User-Agent

Snapshot = tuple[str, dict[str, Any]]  # what the object shows, and the object as read
ObjectRef = tuple[str, str, str | None]  # kind, name, namespace (None: cluster-scoped)


def example(name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((REPO / "examples" / name).read_text())
    return document


def budget_with_missing_webhook_secret() -> str:
    budget = example("resourcebudget.yaml")
    budget["metadata"]["name"] = "argocd-health-unhooked"
    budget["spec"]["scope"] = {"namespaces": [NAMESPACE]}
    budget["spec"]["webhook"] = {"secretRef": {"namespace": NAMESPACE, "name": "no-such-secret"}}
    return json.dumps(budget)


def spare_cost_policy() -> str:
    """The example CostPolicy under another name: the operator prices with `default` only."""
    policy = example("costpolicy.yaml")
    policy["metadata"]["name"] = "argocd-health-spare"
    return json.dumps(policy)


def policy_manifest(name: str, target: str, extra_spec: str) -> str:
    return f"""
apiVersion: thrifty.dev/v1alpha1
kind: ScalingPolicy
metadata: {{name: {name}, namespace: {NAMESPACE}}}
spec:
  targetRef: {{kind: Deployment, name: {target}}}
  {extra_spec}
"""


# What the test creates, and the examples it reads.
WAITING_POLICY: Final[ObjectRef] = ("scalingpolicy", "waits", NAMESPACE)
MISSING_CONTAINER_POLICY: Final[ObjectRef] = ("scalingpolicy", "sized", NAMESPACE)
UNHOOKED_BUDGET: Final[ObjectRef] = ("resourcebudget", "argocd-health-unhooked", None)
SPARE_COST_POLICY: Final[ObjectRef] = ("costpolicy", "argocd-health-spare", None)
EXAMPLES: Final[list[ObjectRef]] = [
    ("scalingpolicy", "web", "demo"),
    ("resourcebudget", "demo-monthly", None),
    ("costpolicy", "default", None),
]
CREATED: Final = [WAITING_POLICY, MISSING_CONTAINER_POLICY, UNHOOKED_BUDGET, SPARE_COST_POLICY]
# A spec edit per object, made while the operator is stopped.
EDITS: Final[dict[ObjectRef, dict[str, Any]]] = {
    MISSING_CONTAINER_POLICY: {"spec": {"vertical": {"containers": ["sidecar", "proxy"]}}},
    UNHOOKED_BUDGET: {"spec": {"amount": 40}},
    SPARE_COST_POLICY: {"spec": {"pricing": {"hoursPerMonth": 720}}},
}


def read(env: SandboxEnv, ref: ObjectRef) -> dict[str, Any]:
    kind, name, namespace = ref
    return get(env, kind, name, *(["-n", namespace] if namespace else []))


def ready_is(status: str, reason: str | None = None) -> Callable[[dict[str, Any]], bool]:
    """Whether Ready has ``status`` (and ``reason``) for the object's current generation."""

    def check(obj: dict[str, Any]) -> bool:
        ready = condition(obj, "Ready")
        return (
            ready.get("status") == status
            and (reason is None or ready.get("reason") == reason)
            and ready.get("observedGeneration") == obj["metadata"]["generation"]
        )

    return check


@pytest.fixture(scope="module")
def observed(
    sandbox: SandboxEnv, crds_installed: None, demo_history: None, tmp_path_factory: pytest.TempPathFactory
) -> dict[tuple[str, HealthStatus], list[Snapshot]]:
    """Objects of each kind in the states Argo CD should tell apart, by (kind, expected health):
    just created (no status yet), as the operator concluded, and just edited (a status of the
    previous generation). Everything is read during setup; the objects are gone before the tests."""
    found: dict[tuple[str, HealthStatus], list[Snapshot]] = {}

    def keep(ref: ObjectRef, expected: HealthStatus, state: str) -> None:
        obj = read(sandbox, ref)
        found.setdefault((obj["kind"], expected), []).append((f"{ref[1]}: {state}", obj))

    log = tmp_path_factory.mktemp("operator") / "operator.log"
    kubectl(sandbox, "create", "namespace", NAMESPACE)
    try:
        # Before any operator runs: nothing has a status yet.
        apply(sandbox, deployment_manifest("sized", NAMESPACE, 1))
        apply(sandbox, policy_manifest("waits", "not-yet", "horizontal: {minReplicas: 1, maxReplicas: 3}"))
        apply(sandbox, policy_manifest("sized", "sized", "vertical: {containers: [sidecar]}"))
        apply(sandbox, budget_with_missing_webhook_secret())
        apply(sandbox, spare_cost_policy())
        for ref in (WAITING_POLICY, UNHOOKED_BUDGET, SPARE_COST_POLICY):
            assert "status" not in read(sandbox, ref), ref
            keep(ref, "Progressing", "created, no status yet")
        kubectl(sandbox, "apply", "-f", str(REPO / "examples"))

        with OperatorProcess(sandbox, log) as operator:
            states: list[tuple[ObjectRef, Callable[[dict[str, Any]], bool], HealthStatus]] = [
                (WAITING_POLICY, ready_is("False", "TargetNotFound"), "Progressing"),
                (MISSING_CONTAINER_POLICY, ready_is("False", "ContainerNotFound"), "Degraded"),
                (UNHOOKED_BUDGET, ready_is("False", "WebhookSecretNotFound"), "Degraded"),
                (SPARE_COST_POLICY, ready_is("False", "NotInUse"), "Degraded"),
                *((ref, ready_is("True"), "Healthy") for ref in EXAMPLES),
            ]
            for ref, check, expected in states:
                wait_for(
                    f"{ref[0]} {ref[1]}: Ready as the {expected} case needs it",
                    lambda r=ref, c=check: c(read(sandbox, r)),  # type: ignore[misc]
                    STATE_SECONDS,
                    operator,
                    show=lambda r=ref: read(sandbox, r).get("status"),  # type: ignore[misc]
                )
                keep(ref, expected, f"Ready {condition(read(sandbox, ref), 'Ready').get('reason')}")

        # The operator is stopped: an edit stays unobserved, whatever Ready said before it.
        for ref, edit in EDITS.items():
            kind, name, namespace = ref
            ns = ["-n", namespace] if namespace else []
            kubectl(sandbox, "patch", kind, name, *ns, "--type=merge", "-p", json.dumps(edit))
            edited = read(sandbox, ref)
            assert edited["status"]["observedGeneration"] < edited["metadata"]["generation"], edited["status"]
            keep(ref, "Progressing", "edited while the operator is stopped")
    finally:
        # Deleted while an operator runs, which removes kopf's finalizers from the budget and the
        # cost policy.
        with OperatorProcess(sandbox, log):
            for kind, name, namespace in CREATED:
                ns = ["-n", namespace] if namespace else []
                kubectl(
                    sandbox, "delete", kind, name, *ns, "--ignore-not-found", "--timeout=60s", check=False
                )
            kubectl(sandbox, "delete", "namespace", NAMESPACE, "--timeout=120s", check=False)
    return found


@pytest.mark.parametrize("kind", ["ScalingPolicy", "ResourceBudget", "CostPolicy"])
@pytest.mark.parametrize("expected", ["Healthy", "Degraded", "Progressing"])
def test_real_objects_get_the_health_their_ready_condition_means(
    observed: dict[tuple[str, HealthStatus], list[Snapshot]], kind: str, expected: HealthStatus
) -> None:
    snapshots = observed.get((kind, expected))
    assert snapshots, f"no {kind} was seen in a state that should be {expected}"
    for state, obj in snapshots:
        health = health_of(obj)
        print(f"{kind} {state} -> {health.status}: {health.message}")
        assert health.status == expected, (state, health, obj.get("status"))
        ready = condition(obj, "Ready")
        if expected == "Healthy":
            assert health == Health("Healthy", ready["message"])
        elif expected == "Degraded":
            assert health == Health("Degraded", f"{ready['reason']}: {ready['message']}")
        elif ready:
            assert ready["message"] in health.message


# ----------------------------------------------------------------------------- field managers


def fields_of(obj: dict[str, Any], manager: str) -> list[dict[str, Any]]:
    return [entry for entry in obj["metadata"].get("managedFields", []) if entry["manager"] == manager]


@pytest.fixture(scope="module")
def scaling_operator(
    sandbox: SandboxEnv, crds_installed: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    kubectl(sandbox, "create", "namespace", FIELDS_NAMESPACE)
    # 2 cores on one pod of 500m is 400% against a 50% target: an Apply policy scales it up.
    apply(sandbox, deployment_manifest("scaled", FIELDS_NAMESPACE, 1, {"sandbox.thrifty.dev/cpu": "2"}))
    process = OperatorProcess(
        sandbox,
        tmp_path_factory.mktemp("operator") / "operator.log",
        extra_env=quick_reads(),
    ).start()
    try:
        yield process
    finally:
        kubectl(sandbox, "delete", "namespace", FIELDS_NAMESPACE, "--timeout=120s", check=False)
        process.stop()


def test_thrifty_writes_workloads_as_field_manager_thrifty_and_kopf_never_does(
    sandbox: SandboxEnv, scaling_operator: OperatorProcess
) -> None:
    apply(sandbox, scaling_policy_manifest("scaled", FIELDS_NAMESPACE))
    wait_for(
        "the Apply policy scaled its Deployment up",
        lambda: get(sandbox, "deployment", "scaled", "-n", FIELDS_NAMESPACE)["spec"]["replicas"] > 1,
        SCALE_SECONDS,
        scaling_operator,
        show=lambda: get(sandbox, "scalingpolicy", "scaled", "-n", FIELDS_NAMESPACE).get("status"),
    )
    deployment = get(sandbox, "deployment", "scaled", "-n", FIELDS_NAMESPACE, "--show-managed-fields")
    managers = sorted(
        {(e["manager"], e.get("subresource", "")) for e in deployment["metadata"]["managedFields"]}
    )
    print(f"Deployment managers: {managers}")
    scale = [entry for entry in fields_of(deployment, FIELD_MANAGER) if entry.get("subresource") == "scale"]
    # What Argo CD's managedFieldsManagers compares with: the replicas of the Deployment itself.
    assert scale, managers
    assert "f:replicas" in scale[0]["fieldsV1"]["f:spec"], scale
    assert not fields_of(deployment, KOPF_MANAGER), managers

    events = get(
        sandbox, "events", "-n", FIELDS_NAMESPACE, "--show-managed-fields",
        "--field-selector", "involvedObject.name=scaled,reason=ScaledUp",
    )["items"]  # fmt: skip
    assert {e["involvedObject"]["kind"] for e in events} == {"Deployment", "ScalingPolicy"}
    for event in events:
        assert {entry["manager"] for entry in event["metadata"]["managedFields"]} == {FIELD_MANAGER}


def test_kopf_writes_thriftys_own_objects_as_kopf_and_status_is_thriftys(
    sandbox: SandboxEnv, scaling_operator: OperatorProcess
) -> None:
    apply(sandbox, scaling_policy_manifest("scaled", FIELDS_NAMESPACE))
    kubectl(sandbox, "apply", "-f", str(REPO / "examples" / "costpolicy.yaml"))
    finalizer = f"{ANNOTATION_PREFIX}/finalizer"
    wait_for(
        "kopf's finalizer on the CostPolicy (its timer needs one)",
        lambda: finalizer in get(sandbox, "costpolicy", "default")["metadata"].get("finalizers", []),
        STATE_SECONDS,
        scaling_operator,
    )
    diffbase = f"f:{ANNOTATION_PREFIX}/last-handled-configuration"
    for obj in (
        get(sandbox, "scalingpolicy", "scaled", "-n", FIELDS_NAMESPACE, "--show-managed-fields"),
        get(sandbox, "costpolicy", "default", "--show-managed-fields"),
    ):
        managers = sorted(
            {(e["manager"], e.get("subresource", "")) for e in obj["metadata"]["managedFields"]}
        )
        print(f"{obj['kind']} managers: {managers}")
        kopf_fields = json.dumps([entry["fieldsV1"] for entry in fields_of(obj, KOPF_MANAGER)])
        assert diffbase in kopf_fields, managers
        assert "f:status" not in kopf_fields, managers
        status_writers = [e for e in fields_of(obj, FIELD_MANAGER) if e.get("subresource") == "status"]
        assert status_writers, managers
    cost_policy = get(sandbox, "costpolicy", "default", "--show-managed-fields")
    kopf_fields = json.dumps([entry["fieldsV1"] for entry in fields_of(cost_policy, KOPF_MANAGER)])
    assert "f:finalizers" in kopf_fields
