"""The usage source against the sandbox's real Prometheus, fed two days of the google2019 trace.

A Deployment of 3 pods runs on KWOK; its series are written from the trace and backfilled, then read
back with `read_namespace_usage` and compared with numpy on the same trace rows and peaks.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import requests
from prometheus_client import REGISTRY
from sandbox_helpers import eventually, kubectl

from thrifty.engine.workload_records import NamespaceUsage
from thrifty.sandbox import cluster
from thrifty.sandbox.cluster import SandboxEnv
from thrifty.sandbox.inventory import Inventory, read_inventory
from thrifty.sandbox.series import Container, Peak, Pod, peak_from_requests, write_openmetrics
from thrifty.sandbox.traces import FloatArray, Trace, load_trace
from thrifty.settings import PrometheusSettings
from thrifty.sources.kept_usage import KeptUsage
from thrifty.sources.prometheus_http import MetricsUnavailableError, QueryRejectedError, QueryRunner, connect
from thrifty.sources.promql import NamespaceQueries, choose_step
from thrifty.sources.usage import (
    USAGE_QUERIES,
    TimeGrid,
    read_cluster_usage,
    read_namespace_usage,
)

HISTORY = timedelta(days=2)
# Replicas read the trace 0, 1 and 2 steps apart (offsets up to 600 s in 300 s steps, one per pod).
POD_OFFSET_SPAN_SECONDS = 600.0
REPLICAS = 3
MiB = 1024**2

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: app
          image: nginx
          resources:
            requests: {cpu: 500m, memory: 256Mi}
            limits: {cpu: "1", memory: 512Mi}
        - name: sidecar
          image: busybox
          resources:
            requests: {cpu: 50m, memory: 64Mi}
            limits: {memory: 96Mi}
"""


@dataclass(frozen=True)
class Replayed:
    namespace: str
    orphan_namespace: str  # series of pods whose kube_pod_owner is missing
    inventory: Inventory
    trace: Trace
    peaks: dict[str, Peak]  # per container name
    end: datetime


