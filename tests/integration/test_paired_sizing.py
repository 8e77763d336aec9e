"""Requests and replicas as one decision, on the sandbox: a policy that scales on CPU utilization and
right-sizes shows one pair (the replicas its target asks for at the CPU request it recommends),
priced at the pods' nodes' rates, and Apply mode sets both in the same evaluation.

The workload has a day of real-trace history (alibaba2018, as the demo has) and a live load of 1.2
cores over 3 pods of 500m, which at a 70% target is 4 pods of 500m.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from sandbox_helpers import (
    OPENCOST_COST_POLICY,
    OPENCOST_RATES,
    OperatorProcess,
    apply,
    condition,
    deployment_manifest,
    get,
    kubectl,
    quick_reads,
    wait_for,
)

from thrifty.engine.quantities import parse_quantity
from thrifty.sandbox.cluster import SandboxEnv
from thrifty.sandbox.demo_data import load_trace_history
from thrifty.sandbox.inventory import read_inventory

pytestmark = pytest.mark.usefixtures("crds_installed")

NAMESPACE = f"paired-{uuid.uuid4().hex[:6]}"
LOAD_CORES = 1.2
TARGET = 0.7
HOURS_PER_MONTH = 730
GiB = 1024**3
# Deadlines for eventual states (a usage read, a round), not benchmarks.
DEADLINE_SECONDS = 180


POLICY = """
apiVersion: thrifty.dev/v1alpha1
kind: ScalingPolicy
metadata: {{name: web, namespace: {namespace}}}
spec:
  targetRef: {{kind: Deployment, name: web}}
  mode: {mode}
  horizontal:
    minReplicas: 2
    maxReplicas: 10
    metrics: [{{type: CPU, targetUtilization: 70}}]
  vertical: {{}}
