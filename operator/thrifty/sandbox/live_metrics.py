"""Live pod metrics for the sandbox: a stand-in for kubelet/cAdvisor and kube-state-metrics.

KWOK pods run nothing, so without this the sandbox's only workload series are backfilled history.
At every scrape the exporter reads the cluster's pods, ReplicaSets, Deployments, StatefulSets and
Nodes from a watch-fed cache (``object_cache``; a scrape sends no request to the API server) and
answers with the metric names and label sets that ``series`` writes for backfill:

- kube-state-metrics (``kube_pod_owner``, ``kube_replicaset_owner``, ``kube_pod_info``,
  ``kube_node_labels``, ``kube_pod_container_resource_requests`` and ``_limits``) for every
  scheduled, Running pod, every ReplicaSet and every Node;
- cAdvisor (``container_cpu_usage_seconds_total``, ``container_memory_working_set_bytes``) and
  ``http_requests_total{namespace, pod}`` for pods of workloads with load annotations (see
  ``live_load`` for the annotations and how their load is split).

``/metrics`` is the Prometheus text format (0.0.4), rendered by ``render_text``: byte for byte what
prometheus_client's ``generate_latest`` writes for these families, without its per-label name
validation, which took most of a scrape of thousands of pods. It is not compressed: on loopback,
gzip of many megabytes costs more time than it saves.

The exporter emits no ``job`` or ``instance`` label: Prometheus adds its target's, so live series
never merge with backfilled series of the same pod, and the operator's ``max by`` collapses both.
"""

from __future__ import annotations

import functools
import gc
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from kubernetes import config
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.openmetrics.exposition import escape_label_name
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

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
from thrifty.sandbox.object_cache import ClusterCache, NotSyncedError
from thrifty.sandbox.series import Pod

log = logging.getLogger(__name__)

NONE = "<none>"  # kube-state-metrics' value for an owner that is not there


class LiveMetrics(Collector):
    """Reads the cluster at each collect and yields its kube-state-metrics and cAdvisor families."""

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
        # One collect at a time: the counters integrate from one reading to the next.
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


# Young-generation collections every 50,000 allocations instead of 700: a scrape of thousands of
# pods allocates hundreds of thousands of short-lived label dicts and samples, and at the default
# the collector ran full passes over them many times per scrape (about 40% of its time).
GC_THRESHOLDS = (50_000, 20, 10)


def tune_garbage_collector() -> None:
    """Set this process's collector thresholds for scrapes of thousands of pods."""
    gc.set_threshold(*GC_THRESHOLDS)


TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@functools.lru_cache(maxsize=1024)
def _label_name(name: str) -> str:
    return escape_label_name(name)


@functools.lru_cache(maxsize=65536)
def _value(value: float) -> str:
    # Few distinct values (1 for every info series, the same requests and limits): format each once.
    text: str = floatToGoString(value)  # type: ignore[no-untyped-call]
    return text


def _label_value(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


@functools.lru_cache(maxsize=4096)
def _sample_format(name: str, keys: tuple[str, ...]) -> tuple[tuple[str, ...], str]:
    """Label keys in exposition (sorted) order, and the sample's line up to its value as a %-format.

    Escaped label names and metric names match ``[a-zA-Z_:][a-zA-Z0-9_:]*``, so they hold no ``%``.
    """
    order = tuple(sorted(keys))
    labels = ",".join(f'{_label_name(k)}="%s"' for k in order)
    return order, f"{name}{{{labels}}} " if order else f"{name} "


def render_text(families: Iterable[Metric]) -> bytes:
    """The text exposition of gauge and counter families of plain samples (no timestamps)."""
    out: list[str] = []
    for family in families:
        if family.type not in ("gauge", "counter"):
            raise ValueError(f"{family.name}: {family.type} families are not rendered here")
        name = family.name + "_total" if family.type == "counter" else family.name
        documentation = family.documentation.replace("\\", r"\\").replace("\n", r"\n")
        out.append(f"# HELP {name} {documentation}\n# TYPE {name} {family.type}\n")
        for sample in family.samples:
            if sample.timestamp is not None or sample.name != name:
                raise ValueError(f"{family.name}: only plain {name} samples are rendered here")
            labels = sample.labels
            order, line = _sample_format(name, tuple(labels))
            values = tuple([labels[k] for k in order])
            joined = "".join(values)
            if "\\" in joined or "\n" in joined or '"' in joined:
                values = tuple(_label_value(v) for v in values)
            out.append(line % values + _value(sample.value) + "\n")
    return "".join(out).encode("utf-8")


class _MetricsHandler(BaseHTTPRequestHandler):
    collector: LiveMetrics

    def do_GET(self) -> None:
        try:
            body, status, content_type = render_text(self.collector.collect()), 200, TEXT_CONTENT_TYPE
        except NotSyncedError as error:
            body, status, content_type = f"{error}\n".encode(), 503, "text/plain; charset=utf-8"
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        del format, args  # one line per scrape would drown the log


def metrics_server(collector: LiveMetrics, address: str, port: int) -> ThreadingHTTPServer:
    """An HTTP server (not yet serving) that answers every GET with the collector's exposition."""
    handler = type("Handler", (_MetricsHandler,), {"collector": collector})
    return ThreadingHTTPServer((address, port), handler)


def serve(kubeconfig: Path, port: int, address: str = "127.0.0.1", pod_cgroup_series: bool = False) -> None:
    """Serve ``/metrics`` on ``address:port`` until the process is stopped."""
    tune_garbage_collector()
    cache = ClusterCache.for_api(config.new_client_from_config(config_file=str(kubeconfig)))
    cache.start()
    # Until every kind is listed a scrape fails (503) rather than report part of the cluster.
    if not cache.wait_synced():
        log.warning("not every kind listed yet; scrapes fail until they are")
    server = metrics_server(LiveMetrics(cache.objects, pod_cgroup_series=pod_cgroup_series), address, port)
    log.info("serving live pod metrics on http://%s:%d/metrics", address, port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        cache.stop()
