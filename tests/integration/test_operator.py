"""The operator against a real API server: examples become Ready, edits and targets are followed,
and a restart changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sandbox_helpers import (
    REPO,
    RESYNC_SECONDS,
    OperatorProcess,
    apply,
    budget_rounds_logged,
    condition,
    evaluation_rounds_logged,
    get,
    kubectl,
    usage_batches_logged,
    usage_rounds_logged,
    wait_for,
)

from thrifty.sandbox.cluster import SandboxEnv

NAMESPACE = "operator-test"
EVALUATION_SECONDS = 60  # the operator's default round (THRIFTY_EVALUATION_SECONDS unset)


@pytest.fixture(scope="module")
def operator(
    sandbox: SandboxEnv, crds_installed: None, demo_history: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    kubectl(sandbox, "create", "namespace", NAMESPACE)
    process = OperatorProcess(sandbox, tmp_path_factory.mktemp("operator") / "operator.log").start()
    try:
        yield process
    finally:
        # Deleted while the operator runs: it removes its finalizers from the policies inside.
        kubectl(sandbox, "delete", "namespace", NAMESPACE, "--wait=false")
        process.stop()


def is_ready_and_current(obj: dict[str, Any]) -> bool:
    generation = obj["metadata"]["generation"]
    ready = condition(obj, "Ready")
    return (
        ready.get("status") == "True"
        and obj.get("status", {}).get("observedGeneration") == generation
        and ready.get("observedGeneration") == generation
    )


EXAMPLES = [
    ("costpolicy", "default", None),
    ("resourcebudget", "demo-monthly", None),
    ("scalingpolicy", "web", "demo"),
]


def example(env: SandboxEnv, kind: str, name: str, namespace: str | None) -> dict[str, Any]:
    return get(env, kind, name, *(["-n", namespace] if namespace else []))


def test_every_example_becomes_ready_within_10_seconds(
    sandbox: SandboxEnv, operator: OperatorProcess
) -> None:
    kubectl(sandbox, "apply", "-f", str(REPO / "examples"))
    for kind, name, namespace in EXAMPLES:
        wait_for(
            f"{kind}/{name} Ready with observedGeneration == generation",
            lambda k=kind, n=name, ns=namespace: is_ready_and_current(example(sandbox, k, n, ns)),  # type: ignore[misc]
            10,
            operator,
            show=lambda k=kind, n=name, ns=namespace: example(sandbox, k, n, ns).get("status"),  # type: ignore[misc]
        )
    policy = example(sandbox, "scalingpolicy", "web", "demo")
    assert policy["status"]["currentReplicas"] == 3
    assert condition(policy, "TargetFound")["reason"] == "TargetFound"


SCALING_POLICY = """
apiVersion: thrifty.dev/v1alpha1
kind: ScalingPolicy
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  targetRef: {{kind: Deployment, name: {target}}}
  horizontal: {{minReplicas: 1, maxReplicas: 4}}
"""

# A CPU request and a live load (the sandbox's live pod metrics) give horizontal scaling a reading.
DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {namespace}
  annotations: {{sandbox.thrifty.dev/cpu: "0.8"}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers: [{{name: app, image: nginx, resources: {{requests: {{cpu: 500m}}}}}}]
"""
# Until the first scrapes of a new workload's pods arrive (5 s apart) it has no reading.
FIRST_READING_SECONDS = 60


def test_missing_target_is_reported_and_becomes_ready_when_it_appears(
    sandbox: SandboxEnv, operator: OperatorProcess
) -> None:
    apply(sandbox, SCALING_POLICY.format(name="late", namespace=NAMESPACE, target="late-app"))

    def not_found() -> bool:
        ready = condition(get(sandbox, "scalingpolicy", "late", "-n", NAMESPACE), "Ready")
        return ready.get("status") == "False" and ready.get("reason") == "TargetNotFound"

    wait_for("Ready=False, reason TargetNotFound", not_found, 10, operator)
    message = condition(get(sandbox, "scalingpolicy", "late", "-n", NAMESPACE), "Ready")["message"]
    assert f"Deployment {NAMESPACE}/late-app does not exist" in message

    apply(sandbox, DEPLOYMENT.format(name="late-app", namespace=NAMESPACE))
    wait_for(
        "Ready=True once the Deployment exists",
        lambda: is_ready_and_current(get(sandbox, "scalingpolicy", "late", "-n", NAMESPACE)),
        FIRST_READING_SECONDS,
        operator,
    )


