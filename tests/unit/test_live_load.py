"""The sandbox's live pod metrics without a cluster: load split over pods and containers, throttling,
counters integrated over an injected clock, and the exposition's names and label sets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from kubernetes import client
from prometheus_client import generate_latest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text
from prometheus_client.registry import CollectorRegistry

from thrifty.sandbox.live_load import (
    CPU_ANNOTATION,
    MEMORY_ANNOTATION,
    REQUESTS_ANNOTATION,
    ClusterObjects,
    Counters,
    LivePod,
    Load,
    parse_load,
    pod_usage,
    shares,
    snapshot,
    split_cpu,
    split_memory,
)
from thrifty.sandbox.live_metrics import LiveMetrics
from thrifty.sandbox.series import Container, Pod, write_openmetrics
from thrifty.sandbox.traces import Trace

MiB = 1024**2
Labels = frozenset[tuple[str, str]]
Samples = dict[str, dict[Labels, float]]  # sample name -> labels -> value


# --------------------------------------------------------------------------- pure computation


def test_shares_follow_requests_and_are_equal_without_any() -> None:
    assert shares([0.3, 0.1]) == pytest.approx([0.75, 0.25])
    assert shares([0.2, None]) == [1.0, 0.0]
    assert shares([None, None, None]) == pytest.approx([1 / 3] * 3)
    assert shares([0.0, 0.0]) == [0.5, 0.5]
    assert shares([]) == []


def test_cpu_is_split_by_request_and_throttled_at_the_limit() -> None:
    app = Container("app", cpu_request_cores=0.3)
    sidecar = Container("sidecar", cpu_request_cores=0.1)
    assert split_cpu(1.0, [app, sidecar]) == pytest.approx((0.75, 0.25))

    throttled = Container("app", cpu_request_cores=0.3, cpu_limit_cores=0.5)
    # The 0.25 core above the limit is lost, not handed to the sidecar.
    assert split_cpu(1.0, [throttled, sidecar]) == pytest.approx((0.5, 0.25))
    assert split_cpu(1.0, [Container("a"), Container("b", cpu_limit_cores=0.1)]) == pytest.approx((0.5, 0.1))


def test_memory_is_split_by_request_and_held_at_the_limit() -> None:
    app = Container("app", memory_request_bytes=300 * MiB, memory_limit_bytes=320 * MiB)
    sidecar = Container("sidecar", memory_request_bytes=100 * MiB)
    assert split_memory(400 * MiB, [app, sidecar]) == (300 * MiB, 100 * MiB)
    assert split_memory(800 * MiB, [app, sidecar]) == (320 * MiB, 200 * MiB)
    assert split_memory(300 * MiB, [Container("a"), Container("b")]) == (150 * MiB, 150 * MiB)


def test_annotations_parse_as_quantities_and_bad_values_are_reported() -> None:
    load, problems = parse_load(
        {CPU_ANNOTATION: "1500m", MEMORY_ANNOTATION: "300Mi", REQUESTS_ANNOTATION: "2.5k", "other": "x"}
    )
    assert load == Load(cpu_cores=1.5, memory_bytes=300 * MiB, requests_per_second=2500.0)
    assert problems == []

    assert parse_load(None) == (Load(), [])
    load, problems = parse_load(
        {CPU_ANNOTATION: "lots", MEMORY_ANNOTATION: "-1Gi", REQUESTS_ANNOTATION: "40"}
    )
    assert load == Load(requests_per_second=40.0)
    assert [p.split("=")[0] for p in problems] == [CPU_ANNOTATION, MEMORY_ANNOTATION]


def live_pod(name: str, workload: str | None, *containers: Container, terminating: bool = False) -> LivePod:
    pod = Pod(
        "shop", name, "node-0", "", workload or "", containers or (Container("app"),), uid=f"uid-{name}"
    )
    key = None if workload is None else ("shop", "Deployment", workload)
    return LivePod(pod, (), key, terminating=terminating)


def test_workload_load_is_split_evenly_over_serving_pods() -> None:
    loads = {
        ("shop", "Deployment", "web"): Load(cpu_cores=1.0, memory_bytes=200 * MiB, requests_per_second=90)
    }
    web = [live_pod(f"web-{i}", "web") for i in range(3)]
    leaving = live_pod("web-old", "web", terminating=True)
    idle = live_pod("batch-0", "batch")
    bare = live_pod("bare", None)

    usage = pod_usage([*web, leaving, idle, bare], loads)

    assert set(usage) == {pod.key for pod in web}
    for pod in web:
        assert usage[pod.key].cpu_cores == pytest.approx((1 / 3,))
        # Memory is per pod: scaling out does not shrink it.
        assert usage[pod.key].memory_bytes == (200 * MiB,)
        assert usage[pod.key].requests_per_second == pytest.approx(30.0)

    scaled = pod_usage([*web, live_pod("web-3", "web")], loads)
    assert all(used.cpu_cores == pytest.approx((0.25,)) for used in scaled.values())


def test_only_annotated_resources_get_usage() -> None:
    loads = {("shop", "Deployment", "web"): Load(cpu_cores=0.5)}
    usage = pod_usage([live_pod("web-0", "web")], loads)
    assert usage[("shop", "web-0", "uid-web-0")].memory_bytes is None
    assert usage[("shop", "web-0", "uid-web-0")].requests_per_second is None


@dataclass
class FakeClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


def test_counters_integrate_the_current_rate_over_elapsed_time() -> None:
    clock = FakeClock()
    counters: Counters[str] = Counters(clock)

    assert counters.advance({"a": 0.5}) == {"a": 0.0}  # a new key starts at 0
    clock.now += 10
    assert counters.advance({"a": 0.5, "b": 2.0}) == {"a": 5.0, "b": 0.0}
    clock.now += 4
    assert counters.advance({"a": 0.25, "b": 2.0}) == {"a": 6.0, "b": 8.0}
    clock.now += 4
    assert counters.advance({"b": 1.0}) == {"b": 12.0}  # "a" is gone
    clock.now += 4
    assert counters.advance({"a": 1.0, "b": 1.0}) == {"a": 0.0, "b": 16.0}  # and restarts at 0


# --------------------------------------------------------------------------- Kubernetes objects -> exposition


def meta(
    name: str,
    owners: Sequence[tuple[str, str]] = (),
    annotations: dict[str, str] | None = None,
    deleting: bool = False,
) -> client.V1ObjectMeta:
    references = [
        client.V1OwnerReference(
            api_version="apps/v1", kind=kind, name=owner, uid=f"uid-{owner}", controller=True
        )
        for kind, owner in owners
    ]
    return client.V1ObjectMeta(
        name=name,
        namespace="shop",
        uid=f"uid-{name}",
        annotations=annotations,
        owner_references=references or None,
        deletion_timestamp=datetime(2025, 1, 1, tzinfo=UTC) if deleting else None,
    )


def v1_pod(
    name: str, owner: tuple[str, str], phase: str = "Running", node: str | None = "kwok-spot-0"
) -> client.V1Pod:
    containers = [
        client.V1Container(
            name="app",
            image="nginx:1.27",
            resources=client.V1ResourceRequirements(
                requests={"cpu": "300m", "memory": "256Mi"}, limits={"cpu": "600m", "memory": "512Mi"}
            ),
        ),
        client.V1Container(
            name="sidecar", image="busybox", resources=client.V1ResourceRequirements(requests={"cpu": "100m"})
        ),
    ]
    return client.V1Pod(
        metadata=meta(name, [owner]),
        spec=client.V1PodSpec(node_name=node, containers=containers),
        status=client.V1PodStatus(phase=phase, pod_ip="10.0.0.7", host_ip="10.1.0.1"),
    )


@dataclass
class Cluster:
    web_annotations: dict[str, str] = field(
        default_factory=lambda: {CPU_ANNOTATION: "1", REQUESTS_ANNOTATION: "40"}
    )
    web_pods: list[str] = field(default_factory=lambda: ["web-abc-1", "web-abc-2"])

    def models(self) -> dict[str, list[Any]]:
        pods = [v1_pod(name, ("ReplicaSet", "web-abc")) for name in self.web_pods]
        pods += [
            v1_pod("db-0", ("StatefulSet", "db")),
            v1_pod("web-abc-pending", ("ReplicaSet", "web-abc"), phase="Pending", node=None),
        ]
        return {
            "pods": pods,
            "replicasets": [client.V1ReplicaSet(metadata=meta("web-abc", [("Deployment", "web")]))],
            "deployments": [client.V1Deployment(metadata=meta("web", annotations=self.web_annotations))],
            "statefulsets": [client.V1StatefulSet(metadata=meta("db"))],
            "nodes": [
                client.V1Node(
                    metadata=client.V1ObjectMeta(
                        name="kwok-spot-0", labels={"karpenter.sh/capacity-type": "spot", "type": "kwok"}
                    )
                )
            ],
        }

    def objects(self) -> ClusterObjects:
        """The objects as the API server's JSON has them."""
        return ClusterObjects(**{kind: api_json(items) for kind, items in self.models().items()})


