"""Acceptance of the sandbox: the nodes, pods and Prometheus that every other test relies on.

Everything here is what a user of `thrifty sandbox up` would check by hand: labelled Ready nodes,
a Deployment that runs, admin rights, backfilled history that Prometheus returns point for point,
and `thrifty sandbox env` printing the same environment.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.openmetrics.parser import text_string_to_metric_families
from sandbox_helpers import eventually, kubectl, parse_table

from thrifty.sandbox import cluster
from thrifty.sandbox.cluster import SandboxEnv
from thrifty.sandbox.inventory import Inventory, parse_quantity, read_inventory
from thrifty.sandbox.series import SeriesSummary, write_openmetrics
from thrifty.sandbox.traces import load_trace

CAPACITY_TYPE = "karpenter.sh/capacity-type"
PLACEMENT_LABELS = (
    "node.kubernetes.io/instance-type",
    "topology.kubernetes.io/region",
    "topology.kubernetes.io/zone",
)
# Acceptance limit for pods to start on the fake nodes: a deadline for an eventual state.
PODS_RUNNING_WITHIN_SECONDS = 60.0

HISTORY_SECONDS = 6 * 3600.0
SCRAPE_SECONDS = 60.0

LabelKey = tuple[tuple[str, str], ...]


def get_json(env: SandboxEnv, *args: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(kubectl(env, "get", *args, "-o", "json").stdout)
    return document


@pytest.fixture
def fresh_namespace(sandbox: SandboxEnv) -> Iterator[str]:
    name = f"sandbox-{uuid.uuid4().hex[:8]}"
    kubectl(sandbox, "create", "namespace", name)
    try:
        yield name
    finally:
        kubectl(sandbox, "delete", "namespace", name, "--wait=false", check=False)


def sandbox_node_names(env: SandboxEnv) -> set[str]:
    return {node["metadata"]["name"] for node in get_json(env, "nodes")["items"]}


def running_pods(env: SandboxEnv, namespace: str, selector: str) -> list[dict[str, Any]]:
    pods = get_json(env, "pods", "-n", namespace, "-l", selector)["items"]
    return [pod for pod in pods if pod.get("status", {}).get("phase") == "Running"]


# --------------------------------------------------------------------------- nodes and workloads


def test_nodes_are_three_spot_and_two_on_demand_all_ready(sandbox: SandboxEnv) -> None:
    table = parse_table(kubectl(sandbox, "get", "nodes", "-L", CAPACITY_TYPE).stdout)

    capacity = defaultdict(list)
    for row in table:
        capacity[row["CAPACITY-TYPE"]].append(row["NAME"])
    assert {kind: len(names) for kind, names in capacity.items()} == {"spot": 3, "on-demand": 2}, table
    assert [row["NAME"] for row in table if row["STATUS"] != "Ready"] == [], table


def test_nodes_carry_placement_labels_and_capacity(sandbox: SandboxEnv) -> None:
    nodes = get_json(sandbox, "nodes")["items"]

    assert len(nodes) == 5
    for node in nodes:
        name, labels = node["metadata"]["name"], node["metadata"]["labels"]
        missing = [key for key in PLACEMENT_LABELS if not labels.get(key)]
        assert missing == [], f"{name} lacks labels {missing}: {labels}"
        capacity = node["status"]["capacity"]
        assert parse_quantity(capacity["cpu"]) > 0, f"{name}: {capacity}"
        assert parse_quantity(capacity["memory"]) > 0, f"{name}: {capacity}"


def test_a_deployment_runs_its_pods_on_the_sandbox_nodes(sandbox: SandboxEnv, fresh_namespace: str) -> None:
    nodes = sandbox_node_names(sandbox)

    kubectl(sandbox, "create", "deployment", "web", "--image=nginx", "--replicas=3", "-n", fresh_namespace)

    def all_running() -> list[dict[str, Any]]:
        pods = running_pods(sandbox, fresh_namespace, "app=web")
        return pods if len(pods) == 3 else []

    pods = eventually("3 web pods Running", all_running, PODS_RUNNING_WITHIN_SECONDS)
    assert {pod["spec"]["nodeName"] for pod in pods} <= nodes


def test_the_kubeconfig_user_may_create_deployments(sandbox: SandboxEnv) -> None:
    assert kubectl(sandbox, "auth", "can-i", "create", "deployments").stdout.strip() == "yes"
    assert kubectl(sandbox, "auth", "can-i", "create", "deployments", "-A").stdout.strip() == "yes"


# --------------------------------------------------------------------------- Prometheus backfill


WORKLOAD = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: 2
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
        - name: api
          image: nginx
          resources:
            requests: {cpu: 250m, memory: 256Mi}
            limits: {memory: 512Mi}
        - name: sidecar
          image: busybox
          resources:
            requests: {cpu: 50m, memory: 64Mi}
"""


