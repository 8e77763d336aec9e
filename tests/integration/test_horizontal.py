"""Acceptance of horizontal scaling: `thrifty run` as a real process against the sandbox.

The load comes from the sandbox's live pod metrics (kubelet and kube-state-metrics stand-ins scraped by
the real Prometheus): a Deployment's `sandbox.thrifty.dev/cpu` annotation is its total CPU use, split
over its running pods, so scaling out lowers each pod's utilization as a load balancer would.

- Apply mode scales the Deployment (real pods on KWOK nodes) to the recommendation, through the scale
  subresource as field manager thrifty, with an Event and lastAction.
- After the load drops, replicas stay for the scale-down stabilization window, then go down.
- With Prometheus stopped, a drop in load that would otherwise scale down changes nothing, and the
  policy says why; once Prometheus is back the scale-down happens.
- A predictive policy on a workload with backfilled real-trace history reports its forecast.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sandbox_helpers import OperatorProcess, apply, condition, deployment_manifest, get, kubectl, wait_for

from thrifty.sandbox import cluster
from thrifty.sandbox.cluster import SandboxEnv
from thrifty.sandbox.demo_data import load_trace_history

pytestmark = pytest.mark.usefixtures("crds_installed")

NS = f"hz-{uuid.uuid4().hex[:6]}"
FORECAST_NS = f"hz-forecast-{uuid.uuid4().hex[:6]}"
WINDOW_SECONDS = 40  # scale-down stabilization window of the Apply policy
SYNC_SECONDS = 3


def deployment(name: str, namespace: str, replicas: int, cpu_load: str | None) -> str:
    return deployment_manifest(
        name, namespace, replicas, {"sandbox.thrifty.dev/cpu": cpu_load} if cpu_load else {}
    )


POLICY = f"""
apiVersion: thrifty.dev/v1alpha1
kind: ScalingPolicy
metadata:
  name: web
  namespace: {NS}
spec:
  targetRef: {{kind: Deployment, name: web}}
  mode: Apply
  horizontal:
    minReplicas: 1
    maxReplicas: 10
    metrics:
    - type: CPU
      targetUtilization: 50
    behavior:
      scaleDown:
        stabilizationWindowSeconds: {WINDOW_SECONDS}