def two_days_of_google2019() -> Trace:
    """The first rows of the trace: exactly the history plus the replicas' offsets, so every replica's
    window starts at row 0, 1 or 2 (no whole-day offset is left to pick)."""
    trace = load_trace("google2019")
    rows = int((HISTORY.total_seconds() + POD_OFFSET_SPAN_SECONDS) // trace.step_seconds)
    return Trace(trace.seconds[:rows], trace.cpu[:rows], trace.memory[:rows])


def sidecar_peak(trace: Trace) -> Peak:
    """Sized so the sidecar's memory would pass its 96 Mi limit half the time: it gets OOM-killed."""
    return Peak(cpu_cores=0.05, memory_bytes=96 * MiB / float(np.median(trace.memory)))


def without_pod_owner(source: Path, target: Path) -> None:
    lines = source.read_text().splitlines(keepends=True)
    target.write_text(
        "".join(
            line
            for line in lines
            if not line.startswith(("kube_pod_owner{", "# HELP kube_pod_owner ", "# TYPE kube_pod_owner "))
        )
    )


def running(env: SandboxEnv, namespace: str) -> Inventory | None:
    inventory = read_inventory(env.kubeconfig, namespace)
    return inventory if len(inventory.pods) == REPLICAS else None


def replay(
    path: Path, pods: Sequence[Pod], inventory: Inventory, trace: Trace, peaks: dict[str, Peak], now: float
) -> None:
    write_openmetrics(
        path,
        pods,
        inventory.nodes,
        trace,
        peak=lambda _pod, container: peaks[container.name],
        history_seconds=HISTORY.total_seconds(),
        pod_offset_span_seconds=POD_OFFSET_SPAN_SECONDS,
        now=now,
        state_interval_seconds=240.0,
    )


@pytest.fixture(scope="module")
def replayed(sandbox: SandboxEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replayed]:
    namespace = f"usage-{uuid.uuid4().hex[:8]}"
    kubectl(sandbox, "create", "namespace", namespace)
    try:
        kubectl(sandbox, "apply", "-n", namespace, "-f", "-", input=DEPLOYMENT)
        inventory = eventually(f"{REPLICAS} web pods Running", lambda: running(sandbox, namespace), 60)
        trace = two_days_of_google2019()
        app = inventory.pods[0].containers[0]
        peaks = {"app": peak_from_requests(inventory.pods[0], app), "sidecar": sidecar_peak(trace)}
        now = time.time()
        scratch = tmp_path_factory.mktemp("usage")
        replay(scratch / "web.om", inventory.pods, inventory, trace, peaks, now)
        orphan_namespace = f"{namespace}-orphans"
        orphans = [replace(pod, namespace=orphan_namespace, uid="") for pod in inventory.pods]
        replay(scratch / "orphans-full.om", orphans, inventory, trace, peaks, now)
        without_pod_owner(scratch / "orphans-full.om", scratch / "orphans.om")
        cluster.restart_prometheus(
            sandbox.state_dir, [scratch / "web.om", scratch / "orphans.om"], progress=lambda _: None
        )
        yield Replayed(namespace, orphan_namespace, inventory, trace, peaks, datetime.fromtimestamp(now, UTC))
    finally:
        kubectl(sandbox, "delete", "namespace", namespace, "--wait=false", check=False)


@pytest.fixture(scope="module")
def settings(sandbox: SandboxEnv) -> PrometheusSettings:
    # Sandbox series are scraped every 60 s (write_openmetrics' default).
    return PrometheusSettings(url=sandbox.prometheus_url, retries=0, timeout_seconds=10)


def read(
    replayed: Replayed,
    settings: PrometheusSettings,
    *,
    workloads: set[tuple[str, str]] | None = None,
    namespace: str | None = None,
) -> NamespaceUsage:
    # An hour more than the history: the series end a little before `end`, so they start before
    # `end - HISTORY` too, and none of them is cut off.
    return read_namespace_usage(
        connect(settings),
        settings,
        replayed.namespace if namespace is None else namespace,
        workloads,
        replayed.end,
        HISTORY + timedelta(hours=1),
    )


def pooled_trace(values: FloatArray, scale: float) -> FloatArray:
    """What the replicas used, pooled: each reads the trace from row 0, 1 or 2 for the history."""
    rows = int(HISTORY.total_seconds() // 300)
    return np.concatenate([values[offset : offset + rows] * scale for offset in range(REPLICAS)])


def test_pooled_samples_match_the_trace(replayed: Replayed, settings: PrometheusSettings) -> None:
    usage = read(replayed, settings)

    assert usage.notes == ()
    assert [c.container for c in usage.workload("Deployment", "web")] == ["app", "sidecar"]
    app = usage.container("Deployment", "web", "app")
    assert app is not None
    assert app.pods == tuple(pod.name for pod in replayed.inventory.pods)
    assert app.cpu_cores.shape == app.memory_bytes.shape
    # The rows run from the container's first sample to its last, within the grid.
    assert app.cpu_cores.shape[0] == REPLICAS
    assert app.cpu_cores.shape[1] <= len(usage.times)

    peak = replayed.peaks["app"]
    expected_cpu_p95 = np.percentile(pooled_trace(replayed.trace.cpu, peak.cpu_cores), 95)
    expected_memory_max = pooled_trace(replayed.trace.memory, peak.memory_bytes).max()
    assert np.percentile(app.pooled_cpu(), 95) == pytest.approx(expected_cpu_p95, rel=0.02)
    assert app.pooled_memory().max() == pytest.approx(expected_memory_max, rel=0.01)
    # Two days at the 60 s step, per replica: nearly every grid point has a sample.
    assert len(app.pooled_cpu()) >= REPLICAS * (HISTORY.total_seconds() / 60 - 10)


def test_a_read_from_the_first_sample_holds_what_the_full_read_holds(
    replayed: Replayed, settings: PrometheusSettings
) -> None:
    """Reads after the first start at its earliest sample (14 days of empty steps cost Prometheus
    seconds): the same containers, pods and samples, in fewer evaluated steps."""
    lookback = HISTORY + timedelta(days=12)
    full = read_cluster_usage(connect(settings), settings, (replayed.namespace,), replayed.end, lookback)[
        replayed.namespace
    ]
    assert full.first_sample is not None
    assert replayed.end.timestamp() - full.first_sample <= (HISTORY + timedelta(hours=1)).total_seconds()
    since = read_cluster_usage(
        connect(settings), settings, (replayed.namespace,), replayed.end, lookback, since=full.first_sample
    )[replayed.namespace]
    assert np.array_equal(full.times, since.times)
    assert [(c.workload, c.container, c.pods) for c in since.containers] == [
        (c.workload, c.container, c.pods) for c in full.containers
    ]
    for before, after in zip(full.containers, since.containers, strict=True):
        assert np.array_equal(before.cpu_cores, after.cpu_cores, equal_nan=True)
        assert np.array_equal(before.memory_bytes, after.memory_bytes, equal_nan=True)


def _assert_same_history(got: NamespaceUsage, want: NamespaceUsage) -> None:
    assert np.array_equal(got.times, want.times)
    assert got.first_sample == want.first_sample
    assert [
        (c.workload, c.container, c.pods, c.cpu_request, c.memory_limit, c.oom_killed, c.last_oom_kill)
        for c in got.containers
    ] == [
        (c.workload, c.container, c.pods, c.cpu_request, c.memory_limit, c.oom_killed, c.last_oom_kill)
        for c in want.containers
    ]
    for before, after in zip(want.containers, got.containers, strict=True):
        # Which lane a pod's samples sit in does not matter: each step's samples do.
        assert np.array_equal(
            np.sort(before.cpu_cores, axis=0), np.sort(after.cpu_cores, axis=0), equal_nan=True
        )
        assert np.array_equal(
            np.sort(before.memory_bytes, axis=0), np.sort(after.memory_bytes, axis=0), equal_nan=True
        )


def test_a_kept_history_read_since_its_last_read_equals_a_read_over_the_whole_lookback(
    replayed: Replayed, settings: PrometheusSettings
) -> None:
    """Two days of history in a one-day lookback: after the first read, a read asks only for the points
    since the last one, merges them, and never reads the whole lookback again, since it is covered."""
    kept, scope, lookback = KeptUsage(), (replayed.namespace,), timedelta(days=1)
    client = connect(settings)

    first = kept.read(
        client, settings, scope, replayed.end - timedelta(hours=2), lookback
    ).whole_lookback_reads
    second = kept.read(
        client, settings, scope, replayed.end - timedelta(minutes=50), lookback
    ).whole_lookback_reads
    last = kept.read(client, settings, scope, replayed.end, lookback)
    third = last.whole_lookback_reads
    usages = last.usages

    assert (first, second, third) == (1, 0, 0)
    whole = read_cluster_usage(client, settings, scope, replayed.end, lookback)[replayed.namespace]
    assert whole.containers
    assert whole.first_sample is not None
    _assert_same_history(usages[replayed.namespace], whole)


def test_a_history_younger_than_the_lookback_is_read_whole_again_each_hour(
    replayed: Replayed, settings: PrometheusSettings
) -> None:
    """Two days of history in a fourteen-day lookback: older samples may still appear (a backfill), so
    the whole lookback is read again once an hour, and in between only what is new."""
    kept, scope, lookback = KeptUsage(), (replayed.namespace,), HISTORY + timedelta(days=12)
    client = connect(settings)
    ends = [replayed.end - timedelta(minutes=m) for m in (120, 90, 61, 0)]

    full_reads = [kept.read(client, settings, scope, end, lookback).whole_lookback_reads for end in ends]

    assert full_reads == [1, 0, 0, 1]


def peak_samples(settings: PrometheusSettings, query: str, grid: TimeGrid, *, instant: bool = False) -> int:
    """The samples Prometheus holds at once for a query over the grid (an instant one at its end):
    what ``--query.max-samples`` limits."""
    span = (
        {"time": str(grid.end)}
        if instant
        else {"start": str(grid.start), "end": str(grid.end), "step": str(grid.step)}
    )
    answer = requests.get(
        f"{settings.url}/api/v1/{'query' if instant else 'query_range'}",
        params={"query": query, "stats": "all", **span},
        timeout=30,
    ).json()
    return int(answer["data"]["stats"]["samples"]["peakSamples"])


def test_a_lookback_prometheus_refuses_as_too_many_samples_is_read_in_parts(
    sandbox: SandboxEnv, replayed: Replayed, settings: PrometheusSettings
) -> None:
    """Prometheus' --query.max-samples set to a third of what the costliest query over the lookback
    needs: the read is refused whole and in halves, and read in quarters, and holds what a read over
    the whole lookback holds."""
    scope, lookback = (replayed.namespace,), timedelta(days=1)
    whole = read_cluster_usage(connect(settings), settings, scope, replayed.end, lookback)[replayed.namespace]
    step = choose_step(lookback.total_seconds(), settings.scrape_interval_seconds)
    grid = TimeGrid.ending_at(replayed.end, lookback.total_seconds(), step)
    # The OOM query's window is a second longer than the lookback (see read_cluster_usage).
    queries = NamespaceQueries(
        settings.metrics, scope, step, settings.scrape_interval_seconds, int(lookback.total_seconds()) + 1
    )
    peak = max(
        peak_samples(settings, queries.cpu_usage(), grid),
        peak_samples(settings, queries.memory_working_set(), grid),
        peak_samples(settings, queries.oom_kills(), grid, instant=True),
    )
    cluster.restart_prometheus(sandbox.state_dir, progress=lambda _: None, query_max_samples=peak // 3)
    try:
        with pytest.raises(QueryRejectedError, match="too many samples"):
            read_cluster_usage(connect(settings), settings, scope, replayed.end, lookback)
        read_in_parts = KeptUsage().read(connect(settings), settings, scope, replayed.end, lookback)
    finally:
        cluster.restart_prometheus(sandbox.state_dir, progress=lambda _: None)

    assert read_in_parts.whole_lookback_reads == 1
    assert read_in_parts.failure is None
    # Read in parts (the refused attempts are logged as failed batches of their own).
    assert read_in_parts.usages[replayed.namespace].queries >= 2 * USAGE_QUERIES
    _assert_same_history(read_in_parts.usages[replayed.namespace], whole)


def test_requests_and_limits_are_the_deployments(replayed: Replayed, settings: PrometheusSettings) -> None:
    usage = read(replayed, settings)

    specs: dict[str, Container] = {c.name: c for c in replayed.inventory.pods[0].containers}
    for name, spec in specs.items():
        read_back = usage.container("Deployment", "web", name)
        assert read_back is not None
        assert (read_back.cpu_request, read_back.cpu_limit) == (spec.cpu_request_cores, spec.cpu_limit_cores)
        assert (read_back.memory_request, read_back.memory_limit) == (
            spec.memory_request_bytes,
            spec.memory_limit_bytes,
        )


def test_oom_kills_are_flagged_per_container(replayed: Replayed, settings: PrometheusSettings) -> None:
    usage = read(replayed, settings)

    app, sidecar = usage.workload("Deployment", "web")
    assert (app.oom_killed, sidecar.oom_killed) == (False, True)
    # When it was last seen, on the grid: a history kept between reads drops it when that leaves.
    assert sidecar.last_oom_kill is not None
    assert usage.times[0] <= sidecar.last_oom_kill <= usage.times[-1]
    assert sidecar.last_oom_kill % usage.step_seconds == 0
    # The kernel holds the working set at the limit; an OOM-killed container never reads above it.
    assert sidecar.pooled_memory().max() == pytest.approx(96 * MiB, rel=0.01)


def queries_counted() -> float:
    """thrifty_prometheus_queries_total, summed over its ``metric`` label."""
    return sum(
        sample.value
        for family in REGISTRY.collect()
        for sample in family.samples
        if sample.name == "thrifty_prometheus_queries_total"
    )


def test_query_count_does_not_grow_with_workloads(replayed: Replayed, settings: PrometheusSettings) -> None:
    before = queries_counted()
    one = read(replayed, settings, workloads={("Deployment", "web")})
    after_one = queries_counted()
    many = {("Deployment", "web")} | {
        ("Deployment" if i % 2 else "StatefulSet", f"absent-{i}") for i in range(49)
    }
    fifty = read(replayed, settings, workloads=many)
    after_fifty = queries_counted()

    assert len(many) == 50
    assert one.queries == fifty.queries == USAGE_QUERIES
    assert after_one - before == after_fifty - after_one == USAGE_QUERIES
    assert (
        [c.container for c in one.containers] == [c.container for c in fifty.containers] == ["app", "sidecar"]
    )
    assert fifty.missing_workloads == many - {("Deployment", "web")}
    assert one.missing_workloads == frozenset()


def test_missing_owner_metric_gives_an_empty_answer_with_a_note(
    replayed: Replayed, settings: PrometheusSettings
) -> None:
    usage = read(replayed, settings, namespace=replayed.orphan_namespace)

    assert usage.containers == ()
    assert usage.notes == (f'no kube_pod_owner series for namespace "{replayed.orphan_namespace}"',)
    assert usage.queries == USAGE_QUERIES + 1  # the presence check


@pytest.mark.parametrize(
    "hostile",
    ['x"} or vector(1) or {a="', 'back\\slash"', "new\nline", '\\"} or up{job="'],
)
def test_hostile_namespace_names_stay_inside_their_label_value(
    replayed: Replayed, settings: PrometheusSettings, hostile: str
) -> None:
    usage = read(replayed, settings, namespace=hostile)

    assert usage.containers == ()
    assert usage.notes != ()


@pytest.mark.parametrize("call", ["instant", "range_points"])
def test_a_query_prometheus_rejects_raises_metrics_unavailable(
    settings: PrometheusSettings, call: str
) -> None:
    runner = QueryRunner(connect(settings), settings.timeout_seconds)
    now = int(time.time())

    # range_points parses the answer as it streams in, as the usage read's range queries do.
    send: Callable[[], object] = (
        (lambda: runner.instant("cpu_usage", "sum(", now))
        if call == "instant"
        else (lambda: runner.range_points("cpu_usage", "sum(", now - 600, now, 60))
    )

    with pytest.raises(MetricsUnavailableError) as raised:
        send()

    # Refused, not unreachable: the callers that run a user's query report it as InvalidQuery.
    assert isinstance(raised.value, QueryRejectedError)
    assert raised.value.reason == "QueryRejected"
    assert "parse error" in str(raised.value)
    assert settings.url in str(raised.value)


def test_stopped_prometheus_raises_metrics_unavailable(
    sandbox: SandboxEnv, replayed: Replayed, settings: PrometheusSettings
) -> None:
    cluster.stop_prometheus(sandbox.state_dir)
    try:
        with pytest.raises(MetricsUnavailableError) as raised:
            read(replayed, settings)
    finally:
        cluster.restart_prometheus(sandbox.state_dir, progress=lambda _: None)

    assert raised.value.reason == "PrometheusUnreachable"
    assert raised.value.url == settings.url
    assert settings.url in str(raised.value)
