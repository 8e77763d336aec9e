"""The spend sources against the sandbox's real Prometheus, fed four hours of the google2019 trace.

Pods of two namespaces run on a spot and an on-demand node; a third namespace, with the same pod
names on a third node, must never show up. Their cAdvisor and kube-state-metrics series come from
`write_openmetrics`; a GPU request and OpenCost's allocations and prices are written next to them.
Everything is backfilled into Prometheus and read back with `read_spend_samples` and
`read_opencost_samples`.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import REGISTRY

from thrifty.sandbox import cluster
from thrifty.sandbox.cluster import SandboxEnv
from thrifty.sandbox.series import Container, Node, Pod, SeriesSummary, render_labels, write_openmetrics
from thrifty.sandbox.traces import Trace, load_trace
from thrifty.settings import CostMetricNames, PrometheusSettings
from thrifty.sources.opencost import OPENCOST_QUERIES, opencost_available, read_opencost_samples
from thrifty.sources.prometheus_http import MetricsUnavailableError, QueryRunner, connect
from thrifty.sources.spend import SPEND_QUERIES, SpendSamples, read_spend_samples

HISTORY_SECONDS = 4 * 3600.0
POD_OFFSET_SPAN_SECONDS = 600.0
SCRAPE_SECONDS = 60
# OpenCost's series stop this long before the others, so nothing in this file makes OpenCost look
# present "now" to tests that run after it.
OPENCOST_CUTOFF_SECONDS = 1800
GiB, MiB = 1024**3, 1024**2
CAPACITY_TYPE = "karpenter.sh/capacity-type"

APP = Container("app", "nginx", 0.5, 1.0, 1 * GiB, 2 * GiB)
SIDECAR = Container("sidecar", "busybox", 0.05, None, 64 * MiB, 96 * MiB)
MAIN = Container("main", "worker", 1.0, 2.0, 2 * GiB, 2 * GiB)
# OpenCost's default prices (per vCPU-hour, per GiB-hour): on-demand and spot.
PRICES = {"on-demand": (0.031611, 0.004237), "spot": (0.006655, 0.000892)}
GPU_HOURLY = 0.95


@dataclass(frozen=True)
class Cluster:
    included: tuple[str, str]
    excluded: str
    spot: Node
    on_demand: Node
    other: Node
    pods: tuple[Pod, ...]
    trace: Trace
    summary: SeriesSummary
    opencost_end: float

    def pod(self, namespace: str, name: str) -> Pod:
        return next(p for p in self.pods if (p.namespace, p.name) == (namespace, name))


def four_hours_of_google2019() -> Trace:
    """Exactly the history plus the replicas' offsets: replica k of a Deployment reads rows k.. on."""
    trace = load_trace("google2019")
    rows = int((HISTORY_SECONDS + POD_OFFSET_SPAN_SECONDS) // trace.step_seconds)
    return Trace(trace.seconds[:rows], trace.cpu[:rows], trace.memory[:rows])


def make_pods(a: str, b: str, c: str, spot: Node, on_demand: Node, other: Node) -> tuple[Pod, ...]:
    def pod(namespace: str, name: str, node: Node, deployment: str, *containers: Container) -> Pod:
        replicaset = name.rsplit("-", 1)[0]
        return Pod(namespace, name, node.name, replicaset, deployment, containers)

    return (
        pod(a, "api-7d9f-x1", spot, "api", APP, SIDECAR),
        pod(a, "api-7d9f-x2", on_demand, "api", APP, SIDECAR),
        pod(b, "worker-5c6b-y1", spot, "worker", MAIN),
        # Same names as in `a`, on another node: only the namespace tells them apart.
        pod(c, "api-7d9f-x1", other, "api", APP, SIDECAR),
    )


def write_extra_series(path: Path, pods: Sequence[Pod], nodes: Sequence[Node], times: np.ndarray) -> float:
    """A GPU request for the worker, and OpenCost's metrics; returns where OpenCost's series end."""
    opencost_times = times[times <= times[-1] - OPENCOST_CUTOFF_SECONDS]
    capacity = {node.name: node.labels[CAPACITY_TYPE] for node in nodes}
    families: list[tuple[str, list[tuple[list[tuple[str, str]], float, np.ndarray]]]] = []
    gpu_pod = next(p for p in pods if p.deployment == "worker")
    gpu_labels = [("namespace", gpu_pod.namespace), ("pod", gpu_pod.name), ("container", MAIN.name)]
    families.append(
        (
            "kube_pod_container_resource_requests",
            [
                (
                    [
                        *gpu_labels,
                        ("node", gpu_pod.node),
                        ("resource", "nvidia_com_gpu"),
                        ("unit", "integer"),
                    ],
                    1,
                    times,
                )
            ],
        )
    )
    allocations: dict[str, list[tuple[list[tuple[str, str]], float, np.ndarray]]] = {
        "container_cpu_allocation": [],
        "container_memory_allocation_bytes": [],
        "container_gpu_allocation": [],
    }
    for pod in pods:
        for container in pod.containers:
            labels = [
                ("namespace", pod.namespace),
                ("pod", pod.name),
                ("container", container.name),
                ("instance", pod.node),
                ("node", pod.node),
            ]
            # Usage stays under the requests here (the trace is scaled to them): allocation = request.
            allocations["container_cpu_allocation"].append(
                (labels, container.cpu_request_cores or 0, opencost_times)
            )
            allocations["container_memory_allocation_bytes"].append(
                (labels, container.memory_request_bytes or 0, opencost_times)
            )
    allocations["container_gpu_allocation"].append(
        ([*gpu_labels, ("instance", gpu_pod.node), ("node", gpu_pod.node)], 1, opencost_times)
    )
    families.extend(allocations.items())
    for name, value in (
        ("node_cpu_hourly_cost", lambda n: PRICES[capacity[n]][0]),
        ("node_ram_hourly_cost", lambda n: PRICES[capacity[n]][1]),
        ("node_gpu_hourly_cost", lambda n: GPU_HOURLY if capacity[n] == "spot" else 0.0),
        ("kubecost_node_is_spot", lambda n: 1.0 if capacity[n] == "spot" else 0.0),
    ):
        families.append(
            (
                name,
                [
                    (
                        [
                            ("instance", node.name),
                            ("node", node.name),
                            ("instance_type", node.labels["node.kubernetes.io/instance-type"]),
                            ("region", "us-east-1"),
                            ("provider_id", f"aws:///us-east-1a/i-{node.name}"),
                            ("arch", "amd64"),
                        ],
                        value(node.name),
                        opencost_times,
                    )
                    for node in nodes
                ],
            )
        )
    with path.open("w") as out:
        for name, series in families:
            out.write(f"# HELP {name} Written by the spend source test.\n# TYPE {name} gauge\n")
            for labels, number, stamps in series:
                head = f"{name}{render_labels(labels)} {number!r}"
                out.write("".join(f"{head} {int(t)}\n" for t in stamps))
        out.write("# EOF\n")
    return float(opencost_times[-1])


@pytest.fixture(scope="module")
def backfilled(sandbox: SandboxEnv, tmp_path_factory: pytest.TempPathFactory) -> Cluster:
    prefix = f"spend-{uuid.uuid4().hex[:8]}"
    a, b, c = f"{prefix}-a", f"{prefix}-b", f"{prefix}-c"

    def node(suffix: str, capacity: str, instance_type: str) -> Node:
        labels = {
            CAPACITY_TYPE: capacity,
            "node.kubernetes.io/instance-type": instance_type,
            "example.com/team": "payments",
        }
        return Node(f"{prefix}-{suffix}", labels)

    spot, on_demand = node("spot", "spot", "m5.xlarge"), node("on-demand", "on-demand", "m5.2xlarge")
    other = node("other", "on-demand", "m5.2xlarge")
    pods = make_pods(a, b, c, spot, on_demand, other)
    trace = four_hours_of_google2019()
    scratch = tmp_path_factory.mktemp("spend")
    summary = write_openmetrics(
        scratch / "cluster.om",
        pods,
        (spot, on_demand, other),
        trace,
        history_seconds=HISTORY_SECONDS,
        pod_offset_span_seconds=POD_OFFSET_SPAN_SECONDS,
        scrape_interval_seconds=float(SCRAPE_SECONDS),
        now=time.time(),
    )
    times = np.arange(summary.start, summary.end + 1, SCRAPE_SECONDS)
    opencost_end = write_extra_series(scratch / "extra.om", pods, (spot, on_demand, other), times)
    cluster.restart_prometheus(
        sandbox.state_dir, [scratch / "cluster.om", scratch / "extra.om"], progress=lambda _: None
    )
    return Cluster((a, b), c, spot, on_demand, other, pods, trace, summary, opencost_end)


@pytest.fixture(scope="module")
def settings(sandbox: SandboxEnv) -> PrometheusSettings:
    return PrometheusSettings(
        url=sandbox.prometheus_url, retries=0, timeout_seconds=20, scrape_interval_seconds=SCRAPE_SECONDS
    )


def runner_for(settings: PrometheusSettings) -> QueryRunner:
    return QueryRunner(connect(settings), settings.timeout_seconds)


def read(backfilled: Cluster, settings: PrometheusSettings, *namespaces: str, **kwargs: int) -> SpendSamples:
    return read_spend_samples(
        runner_for(settings),
        settings,
        namespaces or backfilled.included,
        backfilled.summary.start,
        backfilled.summary.end,
        **kwargs,
    )


def row(samples: SpendSamples, namespace: str, pod: str, container: str) -> int:
    found = np.flatnonzero(
        (samples.namespace == namespace) & (samples.pod == pod) & (samples.container == container)
    )
    assert len(found) == 1, f"{namespace}/{pod}/{container}: {len(found)} rows"
    return int(found[0])


def queries_counted() -> float:
    return sum(
        sample.value
        for family in REGISTRY.collect()
        for sample in family.samples
        if sample.name == "thrifty_prometheus_queries_total"
    )


def test_rows_are_the_scope_containers_and_nothing_else(
    backfilled: Cluster, settings: PrometheusSettings
) -> None:
    before = queries_counted()
    samples = read(backfilled, settings)
    counted = queries_counted() - before

    a, b = backfilled.included
    assert samples.queries == counted == SPEND_QUERIES
    assert samples.notes == ()
    assert list(zip(samples.namespace, samples.pod, samples.container, strict=True)) == [
        (a, "api-7d9f-x1", "app"),
        (a, "api-7d9f-x1", "sidecar"),
        (a, "api-7d9f-x2", "app"),
        (a, "api-7d9f-x2", "sidecar"),
        (b, "worker-5c6b-y1", "main"),
    ]
    assert list(samples.owner_kind) == ["Deployment"] * 5
    assert list(samples.owner_name) == ["api"] * 4 + ["worker"]
    points = len(samples.times)
    assert samples.step_seconds == SCRAPE_SECONDS  # four hours: the scrape interval is the floor
    assert points == int((backfilled.summary.end - backfilled.summary.start) // SCRAPE_SECONDS)
    assert np.all(np.diff(samples.times) == SCRAPE_SECONDS)
    for array in (
        samples.cpu_request_cores,
        samples.cpu_usage_cores,
        samples.memory_request_bytes,
        samples.memory_usage_bytes,
        samples.gpu_request,
        samples.node_index,
    ):
        assert array.shape == (5, points)
    assert samples.data_as_of == samples.times[-1]


def test_requests_are_exact(backfilled: Cluster, settings: PrometheusSettings) -> None:
    samples = read(backfilled, settings)

    for pod in backfilled.pods[:3]:
        for container in pod.containers:
            i = row(samples, pod.namespace, pod.name, container.name)
            cpu, memory = samples.cpu_request_cores[i], samples.memory_request_bytes[i]
            assert np.isnan(cpu).mean() < 0.02
            assert set(cpu[~np.isnan(cpu)]) == {container.cpu_request_cores}
            assert set(memory[~np.isnan(memory)]) == {container.memory_request_bytes}
            gpu = samples.gpu_request[i]
            if container is MAIN:
                assert set(gpu[~np.isnan(gpu)]) == {1.0}
                assert np.isnan(gpu).mean() < 0.02
            else:
                assert np.isnan(gpu).all()


def test_usage_matches_the_trace(backfilled: Cluster, settings: PrometheusSettings) -> None:
    samples = read(backfilled, settings)
    trace, rows = backfilled.trace, int(HISTORY_SECONDS // backfilled.trace.step_seconds)

    for rank, name in enumerate(("api-7d9f-x1", "api-7d9f-x2")):
        pod = backfilled.pod(backfilled.included[0], name)
        for container in pod.containers:
            i = row(samples, pod.namespace, pod.name, container.name)
            expected_cpu = trace.cpu[rank : rank + rows].mean() * (container.cpu_request_cores or 0)
            expected_memory = trace.memory[rank : rank + rows].mean() * (container.memory_request_bytes or 0)
            cpu, memory = samples.cpu_usage_cores[i], samples.memory_usage_bytes[i]
            assert np.isnan(cpu).mean() < 0.02
            assert np.nanmean(cpu) == pytest.approx(expected_cpu, rel=0.03)
            assert np.nanmean(memory) == pytest.approx(expected_memory, rel=0.02)


def test_nodes_and_their_labels(backfilled: Cluster, settings: PrometheusSettings) -> None:
    samples = read(backfilled, settings)

    assert [node.name for node in samples.nodes] == sorted([backfilled.spot.name, backfilled.on_demand.name])
    by_name = {node.name: i for i, node in enumerate(samples.nodes)}
    spot = samples.nodes[by_name[backfilled.spot.name]]
    assert spot.labels[CAPACITY_TYPE] == "spot"  # a key asked for comes back under its own name
    assert spot.labels["node.kubernetes.io/instance-type"] == "m5.xlarge"
    assert spot.labels["label_example_com_team"] == "payments"  # others keep kube-state-metrics' name
    assert spot.get("example.com/team") == "payments"
    assert samples.nodes[by_name[backfilled.on_demand.name]].get(CAPACITY_TYPE) == "on-demand"
    for pod in backfilled.pods[:3]:
        for container in pod.containers:
            placed = samples.node_index[row(samples, pod.namespace, pod.name, container.name)]
            assert (placed == -1).mean() < 0.02
            assert set(placed[placed >= 0]) == {by_name[pod.node]}


def test_hostile_and_regex_namespace_names_match_only_themselves(
    backfilled: Cluster, settings: PrometheusSettings
) -> None:
    a, _ = backfilled.included
    prefix = a.rsplit("-", 1)[0]
    # Unescaped, "<prefix>-.*" would take in every test namespace, the excluded one too.
    hostile = (a, f"{prefix}-.*", f"{prefix}-(b|c)", 'x"} or vector(1) or {a="', "back\\slash|", "new\nline")
    samples = read(backfilled, settings, *hostile)

    assert samples.queries == SPEND_QUERIES
    assert set(samples.namespace) == {a}
    assert samples.containers == 4


def test_a_step_can_be_given(backfilled: Cluster, settings: PrometheusSettings) -> None:
    samples = read(backfilled, settings, step_seconds=300)

    assert samples.step_seconds == 300
    assert samples.cpu_window_seconds == 600
    assert len(samples.times) == int((backfilled.summary.end - backfilled.summary.start) // 300)
    assert samples.cpu_request_cores.shape == (5, len(samples.times))


def test_no_data_is_not_an_error(backfilled: Cluster, settings: PrometheusSettings) -> None:
    absent = f"{backfilled.excluded}-absent"
    samples = read(backfilled, settings, absent)

    assert samples.containers == 0
    assert samples.nodes == ()
    assert samples.data_as_of is None
    assert samples.cpu_usage_cores.shape == (0, len(samples.times))
    assert len(samples.notes) == 5
    assert f'no container_cpu_usage_seconds_total series in namespace(s) "{absent}"' in samples.notes

    no_scope = read_spend_samples(runner_for(settings), settings, [], 0, 3600)
    assert (no_scope.queries, no_scope.containers) == (0, 0)


def test_unreachable_prometheus_raises_metrics_unavailable(backfilled: Cluster) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = PrometheusSettings(url=f"http://127.0.0.1:{port}", retries=0, timeout_seconds=5)

    with pytest.raises(MetricsUnavailableError) as raised:
        read(backfilled, settings)
    assert raised.value.reason == "PrometheusUnreachable"


def test_opencost_presence_is_one_query(backfilled: Cluster, settings: PrometheusSettings) -> None:
    runner = runner_for(settings)

    assert opencost_available(runner, at=backfilled.opencost_end)
    assert not opencost_available(
        runner, CostMetricNames(container_cpu_allocation="thrifty_test_absent"), at=backfilled.opencost_end
    )
    assert runner.sent == 2


def test_opencost_allocations_and_prices(backfilled: Cluster, settings: PrometheusSettings) -> None:
    start = backfilled.summary.start
    samples = read_opencost_samples(
        runner_for(settings), settings, backfilled.included, start, backfilled.opencost_end
    )

    a, b = backfilled.included
    assert samples.queries == OPENCOST_QUERIES
    assert samples.notes == ()
    assert set(samples.namespace) == {a, b}
    assert samples.containers == 5
    assert list(samples.owner_name) == ["api"] * 4 + ["worker"]
    assert [node.name for node in samples.nodes] == sorted([backfilled.spot.name, backfilled.on_demand.name])
    nodes = {node.name: i for i, node in enumerate(samples.nodes)}
    spot, on_demand = nodes[backfilled.spot.name], nodes[backfilled.on_demand.name]
    assert samples.nodes[spot].labels == {
        "instance_type": "m5.xlarge",
        "region": "us-east-1",
        "provider_id": f"aws:///us-east-1a/i-{backfilled.spot.name}",
        "arch": "amd64",
    }
    for node, capacity, is_spot in ((spot, "spot", 1.0), (on_demand, "on-demand", 0.0)):
        for array, expected in (
            (samples.node_cpu_hourly_cost, PRICES[capacity][0]),
            (samples.node_ram_hourly_cost, PRICES[capacity][1]),
            (samples.node_is_spot, is_spot),
        ):
            values = array[node]
            assert np.isnan(values).mean() < 0.02
            assert np.nanmax(np.abs(values - expected)) < 1e-12
    assert np.nanmax(samples.node_gpu_hourly_cost[spot]) == GPU_HOURLY
    for pod in backfilled.pods[:3]:
        for container in pod.containers:
            found = np.flatnonzero(
                (samples.namespace == pod.namespace)
                & (samples.pod == pod.name)
                & (samples.container == container.name)
            )
            assert len(found) == 1
            i = int(found[0])
            cpu, memory = samples.cpu_allocation_cores[i], samples.memory_allocation_bytes[i]
            assert np.isnan(cpu).mean() < 0.02
            assert np.nanmax(np.abs(cpu - (container.cpu_request_cores or 0))) < 1e-9
            assert np.nanmax(np.abs(memory - (container.memory_request_bytes or 0))) < 1
            placed = samples.node_index[i]
            assert set(placed[placed >= 0]) == {nodes[pod.node]}
            gpu = samples.gpu_allocation[i]
            assert (np.nanmax(gpu) == 1.0) if container is MAIN else np.isnan(gpu).all()
