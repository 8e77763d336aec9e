"""Live pod metrics: the sandbox's exporter, scraped by its real Prometheus, follows a Deployment's
load annotation and splits it over the pods that run, as a load balancer would."""

from __future__ import annotations

import json
import math
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sandbox_helpers import eventually, kubectl

from thrifty.sandbox.cluster import SandboxEnv
from thrifty.sandbox.prometheus import LIVE_METRICS_JOB
from thrifty.settings import MetricNames
from thrifty.sources.promql import NamespaceQueries

MiB = 1024**2
# Limits for eventual states (pods starting, 30 s of fresh scrapes), not benchmarks.
WITHIN_SECONDS = 120.0

# The annotations as users write them: on the Deployment, not on its pod template.
DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations:
    sandbox.thrifty.dev/cpu: "1"
    sandbox.thrifty.dev/memory: 300Mi
    sandbox.thrifty.dev/requests-per-second: "40"
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: app
          image: nginx
          resources:
            requests: {cpu: 250m, memory: 256Mi}
"""


@pytest.fixture
def namespace(sandbox: SandboxEnv) -> Iterator[str]:
    name = f"live-{uuid.uuid4().hex[:8]}"
    kubectl(sandbox, "create", "namespace", name)
    try:
        yield name
    finally:
        kubectl(sandbox, "delete", "namespace", name, "--wait=false", check=False)


def query(env: SandboxEnv, promql: str) -> list[dict[str, Any]]:
    url = f"{env.prometheus_url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    with urllib.request.urlopen(url, timeout=10) as response:
        answer = json.load(response)
    assert answer["status"] == "success", answer
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def per_pod(env: SandboxEnv, promql: str) -> dict[str, float]:
    return {series["metric"]["pod"]: float(series["value"][1]) for series in query(env, promql)}


def running_pods(env: SandboxEnv, namespace: str, count: int) -> set[str] | None:
    listed = json.loads(kubectl(env, "get", "pods", "-n", namespace, "-l", "app=web", "-o", "json").stdout)
    names = {
        pod["metadata"]["name"]
        for pod in listed["items"]
        if pod["status"].get("phase") == "Running" and "deletionTimestamp" not in pod["metadata"]
    }
    return names if len(names) == count else None


def close(value: float, expected: float, tolerance: float = 0.1) -> bool:
    return math.isfinite(value) and abs(value - expected) <= tolerance * expected


def cpu_split(env: SandboxEnv, namespace: str, pods: set[str], each: float) -> dict[str, float] | None:
    """Per-pod cores once every running pod uses ``each`` (±10%) and no other pod has usage."""
    selector = f'container_cpu_usage_seconds_total{{namespace="{namespace}", container!=""}}'
    cores = per_pod(env, f"sum by (pod) (rate({selector}[30s]))")
    fresh = {pod: value for pod, value in cores.items() if value > 0}
    if set(fresh) != pods or not all(close(value, each) for value in fresh.values()):
        return None
    total = sum(float(s["value"][1]) for s in query(env, f"sum(rate({selector}[30s]))"))
    return cores if close(total, each * len(pods)) else None


def test_load_annotation_is_split_over_the_running_pods(sandbox: SandboxEnv, namespace: str) -> None:
    kubectl(sandbox, "apply", "-n", namespace, "-f", "-", input=DEPLOYMENT)
    pods = eventually("2 web pods Running", lambda: running_pods(sandbox, namespace, 2), WITHIN_SECONDS)

    # 1 core over 2 pods: 0.5 each, and 1 in total.
    eventually("0.5 core per pod", lambda: cpu_split(sandbox, namespace, pods, 0.5), WITHIN_SECONDS)
    memory = per_pod(
        sandbox, f'container_memory_working_set_bytes{{namespace="{namespace}", container="app"}}'
    )
    assert memory == dict.fromkeys(pods, 300 * MiB)
    requests = query(sandbox, f'sum(rate(http_requests_total{{namespace="{namespace}"}}[30s]))')
    assert close(float(requests[0]["value"][1]), 40.0)

    # kube-state-metrics' series: the pod's KWOK node, and the owner chain to the Deployment.
    info = {
        s["metric"]["pod"]: s["metric"] for s in query(sandbox, f'kube_pod_info{{namespace="{namespace}"}}')
    }
    assert set(info) == pods
    for name, labels in info.items():
        node = kubectl(sandbox, "get", "pod", name, "-n", namespace, "-o", "jsonpath={.spec.nodeName}").stdout
        assert labels["node"] == node
        assert node.startswith("kwok-")
        assert labels["job"] == LIVE_METRICS_JOB
    workload_of_pod = NamespaceQueries(MetricNames(), (namespace,), 5, 5.0, 5).workload_of_pod()
    owners = {
        s["metric"]["pod"]: (s["metric"]["owner_kind"], s["metric"]["owner_name"])
        for s in query(sandbox, workload_of_pod)
    }
    assert owners == dict.fromkeys(pods, ("Deployment", "web"))

    # Scale out: the same load over 4 pods is 0.25 core each.
    kubectl(sandbox, "scale", "deployment/web", "-n", namespace, "--replicas=4")
    scaled = eventually("4 web pods Running", lambda: running_pods(sandbox, namespace, 4), WITHIN_SECONDS)
    assert pods < scaled
    eventually("0.25 core per pod", lambda: cpu_split(sandbox, namespace, scaled, 0.25), WITHIN_SECONDS)

    # The operator's own usage query sees the same, per pod and joined to the Deployment.
    usage = query(sandbox, NamespaceQueries(MetricNames(), (namespace,), 5, 5.0, 5).cpu_usage())
    assert {(s["metric"]["owner_kind"], s["metric"]["owner_name"]) for s in usage} == {("Deployment", "web")}
    assert {s["metric"]["pod"] for s in usage} == scaled
    assert all(close(float(s["value"][1]), 0.25, 0.2) for s in usage), usage