"""


@pytest.fixture(scope="module")
def operator(sandbox: SandboxEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OperatorProcess]:
    kubectl(sandbox, "create", "namespace", NAMESPACE)
    apply(sandbox, OPENCOST_COST_POLICY)
    apply(sandbox, deployment_manifest("web", NAMESPACE, 3, memory="512Mi"))
    kubectl(sandbox, "rollout", "status", "deployment/web", "-n", NAMESPACE, "--timeout=120s")
    load_trace_history(sandbox.state_dir, NAMESPACE, "alibaba2018", history_days=1, progress=lambda _: None)
    kubectl(sandbox, "annotate", "deployment/web", "-n", NAMESPACE, f"sandbox.thrifty.dev/cpu={LOAD_CORES}")
    process = OperatorProcess(
        sandbox,
        tmp_path_factory.mktemp("operator") / "operator.log",
        extra_env=quick_reads(),
        namespaces=[NAMESPACE],
    ).start()
    try:
        yield process
    finally:
        kubectl(sandbox, "delete", "scalingpolicies", "--all", "-n", NAMESPACE, "--timeout=30s", check=False)
        process.stop()
        kubectl(sandbox, "delete", "namespace", NAMESPACE, "--wait=false", check=False)


def policy_status(env: SandboxEnv) -> dict[str, Any]:
    status: dict[str, Any] = get(env, "scalingpolicy", "web", "-n", NAMESPACE).get("status") or {}
    return status


def recommended_cpu(status: dict[str, Any]) -> float | None:
    containers = (status.get("recommendation") or {}).get("containers") or []
    requests = (containers[0].get("recommended") or {}).get("requests") if containers else None
    return None if not requests or "cpu" not in requests else parse_quantity(requests["cpu"])


def paired(env: SandboxEnv) -> bool:
    """A paired recommendation made on a whole reading of the live load: 1.2 cores on 3 pods of
    500m read as about 80% (the rate of a busy machine's scrapes gives a few percent less)."""
    status = policy_status(env)
    message = condition({"status": status}, "Recommendation").get("message", "")
    whole = condition({"status": status}, "MetricsAvailable").get("reason") == "MetricsRead"
    cpu_percent = (status.get("currentUtilization") or {}).get("cpuPercent") or 0
    return (
        recommended_cpu(status) is not None
        and " replicas" in message.split(";")[0]
        and whole
        and (cpu_percent >= 72)
    )


def hpa_replicas(replicas_now: int, load_cores: float, pod_cpu: float) -> set[int]:
    """What the HPA rule asks for at ``pod_cpu`` from ``replicas_now`` (today's count inside the 10%
    tolerance), for a load read as ``load_cores`` give or take the rounding of the percent shown."""
    answers = set()
    for load in (load_cores * 0.998, load_cores * 1.002):
        ratio = load / (replicas_now * pod_cpu * TARGET)
        wanted = replicas_now if abs(ratio - 1) <= 0.1 else math.ceil(replicas_now * ratio - 1e-9)
        answers.add(min(10, max(2, wanted)))
    return answers


def load_read(status: dict[str, Any], replicas: int, pod_cpu: float) -> float:
    """The CPU the operator read, from the utilization it shows against the pods' requests now."""
    return float(status["currentUtilization"]["cpuPercent"]) / 100 * replicas * pod_cpu


def seconds(rfc3339: str) -> int:
    return int(datetime.fromisoformat(rfc3339).timestamp())


def pod_month(env: SandboxEnv, cpu: float, memory: float) -> float:
    """A pod's requests for a month at the mean rates of the nodes the workload's pods run on."""
    nodes = [pod.node for pod in read_inventory(env.kubeconfig, NAMESPACE).pods]
    rates = [OPENCOST_RATES["spot" if "spot" in node else "on-demand"] for node in nodes]
    cpu_rate = sum(r[0] for r in rates) / len(rates)
    memory_rate = sum(r[1] for r in rates) / len(rates)
    return HOURS_PER_MONTH * (cpu * cpu_rate + memory / GiB * memory_rate)


def test_recommend_mode_shows_one_pair_priced_at_the_nodes(
    sandbox: SandboxEnv, operator: OperatorProcess
) -> None:
    apply(sandbox, POLICY.format(namespace=NAMESPACE, mode="Recommend"))
    wait_for("a paired recommendation", lambda: paired(sandbox), DEADLINE_SECONDS, operator,
             show=lambda: policy_status(sandbox))  # fmt: skip
    status = policy_status(sandbox)
    cpu = recommended_cpu(status)
    assert cpu is not None
    replicas = status["recommendation"]["replicas"]
    message = condition({"status": status}, "Recommendation")["message"]
    print(f"\npair: {replicas} x {cpu * 1000:.0f}m; {message.split('; web:')[0]}; cost {status['cost']}")
    # The replicas are the ones the 70% target asks for at that request, not at today's 500m, and
    # the message names the same pair.
    assert replicas in hpa_replicas(3, load_read(status, 3, 0.5), cpu)
    assert f"{cpu * 1000:.0f}m at {replicas} replicas" in message
    assert cpu <= 0.5
    memory = parse_quantity(status["recommendation"]["containers"][0]["recommended"]["requests"]["memory"])
    cost = status["cost"]
    assert cost["monthlyRecommended"] == pytest.approx(replicas * pod_month(sandbox, cpu, memory), rel=0.01)
    assert cost["monthlyCurrent"] == pytest.approx(3 * pod_month(sandbox, 0.5, 512 * 2**20), rel=0.01)
    assert cost["monthlySavings"] == pytest.approx(
        cost["monthlyCurrent"] - cost["monthlyRecommended"], abs=0.02
    )
    # The Deployment is left alone in Recommend mode.
    assert get(sandbox, "deployment", "web", "-n", NAMESPACE)["spec"]["replicas"] == 3


def test_apply_mode_sets_requests_and_replicas_in_one_evaluation(
    sandbox: SandboxEnv, operator: OperatorProcess
) -> None:
    apply(sandbox, POLICY.format(namespace=NAMESPACE, mode="Recommend"))
    wait_for("a paired recommendation", lambda: paired(sandbox), DEADLINE_SECONDS, operator)
    apply(sandbox, POLICY.format(namespace=NAMESPACE, mode="Apply"))

    def settled() -> bool:
        """Resized, and at the replicas the target asks for at the new request."""
        status = policy_status(sandbox)
        deployment = get(sandbox, "deployment", "web", "-n", NAMESPACE)
        requests = deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]
        cpu = parse_quantity(requests["cpu"])
        replicas = deployment["spec"]["replicas"]
        resized = (status.get("lastResize") or {}).get("action") == "Resize"
        if not resized or cpu >= 0.5 or status.get("currentReplicas") != replicas:
            return False
        # Settled: the reading at the new request keeps the replicas where they are.
        return replicas in hpa_replicas(replicas, load_read(status, replicas, cpu), cpu)

    wait_for("resized and scaled", settled, DEADLINE_SECONDS, operator, show=lambda: policy_status(sandbox))
    status = policy_status(sandbox)
    resize = status["lastResize"]
    print(
        f"\nresized: {resize['from']} -> {resize['to']} at {resize['time']}; "
        f"lastAction {status['lastAction']}"
    )
    # The evaluation that resized also scaled for the new request: a ScaledUp Event in its second.
    events = get(sandbox, "events", "-n", NAMESPACE, "--field-selector", "involvedObject.kind=Deployment")
    scaled_at = [seconds(e["firstTimestamp"]) for e in events["items"] if e["reason"] == "ScaledUp"]
    resized_at = seconds(resize["time"])
    assert any(abs(at - resized_at) <= 2 for at in scaled_at), (resize["time"], scaled_at)
    assert any(e["reason"] == "Resized" for e in events["items"])
