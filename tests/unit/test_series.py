"""The sandbox's trace replay: real traces load, the OpenMetrics it writes is valid and faithful."""

from __future__ import annotations

import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from kubernetes import client
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from thrifty.engine.quantities import parse_quantity
from thrifty.sandbox.backfill import BackfillError, backfill
from thrifty.sandbox.inventory import build_inventory
from thrifty.sandbox.series import (
    Container,
    MiB,
    Node,
    Peak,
    Pod,
    SeriesSummary,
    node_label_name,
    write_openmetrics,
)
from thrifty.sandbox.traces import TRACE_NAMES, Trace, load_bitbrains_csv, load_trace

NOW = 1_750_000_000.0
MARGIN = 120.0
INTERVAL = 60.0
STEP = 300.0
# Six 5-minute rows: CPU fractions that make every row's contribution easy to tell apart.
CPU = np.array([0.1, 0.2, 0.4, 0.8, 0.3, 0.5])
MEMORY = np.array([0.5, 0.6, 0.7, 0.9, 0.6, 0.5])
TINY = Trace(np.arange(6) * STEP, CPU, MEMORY)
WEIRD = 'reg.example/a"b\\c\nd:1'

Series = dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[float, float]]]


def web_pod(index: int, container: Container | None = None) -> Pod:
    return Pod(
        namespace="shop",
        name=f"web-5d8f7c9b6-{index:05d}",
        node=f"node-{index % 2}",
        replicaset="web-5d8f7c9b6",
        deployment="web",
        containers=(container or Container("web", "nginx:1.27", 0.5, 1.0, 256 * MiB, 512 * MiB),),
    )


NODES = [
    Node("node-0", {"karpenter.sh/capacity-type": "spot", "node.kubernetes.io/instance-type": "m5.large"}),
    Node("node-1", {"karpenter.sh/capacity-type": "on-demand", "topology.kubernetes.io/zone": "eu-west-1a"}),
]


def generate(
    tmp_path: Path, pods: list[Pod], trace: Trace = TINY, **options: object
) -> tuple[Path, SeriesSummary, Series, dict[str, str]]:
    path = tmp_path / "series.om"
    settings: dict[str, object] = {
        "now": NOW,
        "end_margin_seconds": MARGIN,
        "history_seconds": 1200.0,
        "pod_offset_span_seconds": 600.0,
    }
    settings.update(options)
    summary = write_openmetrics(path, pods, NODES, trace, **settings)  # type: ignore[arg-type]
    series: Series = defaultdict(list)
    types = {}
    for family in text_string_to_metric_families(path.read_text()):
        types[family.name] = family.type
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            assert sample.timestamp is not None
            series[key].append((float(sample.timestamp), sample.value))
    return path, summary, series, types


def pick(
    series: Series, name: str, **labels: str
) -> dict[tuple[tuple[str, str], ...], list[tuple[float, float]]]:
    return {
        key[1]: points
        for key, points in series.items()
        if key[0] == name and all(dict(key[1]).get(k) == v for k, v in labels.items())
    }


def one(series: Series, name: str, **labels: str) -> list[tuple[float, float]]:
    found = pick(series, name, **labels)
    assert len(found) == 1, f"{name} {labels}: {len(found)} series"
    return next(iter(found.values()))