def api_json(models: Sequence[Any]) -> list[dict[str, Any]]:
    serialized: list[dict[str, Any]] = client.ApiClient().sanitize_for_serialization(list(models))
    return serialized


def scrape(collector: LiveMetrics) -> Samples:
    registry = CollectorRegistry()
    registry.register(collector)
    samples: Samples = {}
    for family in parse_text(generate_latest(registry).decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[frozenset(sample.labels.items())] = sample.value
    return samples


def by_pod(samples: Samples, name: str, container: str | None = None) -> dict[str, float]:
    return {
        dict(labels)["pod"]: value
        for labels, value in samples.get(name, {}).items()
        if container is None or dict(labels).get("container") == container
    }


def test_counters_grow_with_the_workloads_load_per_pod() -> None:
    cluster, clock = Cluster(), FakeClock()
    collector = LiveMetrics(cluster.objects, clock)

    first = scrape(collector)
    clock.now += 10
    second = scrape(collector)

    cpu = "container_cpu_usage_seconds_total"
    assert by_pod(first, cpu, "app") == {"web-abc-1": 0.0, "web-abc-2": 0.0}
    # 1 core over 2 pods, 3:1 by request within each: 0.375 and 0.125 cores for 10 s.
    assert by_pod(second, cpu, "app") == pytest.approx({"web-abc-1": 3.75, "web-abc-2": 3.75})
    assert by_pod(second, cpu, "sidecar") == pytest.approx({"web-abc-1": 1.25, "web-abc-2": 1.25})
    assert by_pod(second, "http_requests_total") == pytest.approx({"web-abc-1": 200.0, "web-abc-2": 200.0})
    assert "container_memory_working_set_bytes" not in second  # no memory annotation

    # Scale out and raise the load: from this scrape on, 3 cores over three pods. The app container's
    # three quarters of a pod's core is throttled at its 600m limit.
    cluster.web_pods.append("web-abc-3")
    cluster.web_annotations = {CPU_ANNOTATION: "3", MEMORY_ANNOTATION: "100Mi"}
    clock.now += 10
    third = scrape(collector)
    assert by_pod(third, cpu, "app") == pytest.approx(
        {"web-abc-1": 9.75, "web-abc-2": 9.75, "web-abc-3": 0.0}
    )
    assert by_pod(third, cpu, "sidecar") == pytest.approx(
        {"web-abc-1": 3.75, "web-abc-2": 3.75, "web-abc-3": 0}
    )
    # Only the app container requests memory, so it holds the pod's whole working set.
    memory = "container_memory_working_set_bytes"
    assert by_pod(third, memory, "app") == dict.fromkeys(cluster.web_pods, 100 * MiB)
    assert by_pod(third, memory, "sidecar") == dict.fromkeys(cluster.web_pods, 0)
    assert "http_requests_total" not in third

    clock.now += 10
    assert by_pod(scrape(collector), cpu, "app") == pytest.approx(
        {"web-abc-1": 15.75, "web-abc-2": 15.75, "web-abc-3": 6.0}
    )


def test_state_metrics_cover_running_pods_whatever_their_annotations() -> None:
    samples = scrape(LiveMetrics(Cluster(web_annotations={}).objects, FakeClock()))

    assert not any(name.startswith(("container_", "http_")) for name in samples)
    assert set(by_pod(samples, "kube_pod_info")) == {"web-abc-1", "web-abc-2", "db-0"}
    owners = {dict(labels)["pod"]: dict(labels) for labels in samples["kube_pod_owner"]}
    assert owners["db-0"]["owner_kind"] == "StatefulSet"
    assert (owners["web-abc-1"]["owner_kind"], owners["web-abc-1"]["owner_name"]) == ("ReplicaSet", "web-abc")
    [replicaset] = [dict(labels) for labels in samples["kube_replicaset_owner"]]
    assert replicaset == {
        "namespace": "shop",
        "replicaset": "web-abc",
        "owner_kind": "Deployment",
        "owner_name": "web",
        "owner_is_controller": "true",
    }
    info = {dict(labels)["pod"]: dict(labels) for labels in samples["kube_pod_info"]}
    assert info["db-0"]["node"] == "kwok-spot-0"
    assert (info["db-0"]["created_by_kind"], info["db-0"]["created_by_name"]) == ("StatefulSet", "db")
    requests = {
        (dict(labels)["pod"], dict(labels)["container"], dict(labels)["resource"]): value
        for labels, value in samples["kube_pod_container_resource_requests"].items()
    }
    assert requests[("db-0", "app", "cpu")] == pytest.approx(0.3)
    assert requests[("db-0", "app", "memory")] == 256 * MiB
    assert ("db-0", "sidecar", "memory") not in requests


def test_invalid_annotations_leave_the_other_series_alone() -> None:
    cluster = Cluster(web_annotations={CPU_ANNOTATION: "a lot", REQUESTS_ANNOTATION: "10"})
    snap = snapshot(cluster.objects())
    assert snap.problems == (
        f"Deployment shop/web: {CPU_ANNOTATION}='a lot' is not a non-negative quantity; ignored",
    )
    samples = scrape(LiveMetrics(cluster.objects, FakeClock()))
    assert "container_cpu_usage_seconds_total" not in samples
    assert set(by_pod(samples, "http_requests_total")) == {"web-abc-1", "web-abc-2"}


def test_label_sets_are_those_of_the_backfilled_series(tmp_path: Path) -> None:
    """Live and backfilled series of one pod differ in nothing but Prometheus' job and instance."""
    cluster = Cluster(
        web_annotations={CPU_ANNOTATION: "1", MEMORY_ANNOTATION: "300Mi"}, web_pods=["web-abc-1"]
    )
    snap = snapshot(cluster.objects())
    [pod] = [live.pod for live in snap.pods if live.pod.name == "web-abc-1"]
    trace = Trace(np.arange(6) * 300.0, np.full(6, 0.5), np.full(6, 0.5))
    path = tmp_path / "web.om"
    write_openmetrics(path, [pod], snap.nodes, trace, history_seconds=600, pod_offset_span_seconds=0, now=1e9)
    backfilled: dict[str, set[Labels]] = {}
    for family in parse_openmetrics(path.read_text()):
        for sample in family.samples:
            if sample.labels.get("pod", "web-abc-1") == "web-abc-1" and not sample.name.startswith(
                "kube_pod_container_status"
            ):
                backfilled.setdefault(sample.name, set()).add(frozenset(sample.labels.items()))

    live = scrape(LiveMetrics(cluster.objects, FakeClock()))
    live_sets = {
        name: {labels for labels in series if dict(labels).get("pod", "web-abc-1") == "web-abc-1"}
        for name, series in live.items()
        if name != "http_requests_total"
    }
    assert live_sets == backfilled


def test_pod_cgroup_series_sum_the_containers() -> None:
    clock = FakeClock()
    collector = LiveMetrics(Cluster().objects, clock, pod_cgroup_series=True)
    scrape(collector)
    clock.now += 4
    pod_level = by_pod(scrape(collector), "container_cpu_usage_seconds_total", "")
    assert pod_level == pytest.approx({"web-abc-1": 2.0, "web-abc-2": 2.0})


def test_node_labels_use_kube_state_metrics_names() -> None:
    samples = scrape(LiveMetrics(Cluster().objects, FakeClock()))
    [node] = [dict(labels) for labels in samples["kube_node_labels"]]
    assert node == {"node": "kwok-spot-0", "label_karpenter_sh_capacity_type": "spot", "label_type": "kwok"}
