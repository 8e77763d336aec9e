"""Live pod metrics for the sandbox: a stand-in for kubelet/cAdvisor and kube-state-metrics.

KWOK pods run nothing, so without this the sandbox's only workload series are backfilled history.
At every scrape the exporter lists the cluster's pods, ReplicaSets, Deployments, StatefulSets and
Nodes and answers with the metric names and label sets that ``series`` writes for backfill:

- kube-state-metrics (``kube_pod_owner``, ``kube_replicaset_owner``, ``kube_pod_info``,
  ``kube_node_labels``, ``kube_pod_container_resource_requests`` and ``_limits``) for every
  scheduled, Running pod, every ReplicaSet and every Node;
- cAdvisor (``container_cpu_usage_seconds_total``, ``container_memory_working_set_bytes``) and
  ``http_requests_total{namespace, pod}`` for pods of workloads with load annotations (see
  ``live_load`` for the annotations and how their load is split).

The exporter emits no ``job`` or ``instance`` label: Prometheus adds its target's, so live series
never merge with backfilled series of the same pod, and the operator's ``max by`` collapses both.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from kubernetes import client, config
from prometheus_client import start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from thrifty.sandbox import series
from thrifty.sandbox.live_load import (
    ClusterObjects,
    Counters,
    Owner,
    PodKey,
    PodUsage,
    Snapshot,
    pod_usage,
    snapshot,
)
from thrifty.sandbox.series import Pod

log = logging.getLogger(__name__)

NONE = "<none>"  # kube-state-metrics' value for an owner that is not there
LIST_TIMEOUT_SECONDS = 4.0  # below the 5 s scrape interval, so a slow API server fails one scrape


def list_cluster(api: client.ApiClient) -> ClusterObjects:
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    timeout = {"_request_timeout": LIST_TIMEOUT_SECONDS}
    return ClusterObjects(
        pods=core.list_pod_for_all_namespaces(**timeout).items,
        replicasets=apps.list_replica_set_for_all_namespaces(**timeout).items,
        deployments=apps.list_deployment_for_all_namespaces(**timeout).items,
        statefulsets=apps.list_stateful_set_for_all_namespaces(**timeout).items,
        nodes=core.list_node(**timeout).items,
    )


class LiveMetrics(Collector):
    """Lists the cluster at each collect and yields its kube-state-metrics and cAdvisor families."""

    def __init__(
        self,
        list_objects: Callable[[], ClusterObjects],
        clock: Callable[[], float] = time.monotonic,
        pod_cgroup_series: bool = False,
    ) -> None:
        self._list = list_objects
        self._cpu: Counters[tuple[PodKey, str]] = Counters(clock)
        self._requests: Counters[PodKey] = Counters(clock)
        self._pod_cgroups = pod_cgroup_series
        self._reported: set[str] = set()
        self._lock = threading.Lock()

    def collect(self) -> Iterable[Metric]:
        # One collect at a time: the counters integrate from one listing to the next.
        with self._lock:
            snap = snapshot(self._list())
            for problem in sorted(set(snap.problems) - self._reported):
                log.warning("%s", problem)
            self._reported = set(snap.problems)
            usage = pod_usage(snap.pods, snap.loads)
            containers = {live.key: live.pod.containers for live in snap.pods}
            cpu = self._cpu.advance(
                {
                    (key, container.name): cores
                    for key, used in usage.items()
                    if used.cpu_cores is not None
                    for container, cores in zip(containers[key], used.cpu_cores, strict=True)
                }
            )
            requests = self._requests.advance(
                {
                    key: used.requests_per_second
                    for key, used in usage.items()
                    if used.requests_per_second is not None
                }
            )
        return [*_state_families(snap), *self._usage_families(snap, usage, cpu, requests)]

    def _usage_families(
        self,
        snap: Snapshot,
        usage: dict[PodKey, PodUsage],
        cpu: dict[tuple[PodKey, str], float],
        requests: dict[PodKey, float],
    ) -> list[Metric]:
        cpu_family = CounterMetricFamily(
            "container_cpu_usage_seconds", "Cumulative cpu time consumed in seconds."
        )
        memory_family = GaugeMetricFamily(
            "container_memory_working_set_bytes", "Current working set in bytes."
        )
        http = CounterMetricFamily(
            "http_requests", "Requests served, at the rate the workload's annotation sets."
        )
        for live in snap.pods:
            used, pod = usage.get(live.key), live.pod
            if used is None:
                continue
            if used.cpu_cores is not None:
                totals = [cpu[(live.key, c.name)] for c in pod.containers]
                _add(cpu_family, "container_cpu_usage_seconds_total", pod, totals, self._pod_cgroups)
            if used.memory_bytes is not None:
                _add(
                    memory_family,
                    "container_memory_working_set_bytes",
                    pod,
                    used.memory_bytes,
                    self._pod_cgroups,
                )
            if live.key in requests:
                labels = {"namespace": pod.namespace, "pod": pod.name}
                http.add_sample("http_requests_total", labels, requests[live.key])
        return [cpu_family, memory_family, http]


def _add(family: Metric, name: str, pod: Pod, values: Sequence[float], pod_cgroup: bool) -> None:
    for container, value in zip(pod.containers, values, strict=True):
        family.add_sample(name, dict(series.cadvisor_labels(pod, container)), value)
    if pod_cgroup:
        family.add_sample(name, dict(series.cadvisor_labels(pod, None)), sum(values))


def _state_families(snap: Snapshot) -> list[Metric]:
    owner = GaugeMetricFamily("kube_pod_owner", "Information about the Pod's owner.")
    rs_owner = GaugeMetricFamily("kube_replicaset_owner", "Information about the ReplicaSet's owner.")
    info = GaugeMetricFamily("kube_pod_info", "Information about pod.")
    node_labels = GaugeMetricFamily("kube_node_labels", "Kubernetes labels converted to Prometheus labels.")
    resources = {
        kind: GaugeMetricFamily(
            f"kube_pod_container_resource_{kind}", f"The number of {what} resource by a container."
        )
        for kind, what in (("requests", "requested"), ("limits", "limit of"))
    }
    for live in snap.pods:
        pod = live.pod
        for o in live.owners or (Owner(NONE, NONE, False),):
            controller = NONE if o.kind == NONE else str(o.controller).lower()
            owner.add_sample(
                owner.name, dict(series.ksm_pod_owner_labels(pod, o.kind, o.name, controller)), 1
            )
        creator = next((o for o in live.owners if o.controller), Owner(NONE, NONE, False))
        labels = series.ksm_pod_info_labels(
            pod, creator.kind, creator.name, live.priority_class, str(live.host_network).lower()
        )
        info.add_sample(info.name, dict(labels), 1)
        for container in pod.containers:
            for kind, cpu, memory in (
                ("requests", container.cpu_request_cores, container.memory_request_bytes),
                ("limits", container.cpu_limit_cores, container.memory_limit_bytes),
            ):
                for resource, unit, value in (("cpu", "core", cpu), ("memory", "byte", memory)):
                    if value is not None:
                        labels = series.ksm_resource_labels(pod, container, resource, unit)
                        resources[kind].add_sample(resources[kind].name, dict(labels), value)
    for namespace, name, owners in snap.replicasets:
        for o in owners or (Owner(NONE, NONE, False),):
            controller = NONE if o.kind == NONE else str(o.controller).lower()
            labels = series.ksm_replicaset_owner_labels(namespace, name, o.kind, o.name, controller)
            rs_owner.add_sample(rs_owner.name, dict(labels), 1)
    for node in sorted(snap.nodes, key=lambda n: n.name):
        node_labels.add_sample(node_labels.name, dict(series.ksm_node_labels(node)), 1)
    return [owner, rs_owner, info, node_labels, resources["requests"], resources["limits"]]


def serve(kubeconfig: Path, port: int, address: str = "127.0.0.1", pod_cgroup_series: bool = False) -> None:
    """Serve ``/metrics`` on ``address:port`` until the process is stopped."""
    api = config.new_client_from_config(config_file=str(kubeconfig))
    registry = CollectorRegistry()
    registry.register(LiveMetrics(lambda: list_cluster(api), pod_cgroup_series=pod_cgroup_series))
    server, thread = start_http_server(port, addr=address, registry=registry)
    log.info("serving live pod metrics on http://%s:%d/metrics", address, port)
    try:
        thread.join()
    except KeyboardInterrupt:
        server.shutdown()