def test_editing_the_spec_updates_status(sandbox: SandboxEnv, operator: OperatorProcess) -> None:
    apply(sandbox, DEPLOYMENT.format(name="edited-app", namespace=NAMESPACE))
    apply(sandbox, SCALING_POLICY.format(name="edited", namespace=NAMESPACE, target="edited-app"))
    wait_for(
        "the new policy Ready",
        lambda: is_ready_and_current(get(sandbox, "scalingpolicy", "edited", "-n", NAMESPACE)),
        FIRST_READING_SECONDS,
        operator,
    )
    kubectl(
        sandbox,
        "patch",
        "scalingpolicy",
        "edited",
        "-n",
        NAMESPACE,
        "--type=merge",
        "-p",
        '{"spec": {"targetRef": {"name": "no-such-app"}}}',
    )

    def follows_edit() -> bool:
        policy = get(sandbox, "scalingpolicy", "edited", "-n", NAMESPACE)
        ready = condition(policy, "Ready")
        return (
            policy["metadata"]["generation"] == 2
            and policy["status"]["observedGeneration"] == 2
            and ready.get("reason") == "TargetNotFound"
        )

    wait_for("status to follow the edit (generation 2, TargetNotFound)", follows_edit, 10, operator)


def test_cost_policy_not_named_default_says_it_is_not_in_use(
    sandbox: SandboxEnv, operator: OperatorProcess
) -> None:
    document = (
        (REPO / "examples" / "costpolicy.yaml").read_text().replace("name: default", "name: staging", 1)
    )
    apply(sandbox, document)
    try:

        def not_in_use() -> bool:
            ready = condition(get(sandbox, "costpolicy", "staging"), "Ready")
            return ready.get("status") == "False" and ready.get("reason") == "NotInUse"

        wait_for("Ready=False, reason NotInUse", not_in_use, 10, operator)
    finally:
        kubectl(sandbox, "delete", "costpolicy", "staging")


BUDGET_WITH_WEBHOOK = f"""
apiVersion: thrifty.dev/v1alpha1
kind: ResourceBudget
metadata: {{name: hooked}}
spec:
  amount: 100
  scope: {{namespaces: [{NAMESPACE}]}}
  webhook: {{secretRef: {{namespace: {NAMESPACE}, name: budget-webhook}}}}
"""


def test_budget_waits_for_its_webhook_secret(sandbox: SandboxEnv, operator: OperatorProcess) -> None:
    apply(sandbox, BUDGET_WITH_WEBHOOK)
    try:

        def secret_missing() -> bool:
            ready = condition(get(sandbox, "resourcebudget", "hooked"), "Ready")
            return ready.get("reason") == "WebhookSecretNotFound"

        wait_for("Ready=False, reason WebhookSecretNotFound", secret_missing, 10, operator)
        kubectl(
            sandbox,
            "create",
            "secret",
            "generic",
            "budget-webhook",
            "-n",
            NAMESPACE,
            "--from-literal=url=http://127.0.0.1:9/hook",
        )
        wait_for(
            "Ready=True once the Secret exists",
            lambda: is_ready_and_current(get(sandbox, "resourcebudget", "hooked")),
            10 + 3 * RESYNC_SECONDS,
            operator,
        )
    finally:
        kubectl(sandbox, "delete", "resourcebudget", "hooked")


def events_about(env: SandboxEnv, name: str, namespace: str) -> list[tuple[str, str, int]]:
    events = get(env, "events", "-n", namespace, "--field-selector", f"involvedObject.name={name}")
    return sorted((e["reason"], e.get("message", ""), e.get("count", 1)) for e in events["items"])