"""


def set_load(env: SandboxEnv, cores: str) -> float:
    kubectl(env, "annotate", "deployment/web", "-n", NS, f"sandbox.thrifty.dev/cpu={cores}", "--overwrite")
    return time.monotonic()


def replicas(env: SandboxEnv) -> int:
    return int(get(env, "deployment", "web", "-n", NS)["spec"]["replicas"])


def running_pods(env: SandboxEnv) -> int:
    pods = get(env, "pods", "-n", NS, "-l", "app=web")["items"]
    return sum(1 for p in pods if p["status"].get("phase") == "Running" and p["spec"].get("nodeName"))


def policy_status(env: SandboxEnv, namespace: str = NS, name: str = "web") -> dict[str, Any]:
    return dict(get(env, "scalingpolicy", name, "-n", namespace).get("status") or {})


@pytest.fixture(scope="module")
def operator(sandbox: SandboxEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OperatorProcess]:
    for namespace in (NS, FORECAST_NS):
        kubectl(sandbox, "create", "namespace", namespace)
    apply(sandbox, deployment("web", NS, 2, "0.5"))
    apply(sandbox, deployment("shop", FORECAST_NS, 2, None))
    kubectl(sandbox, "rollout", "status", "deployment/shop", "-n", FORECAST_NS, "--timeout=120s")
    # Backfilling restarts Prometheus, so it goes first: three days of real trace for the forecast.
    load_trace_history(sandbox.state_dir, FORECAST_NS, "alibaba2018", history_days=3, progress=lambda _: None)
    process = OperatorProcess(
        sandbox,
        tmp_path_factory.mktemp("operator") / "operator.log",
        extra_env={
            "THRIFTY_HORIZONTAL_SYNC_SECONDS": str(SYNC_SECONDS),
            "THRIFTY_EVALUATION_SECONDS": "10",
            "THRIFTY_PROMETHEUS_SCRAPE_INTERVAL": "5",
        },
        namespaces=[NS, FORECAST_NS],
    ).start()
    try:
        yield process
    finally:
        for namespace in (NS, FORECAST_NS):
            kubectl(
                sandbox, "delete", "scalingpolicies", "--all", "-n", namespace, "--timeout=30s", check=False
            )
        process.stop()
        for namespace in (NS, FORECAST_NS):
            kubectl(sandbox, "delete", "namespace", namespace, "--wait=false", check=False)


def test_apply_scales_up_to_the_recommendation_then_holds_the_scale_down_window(
    sandbox: SandboxEnv, operator: OperatorProcess
) -> None:
    apply(sandbox, POLICY)
    wait_for(
        "the policy sees the load (2 pods at 0.25 cores of 0.5 = 50%)",
        lambda: (policy_status(sandbox).get("currentUtilization") or {}).get("cpuPercent") is not None,
        90,
        operator,
        show=lambda: policy_status(sandbox),
    )
    # 3 cores over 2 pods of 500m is 300% against a 50% target: 12 replicas, capped at 10.
    set_load(sandbox, "3")
    wait_for(
        "scaled to maxReplicas 10",
        lambda: replicas(sandbox) == 10,
        120,
        operator,
        show=lambda: policy_status(sandbox),
    )
    wait_for("10 pods running on KWOK nodes", lambda: running_pods(sandbox) == 10, 120, operator)
    status = policy_status(sandbox)
    assert status["recommendation"]["replicas"] == 10
    assert "cpu at" in status["recommendation"]["reason"]
    assert status["lastAction"]["action"] == "ScaleUp"
    assert status["lastAction"]["to"] == "10"
    managers = get(sandbox, "deployment", "web", "-n", NS, "--show-managed-fields")["metadata"][
        "managedFields"
    ]
    assert any(m["manager"] == "thrifty" and m.get("subresource") == "scale" for m in managers)
    events = get(sandbox, "events", "-n", NS, "--field-selector", "reason=ScaledUp")["items"]
    assert {e["involvedObject"]["kind"] for e in events} >= {"ScalingPolicy", "Deployment"}

    # 0.9 cores over 10 pods is 18%: 4 replicas (ceil(10 x 18 / 50)), but only once the window of
    # higher counts has passed. Loads here keep clear of exact multiples, where the HPA's ceil() makes
    # a count depend on noise in the last digit.
    dropped = set_load(sandbox, "0.9")
    while time.monotonic() < dropped + WINDOW_SECONDS - 5:
        assert replicas(sandbox) == 10, policy_status(sandbox).get("recommendation")
        time.sleep(1)
    wait_for("scaled down to 4", lambda: replicas(sandbox) == 4, WINDOW_SECONDS + 90, operator,
             show=lambda: policy_status(sandbox))  # fmt: skip
    assert time.monotonic() - dropped >= WINDOW_SECONDS
    assert policy_status(sandbox)["lastAction"]["action"] == "ScaleDown"


def settled(env: SandboxEnv, at_least: int, seconds: float = 12) -> int | None:
    """Replicas once they are at least ``at_least`` and have not changed for ``seconds``."""
    first = replicas(env)
    if first < at_least:
        return None
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if replicas(env) != first:
            return None
        time.sleep(1)
    return first


def test_no_scale_down_while_prometheus_is_stopped(sandbox: SandboxEnv, operator: OperatorProcess) -> None:
    apply(sandbox, POLICY)
    # 1.9 cores at 50% of 500m: about 8 replicas (the tolerance may settle it at 7).
    set_load(sandbox, "1.9")
    held = eventually_settled(sandbox, operator, at_least=7)
    cluster.stop_prometheus(sandbox.state_dir)
    try:
        set_load(sandbox, "0.45")  # would be 2 replicas
        wait_for(
            "MetricsAvailable=False, reason PrometheusUnavailable",
            lambda: (
                condition(get(sandbox, "scalingpolicy", "web", "-n", NS), "MetricsAvailable").get("reason")
                == "PrometheusUnavailable"
            ),
            60,
            operator,
        )
        stopped = time.monotonic()
        while time.monotonic() < stopped + WINDOW_SECONDS + 20:
            assert replicas(sandbox) == held
            time.sleep(1)
        ready = condition(get(sandbox, "scalingpolicy", "web", "-n", NS), "Ready")
        assert ready["status"] == "False"
        assert "nothing is scaled down" in ready["message"]
    finally:
        cluster.restart_prometheus(sandbox.state_dir, progress=lambda _: None)
    wait_for("scaled down once Prometheus is back", lambda: replicas(sandbox) == 2,
             WINDOW_SECONDS + 120, operator, show=lambda: policy_status(sandbox))  # fmt: skip


def eventually_settled(env: SandboxEnv, operator: OperatorProcess, at_least: int) -> int:
    found: list[int] = []

    def check() -> bool:
        count = settled(env, at_least)
        if count is not None:
            found.append(count)
        return count is not None

    wait_for(f"settled at {at_least} replicas or more", check, 180, operator, show=lambda: policy_status(env))
    return found[-1]


def test_a_predictive_policy_reports_its_forecast(sandbox: SandboxEnv, operator: OperatorProcess) -> None:
    apply(
        sandbox,
        f"""
apiVersion: thrifty.dev/v1alpha1
kind: ScalingPolicy
metadata:
  name: shop
  namespace: {FORECAST_NS}
spec:
  targetRef: {{kind: Deployment, name: shop}}
  horizontal:
    maxReplicas: 20
    predictive:
      enabled: true
      leadTimeSeconds: 600
""",
    )
    wait_for(
        "a Predictive condition and a forecast in status",
        lambda: (
            bool(condition(get(sandbox, "scalingpolicy", "shop", "-n", FORECAST_NS), "Predictive"))
            and bool(policy_status(sandbox, FORECAST_NS, "shop").get("forecast"))
        ),
        120,
        operator,
        show=lambda: policy_status(sandbox, FORECAST_NS, "shop"),
    )
    status = policy_status(sandbox, FORECAST_NS, "shop")
    forecast = status["forecast"]
    predictive = condition(get(sandbox, "scalingpolicy", "shop", "-n", FORECAST_NS), "Predictive")
    print(f"\nshop forecast: {forecast}\nPredictive: {predictive}")
    assert forecast["metric"] == "cpu"
    assert forecast["seasonality"] in ("Daily", "Weekly", "None")
    assert predictive["reason"] in ("Steering", "ForecastInaccurate", "InsufficientHistory")
    assert (predictive["status"] == "True") == forecast["steering"]
    if forecast["steering"]:
        assert forecast["peakReplicas"] >= 1
        assert forecast["recentError"] <= 0.25