@dataclass(frozen=True)
class Backfilled:
    namespace: str
    inventory: Inventory
    summary: SeriesSummary
    # (metric name, labels) -> [(unix seconds, value)] exactly as the file holds them
    written: dict[tuple[str, LabelKey], list[tuple[float, float]]]


def read_openmetrics(path: Path) -> dict[tuple[str, LabelKey], list[tuple[float, float]]]:
    """The file's samples, read with an independent OpenMetrics parser (not the writer's code)."""
    series: dict[tuple[str, LabelKey], list[tuple[float, float]]] = defaultdict(list)
    families = text_string_to_metric_families(path.read_text())  # type: ignore[no-untyped-call]
    for family in families:
        for sample in family.samples:
            assert sample.timestamp is not None
            key = (sample.name, tuple(sorted(sample.labels.items())))
            series[key].append((float(sample.timestamp), float(sample.value)))
    return dict(series)


@pytest.fixture(scope="module")
def backfilled(sandbox: SandboxEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backfilled]:
    namespace = f"metrics-{uuid.uuid4().hex[:8]}"
    kubectl(sandbox, "create", "namespace", namespace)
    try:
        kubectl(sandbox, "apply", "-n", namespace, "-f", "-", input=WORKLOAD)
        eventually(
            "2 api pods Running",
            lambda: len(running_pods(sandbox, namespace, "app=api")) == 2,
            PODS_RUNNING_WITHIN_SECONDS,
        )
        inventory = read_inventory(sandbox.kubeconfig, namespace)
        path = tmp_path_factory.mktemp("backfill") / f"{namespace}.om"
        summary = write_openmetrics(
            path,
            inventory.pods,
            inventory.nodes,
            load_trace("alibaba2018"),
            history_seconds=HISTORY_SECONDS,
            scrape_interval_seconds=SCRAPE_SECONDS,
        )
        cluster.restart_prometheus(sandbox.state_dir, [path], progress=lambda _: None)
        yield Backfilled(namespace, inventory, summary, read_openmetrics(path))
    finally:
        kubectl(sandbox, "delete", "namespace", namespace, "--wait=false", check=False)


def query_range(env: SandboxEnv, query: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
    params: dict[str, str | float] = {"query": query, "start": start, "end": end, "step": step}
    response = requests.get(
        f"{env.prometheus_url}/api/v1/query_range",
        params=params,
        timeout=30,
    )
    response.raise_for_status()
    body = response.json()
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def test_inventory_reads_the_running_pods_of_the_deployment(backfilled: Backfilled) -> None:
    pods = backfilled.inventory.pods
    assert len(pods) == 2
    assert {(pod.namespace, pod.deployment) for pod in pods} == {(backfilled.namespace, "api")}
    assert all([c.name for c in pod.containers] == ["api", "sidecar"] for pod in pods)
    assert backfilled.summary.samples_per_series == HISTORY_SECONDS / SCRAPE_SECONDS


@pytest.mark.parametrize(
    "metric", ["container_memory_working_set_bytes", "container_cpu_usage_seconds_total"]
)
def test_prometheus_returns_every_backfilled_point(
    sandbox: SandboxEnv, backfilled: Backfilled, metric: str
) -> None:
    summary = backfilled.summary
    written = {
        labels: points
        for (name, labels), points in backfilled.written.items()
        if name == metric and dict(labels)["namespace"] == backfilled.namespace
    }
    # Two pods x two containers, no pod-level cgroup series.
    assert len(written) == 4

    query = f'{metric}{{namespace="{backfilled.namespace}"}}'

    def complete() -> list[dict[str, Any]]:
        result = query_range(sandbox, query, summary.start, summary.end, SCRAPE_SECONDS)
        return result if len(result) == len(written) else []

    result = eventually(f"{len(written)} series for {query}", complete, 30)

    for series in result:
        labels = tuple(sorted((k, v) for k, v in series["metric"].items() if k != "__name__"))
        assert labels in written, f"Prometheus has a series the file lacks: {series['metric']}"
        expected = [(t, v) for t, v in written[labels] if summary.start <= t <= summary.end]
        got = [(float(t), float(v)) for t, v in series["values"]]
        assert len(got) == len(expected) == summary.samples_per_series, dict(labels)
        assert got == expected, dict(labels)


# --------------------------------------------------------------------------- the CLI


def thrifty_cli() -> str:
    return str(Path(sys.executable).with_name("thrifty"))


def test_sandbox_env_prints_the_running_sandbox(sandbox: SandboxEnv) -> None:
    result = subprocess.run(
        [thrifty_cli(), "sandbox", "--state-dir", str(sandbox.state_dir), "env"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"KUBECONFIG={sandbox.kubeconfig}",
        f"PROMETHEUS_URL={sandbox.prometheus_url}",
    ]