QUERIES_PER_ROUND_AT_MOST = 20


def test_a_round_reads_every_namespace_in_one_batch(sandbox: SandboxEnv, operator: OperatorProcess) -> None:
    """Policies in three more namespaces add no Prometheus query to a round: the live load, usage
    history and node placements are each one batch for every namespace with a policy."""
    spread = [f"{NAMESPACE}-spread-{i}" for i in range(3)]
    try:
        for namespace in spread:
            kubectl(sandbox, "create", "namespace", namespace)
            apply(sandbox, DEPLOYMENT.format(name="load", namespace=namespace))
            apply(
                sandbox,
                SCALING_POLICY.format(name="load", namespace=namespace, target="load") + "  vertical: {}\n",
            )
        wait_for(
            "one usage batch for all three namespaces",
            lambda: any(set(spread) <= batch for batch in usage_batches_logged(operator)),
            2 * EVALUATION_SECONDS + 60,
            operator,
        )
        first = len(evaluation_rounds_logged(operator))
        wait_for(
            "a whole usage interval of rounds after it",
            lambda: (
                any(set(spread) <= batch for batch in usage_batches_logged(operator)[-1:])
                and len(evaluation_rounds_logged(operator)) >= first + 4
            ),
            2 * EVALUATION_SECONDS + 60,
            operator,
        )
        rounds = evaluation_rounds_logged(operator)[first:]
        print(
            f"\nPrometheus queries per round: {[r.queries for r in rounds]}, policies {rounds[-1].policies}"
        )
        assert max(r.queries for r in rounds) <= QUERIES_PER_ROUND_AT_MOST, rounds
        # Every batch covers the namespaces of all policies at once: none is read alone.
        assert all(set(spread) <= batch for batch in usage_batches_logged(operator)[-1:])
    finally:
        for namespace in spread:
            kubectl(sandbox, "delete", "namespace", namespace, "--wait=false", check=False)


def test_restarting_the_operator_changes_nothing(
    sandbox: SandboxEnv, operator: OperatorProcess, tmp_path: Path
) -> None:
    kubectl(sandbox, "apply", "-f", str(REPO / "examples"))
    wait_for(
        "examples Ready",
        lambda: all(is_ready_and_current(example(sandbox, *e)) for e in EXAMPLES),
        10,
        operator,
    )
    # The demo's pods may be younger than two CPU rate windows: their reading is PartialData until
    # Prometheus holds a full window of each, which changes the reason whether or not the operator
    # restarts. Compare the settled state.
    wait_for(
        "web's CPU reading covers whole windows",
        lambda: (
            condition(example(sandbox, "scalingpolicy", "web", "demo"), "MetricsAvailable").get("reason")
            == "MetricsRead"
        ),
        EVALUATION_SECONDS + 120,
        operator,
    )
    conditions_before = [transitions(example(sandbox, *e)) for e in EXAMPLES]
    events_before = events_about(sandbox, "web", "demo")

    budget_rounds = len(budget_rounds_logged(operator, "demo-monthly"))
    usage_rounds = len(usage_rounds_logged(operator, "demo"))
    operator.stop()
    operator.start()
    # Until the restarted operator has evaluated the examples and written what it found: rounds it
    # logged (the first at resume, the next a round later, after the first's status), not seconds.
    wait_for(
        "two rounds of the restarted operator for the budget and the policy",
        lambda: (
            len(budget_rounds_logged(operator, "demo-monthly")) >= budget_rounds + 2
            and len(usage_rounds_logged(operator, "demo")) >= usage_rounds + 2
        ),
        2 * EVALUATION_SECONDS + 60,
        operator,
    )

    # Live figures (utilization, spend) move on by themselves; what a restart must not touch is every
    # condition's state and transition time, and the Events.
    assert [transitions(example(sandbox, *e)) for e in EXAMPLES] == conditions_before
    assert events_about(sandbox, "web", "demo") == events_before


def transitions(obj: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return sorted(
        (c["type"], c["status"], c["reason"], c["lastTransitionTime"]) for c in obj["status"]["conditions"]
    )