def cpu_seconds(start: float, end: float, offset: float, peak: float, limit: float = np.inf) -> float:
    """Core-seconds the trace implies between two trace positions, summed second by second."""
    seconds = np.arange(start, end) + offset
    rates = np.minimum(CPU[(seconds // STEP).astype(int)] * peak, limit)
    return float(rates.sum())


# --------------------------------------------------------------------------- the file itself


def test_file_parses_with_expected_families_and_types(tmp_path: Path) -> None:
    path, summary, series, types = generate(tmp_path, [web_pod(0), web_pod(1)])
    assert types == {
        "container_cpu_usage_seconds": "counter",
        "container_memory_working_set_bytes": "gauge",
        "kube_pod_container_resource_requests": "gauge",
        "kube_pod_container_resource_limits": "gauge",
        "kube_pod_container_status_restarts": "counter",
        "kube_pod_container_status_last_terminated_reason": "gauge",
        "kube_pod_owner": "gauge",
        "kube_replicaset_owner": "gauge",
        "kube_pod_info": "gauge",
        "kube_node_labels": "gauge",
    }
    assert path.read_text().endswith("\n# EOF\n")
    assert summary.series == len(series)
    assert summary.samples == sum(len(points) for points in series.values())


def test_timestamps_increase_and_end_just_before_now(tmp_path: Path) -> None:
    _, summary, series, _ = generate(tmp_path, [web_pod(0), web_pod(1)])
    assert NOW - MARGIN - INTERVAL < summary.end <= NOW - MARGIN
    assert summary.end - summary.start == pytest.approx((summary.samples_per_series - 1) * INTERVAL)
    for points in series.values():
        stamps = [t for t, _ in points]
        assert stamps == sorted(set(stamps))
        assert stamps[-1] == summary.end
        assert stamps[0] >= summary.start


def test_cpu_counter_integrates_trace(tmp_path: Path) -> None:
    pod = web_pod(0, Container("web", "nginx", 0.5, None, 256 * MiB, None))
    _, summary, series, _ = generate(tmp_path, [pod], peak=lambda *_: Peak(2.0, 512 * MiB))
    points = one(series, "container_cpu_usage_seconds_total", pod=pod.name, container="web")
    stamps = np.array([t for t, _ in points])
    values = np.array([v for _, v in points])
    assert np.all(np.diff(values) >= 0)
    assert values[0] == 0
    # A lone pod reads the trace from its start; every interval's increase is its core-seconds.
    for i in range(len(points) - 1):
        a, b = stamps[i] - stamps[0], stamps[i + 1] - stamps[0]
        assert values[i + 1] - values[i] == pytest.approx(cpu_seconds(a, b, 0.0, 2.0), abs=1e-5)
    assert values[-1] == pytest.approx(cpu_seconds(0, stamps[-1] - stamps[0], 0.0, 2.0), abs=1e-5)
    assert summary.samples_per_series == len(points)


def test_cpu_above_limit_is_throttled(tmp_path: Path) -> None:
    pod = web_pod(0, Container("web", "nginx", 0.5, 0.6, 256 * MiB, None))
    _, _, series, _ = generate(tmp_path, [pod], peak=lambda *_: Peak(1.0, 128 * MiB))
    points = one(series, "container_cpu_usage_seconds_total", pod=pod.name, container="web")
    span = points[-1][0] - points[0][0]
    assert points[-1][1] == pytest.approx(cpu_seconds(0, span, 0.0, 1.0, limit=0.6), abs=1e-5)
    rates = np.diff([v for _, v in points]) / INTERVAL
    assert rates.max() == pytest.approx(0.6)


def test_memory_gauge_repeats_trace_rows(tmp_path: Path) -> None:
    pod = web_pod(0, Container("web", "nginx", 0.5, None, 256 * MiB, None))
    _, _, series, _ = generate(tmp_path, [pod], peak=lambda *_: Peak(1.0, 1000.0))
    points = one(series, "container_memory_working_set_bytes", pod=pod.name, container="web")
    start = points[0][0]
    for stamp, value in points:
        assert value == round(MEMORY[int((stamp - start) // STEP)] * 1000.0)


def test_replicas_read_the_trace_at_different_offsets(tmp_path: Path) -> None:
    pods = [web_pod(i) for i in range(3)]
    _, _, series, _ = generate(tmp_path, pods)
    curves = [[v for _, v in one(series, "container_memory_working_set_bytes", pod=p.name)] for p in pods]
    assert len({len(c) for c in curves}) == 1
    assert curves[0] != curves[1]
    assert curves[1] != curves[2]
    # The offsets are whole trace steps: replica 1 is replica 0 shifted by one 300 s row.
    shift = int(STEP / INTERVAL)
    assert curves[1][:-shift] == curves[0][shift:]


def test_short_trace_shortens_the_window_instead_of_repeating(tmp_path: Path) -> None:
    _, summary, series, _ = generate(tmp_path, [web_pod(0)], history_seconds=14 * 86400.0)
    assert summary.shortened
    assert summary.window_seconds == TINY.duration_seconds - 600.0
    assert (summary.samples_per_series - 1) * INTERVAL < summary.window_seconds
    points = one(series, "container_cpu_usage_seconds_total", pod=web_pod(0).name)
    assert len(points) == summary.samples_per_series


def test_trace_gaps_leave_gaps(tmp_path: Path) -> None:
    seconds = np.array([0.0, 300.0, 600.0, 1500.0, 1800.0, 2100.0])  # 600..1500 has no row after 900
    gappy = Trace(seconds, CPU, MEMORY)
    _, summary, series, _ = generate(tmp_path, [web_pod(0)], trace=gappy, history_seconds=2000.0)
    stamps = [t for t, _ in one(series, "container_memory_working_set_bytes", pod=web_pod(0).name)]
    relative = np.array(stamps) - summary.start
    assert not np.any((relative >= 900) & (relative < 1500))
    assert len(stamps) == summary.samples_per_series - 10


def test_oom_kills_show_as_restarts_and_reason(tmp_path: Path) -> None:
    limit = 800.0  # the trace's 0.9 row needs 900 bytes
    pod = web_pod(0, Container("web", "nginx", 0.5, None, 500.0, limit))
    _, _, series, _ = generate(tmp_path, [pod], peak=lambda *_: Peak(0.5, 1000.0))
    memory = one(series, "container_memory_working_set_bytes", pod=pod.name)
    restarts = one(series, "kube_pod_container_status_restarts_total", pod=pod.name)
    reason = one(series, "kube_pod_container_status_last_terminated_reason", pod=pod.name, reason="OOMKilled")
    assert max(v for _, v in memory) == limit
    assert restarts[-1][1] == 1
    first_kill = next(t for t, v in restarts if v == 1)
    assert reason[0][0] == first_kill
    assert reason[-1][0] == restarts[-1][0]
    assert all(v == 1 for _, v in reason)


def test_no_oom_no_reason_series(tmp_path: Path) -> None:
    _, _, series, _ = generate(tmp_path, [web_pod(0)])
    assert not pick(series, "kube_pod_container_status_last_terminated_reason")
    assert {v for _, v in one(series, "kube_pod_container_status_restarts_total")} == {0}


def test_kube_state_metrics_labels_and_values(tmp_path: Path) -> None:
    pods = [web_pod(0), web_pod(1)]
    _, _, series, _ = generate(tmp_path, pods)
    requests = pick(series, "kube_pod_container_resource_requests", pod=pods[0].name)
    by_resource = {
        dict(labels)["resource"]: (dict(labels), points[-1][1]) for labels, points in requests.items()
    }
    assert by_resource["cpu"][1] == 0.5
    assert by_resource["memory"][1] == 256 * MiB
    assert [by_resource[r][0]["unit"] for r in ("cpu", "memory")] == ["core", "byte"]
    assert by_resource["cpu"][0]["node"] == "node-0"
    limits = pick(series, "kube_pod_container_resource_limits", pod=pods[1].name, resource="memory")
    assert [points[-1][1] for points in limits.values()] == [512 * MiB]
    owner = dict(next(iter(pick(series, "kube_pod_owner", pod=pods[0].name))))
    assert (owner["owner_kind"], owner["owner_name"], owner["owner_is_controller"]) == (
        "ReplicaSet",
        "web-5d8f7c9b6",
        "true",
    )
    replicasets = pick(series, "kube_replicaset_owner")
    assert [dict(labels)["owner_name"] for labels in replicasets] == ["web"]
    info = dict(next(iter(pick(series, "kube_pod_info", pod=pods[1].name))))
    assert (info["node"], info["created_by_kind"], info["created_by_name"]) == (
        "node-1",
        "ReplicaSet",
        "web-5d8f7c9b6",
    )
    spot = dict(next(iter(pick(series, "kube_node_labels", node="node-0"))))
    assert spot["label_karpenter_sh_capacity_type"] == "spot"
    assert spot["label_node_kubernetes_io_instance_type"] == "m5.large"
    cadvisor = dict(next(iter(pick(series, "container_cpu_usage_seconds_total", pod=pods[0].name))))
    assert {"namespace", "pod", "container", "image", "name", "id"} <= cadvisor.keys()
    assert cadvisor["id"].endswith("/" + cadvisor["name"])
    assert "/burstable/pod" in cadvisor["id"]


def test_state_series_can_be_sparser_but_still_end_near_now(tmp_path: Path) -> None:
    _, summary, series, _ = generate(tmp_path, [web_pod(0)], state_interval_seconds=240.0)
    owner = one(series, "kube_pod_owner")
    assert owner[-1][0] == summary.end
    assert np.all(np.diff([t for t, _ in owner]) == 240.0)
    assert len(one(series, "kube_pod_container_status_restarts_total")) == summary.samples_per_series
    with pytest.raises(ValueError, match="multiple"):
        generate(tmp_path, [web_pod(0)], state_interval_seconds=90.0)


def test_pod_cgroup_series_sum_the_containers(tmp_path: Path) -> None:
    pod = Pod(
        "shop",
        "two-6b7c8d9f5-aaaaa",
        "node-0",
        "two-6b7c8d9f5",
        "two",
        (
            Container("app", "app:1", 0.5, None, 100 * MiB),
            Container("sidecar", "proxy:1", 0.1, None, 50 * MiB),
        ),
    )
    _, _, series, _ = generate(tmp_path, [pod], pod_cgroup_series=True)
    whole = one(series, "container_memory_working_set_bytes", container="")
    parts = [one(series, "container_memory_working_set_bytes", container=c) for c in ("app", "sidecar")]
    assert [v for _, v in whole] == [a + b for (_, a), (_, b) in zip(parts[0], parts[1], strict=True)]


def test_label_values_are_escaped(tmp_path: Path) -> None:
    pod = web_pod(0, Container("web", WEIRD, 0.5, None, 256 * MiB))
    path, _, series, _ = generate(tmp_path, [pod])
    assert 'image="reg.example/a\\"b\\\\c\\nd:1"' in path.read_text()
    images = {
        dict(labels)["image"] for labels in pick(series, "container_cpu_usage_seconds_total", container="web")
    }
    assert images == {WEIRD}


def test_node_label_names_follow_kube_state_metrics() -> None:
    assert node_label_name("karpenter.sh/capacity-type") == "label_karpenter_sh_capacity_type"
    assert node_label_name("topology.kubernetes.io/zone") == "label_topology_kubernetes_io_zone"


# --------------------------------------------------------------------------- promtool


@pytest.fixture
def promtool() -> Path:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    return Path(found)


def test_promtool_backfills_a_block(tmp_path: Path, promtool: Path) -> None:
    path, _, _, _ = generate(tmp_path, [web_pod(0), web_pod(1)])
    tsdb = tmp_path / "tsdb"
    backfill(promtool, [path], tsdb)
    listing = subprocess.run(
        [str(promtool), "tsdb", "list", str(tsdb)], capture_output=True, text=True, check=True
    ).stdout
    blocks = [line.split() for line in listing.splitlines()[1:] if line.strip()]
    assert len(blocks) == 1
    ulid, _, maxt = blocks[0][:3]
    assert len(ulid) == 26
    assert int(maxt) / 1000 == pytest.approx(NOW - MARGIN, abs=INTERVAL + 1)


def test_backfill_reports_promtool_errors(tmp_path: Path, promtool: Path) -> None:
    broken = tmp_path / "broken.om"
    broken.write_text('# TYPE x gauge\nx{a="1"} 1 100\nx{a="1"} 2 50\nnot a sample line\n# EOF\n')
    with pytest.raises(BackfillError, match="promtool failed") as error:
        backfill(promtool, [broken], tmp_path / "tsdb")
    assert "broken.om" in str(error.value)
    with pytest.raises(BackfillError, match="not found"):
        backfill(promtool, [tmp_path / "missing.om"], tmp_path / "tsdb")


# --------------------------------------------------------------------------- traces and inventory


@pytest.mark.parametrize(("name", "rows"), [("alibaba2018", 2243), ("azure_v2", 8640), ("google2019", 8064)])
def test_real_traces_load(name: str, rows: int) -> None:
    assert name in TRACE_NAMES
    trace = load_trace(name)  # type: ignore[arg-type]
    assert trace.seconds.shape == trace.cpu.shape == trace.memory.shape == (rows,)
    assert trace.step_seconds == 300.0
    assert np.all(np.diff(trace.seconds) == 300.0)
    for values in (trace.cpu, trace.memory):
        assert np.all(np.isfinite(values))
        assert 0.0 <= values.min() < values.max() <= 1.0
    assert trace.cpu.std() > 0.01


def test_bitbrains_csv(tmp_path: Path) -> None:
    header = (
        "Timestamp [ms];\tCPU cores;\tCPU capacity provisioned [MHZ];\tCPU usage [MHZ];\tCPU usage [%];\t"
        "Memory capacity provisioned [KB];\tMemory usage [KB];\tDisk read throughput [KB/s];\t"
        "Disk write throughput [KB/s];\tNetwork received throughput [KB/s];\t"
        "Network transmitted throughput [KB/s]"
    )
    rows = [
        "1376314846;\t4;\t10000;\t2500;\t25;\t1000;\t400;\t0;\t0;\t0;\t0",
        "1376315446;\t4;\t10000;\t5000;\t50;\t1000;\t600;\t0;\t0;\t0;\t0",
        "1376315146;\t4;\t10000;\t1000;\t10;\t1000;\t500;\t0;\t0;\t0;\t0",
        "1376315746;\t4;\t0;\t0;\t0;\t0;\t0;\t0;\t0;\t0;\t0",
    ]
    path = tmp_path / "1.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    trace = load_bitbrains_csv(path)
    assert trace.seconds.tolist() == [0.0, 300.0, 600.0]
    assert trace.cpu.tolist() == [0.25, 0.1, 0.5]
    assert trace.memory.tolist() == [0.4, 0.5, 0.6]


def test_inventory_from_api_objects() -> None:
    def meta(name: str, kind: str | None = None, owner: str = "", **extra: str) -> client.V1ObjectMeta:
        refs = None
        if kind is not None:
            reference = client.V1OwnerReference(
                api_version="apps/v1", kind=kind, name=owner, uid="u", controller=True
            )
            refs = [reference]
        return client.V1ObjectMeta(name=name, namespace="shop", owner_references=refs, **extra)

    def pod(
        name: str, owner_kind: str, owner: str, phase: str = "Running", node: str | None = "n1"
    ) -> client.V1Pod:
        container = client.V1Container(
            name="web",
            image="nginx:1.27",
            resources=client.V1ResourceRequirements(
                requests={"cpu": "250m", "memory": "256Mi"}, limits={"memory": "1Gi"}
            ),
        )
        return client.V1Pod(
            metadata=meta(name, owner_kind, owner, uid=f"uid-{name}"),
            spec=client.V1PodSpec(containers=[container], node_name=node),
            status=client.V1PodStatus(phase=phase, pod_ip="10.0.0.1", host_ip="192.0.2.1"),
        )

    pods = [
        pod("web-abc-1", "ReplicaSet", "web-abc"),
        pod("web-abc-2", "ReplicaSet", "web-abc", phase="Pending", node=None),
        pod("db-0", "StatefulSet", "db"),
        pod("orphan-1", "ReplicaSet", "bare-rs"),
    ]
    rs_spec = client.V1ReplicaSetSpec(selector=client.V1LabelSelector())
    replicasets = [
        client.V1ReplicaSet(metadata=meta("web-abc", "Deployment", "web"), spec=rs_spec),
        client.V1ReplicaSet(metadata=meta("bare-rs"), spec=rs_spec),
    ]
    nodes = [
        client.V1Node(metadata=client.V1ObjectMeta(name="n1", labels={"karpenter.sh/capacity-type": "spot"}))
    ]
    inventory = build_inventory(pods, replicasets, nodes)
    assert [p.name for p in inventory.pods] == ["web-abc-1"]
    record = inventory.pods[0]
    assert (record.replicaset, record.deployment, record.node, record.uid) == (
        "web-abc",
        "web",
        "n1",
        "uid-web-abc-1",
    )
    assert record.containers == (Container("web", "nginx:1.27", 0.25, None, 256 * MiB, 1024 * MiB),)
    assert inventory.nodes == (Node("n1", {"karpenter.sh/capacity-type": "spot"}),)


@pytest.mark.parametrize(
    ("quantity", "value"),
    [("250m", 0.25), ("2", 2.0), ("1.5", 1.5), ("512Mi", 512 * MiB), ("1G", 1e9), ("1e3", 1e3)],
)
def test_parse_quantity(quantity: str, value: float) -> None:
    assert parse_quantity(quantity) == value
