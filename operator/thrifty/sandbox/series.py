"""Replay a real utilization trace as the cAdvisor and kube-state-metrics series of a cluster.

The output is OpenMetrics text for ``promtool tsdb create-blocks-from openmetrics``: one ``# HELP``
and ``# TYPE`` per family, each family's samples together, each series' samples in increasing
time, unix-second timestamps and a final ``# EOF``.

How a trace becomes usage:

- A container uses ``trace.cpu x peak.cpu_cores`` cores and ``trace.memory x peak.memory_bytes``
  bytes. Each trace row holds for its step (300 s for the packaged traces); samples are emitted
  every ``scrape_interval_seconds``, so gauges repeat a row's value and the CPU counter integrates
  the step function exactly: its increase over any interval is cores x seconds.
- Limits act as the kernel would: CPU use above the CPU limit is throttled to it, and memory above
  the memory limit is an OOM kill (the working set stays at the limit, the restart counter goes up
  once per excursion and ``last_terminated_reason{reason="OOMKilled"}`` appears from then on).
- The series end at ``now - end_margin_seconds`` and start ``history_seconds`` earlier. When the
  trace is shorter than that, the window is shortened to what the trace holds: real data is never
  repeated, tiled or extrapolated. Where a trace has a gap (per-VM traces do) no sample is written,
  as Prometheus would have recorded a failed scrape.
- Replicas of one Deployment read the trace at different offsets (up to
  ``pod_offset_span_seconds``, in whole trace steps). Replicas behind one Service share the daily
  shape of their load but not every sample; identical replicas would make a sum, an average, a max
  and a per-pod percentile indistinguishable and let aggregation bugs pass. The offsets stay small
  so the daily shape stays aligned across replicas. Different Deployments start on different days
  of the trace when it is long enough (whole days, keeping time of day aligned).
"""

from __future__ import annotations

import hashlib
import math
import re
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np
import numpy.typing as npt

from thrifty.sandbox.traces import FloatArray, Trace

DEFAULT_HISTORY_SECONDS = 14 * 86400.0
MiB = 1024**2

ObjectArray = npt.NDArray[np.object_]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Node:
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Container:
    """A container spec; quantities in cores and bytes, ``None`` where the spec leaves them out."""

    name: str
    image: str = ""
    cpu_request_cores: float | None = None
    cpu_limit_cores: float | None = None
    memory_request_bytes: float | None = None
    memory_limit_bytes: float | None = None


@dataclass(frozen=True)
class Pod:
    """A scheduled pod of a Deployment (through its ReplicaSet)."""

    namespace: str
    name: str
    node: str
    replicaset: str
    deployment: str
    containers: tuple[Container, ...]
    uid: str = ""
    pod_ip: str = ""
    host_ip: str = ""

    @property
    def effective_uid(self) -> str:
        """The pod's uid, or a stable made-up one for records that were not read from a cluster."""
        return self.uid or str(uuid.uuid5(uuid.NAMESPACE_URL, f"pod/{self.namespace}/{self.name}"))


@dataclass(frozen=True)
class Peak:
    """What a container uses when the trace reads 1.0."""

    cpu_cores: float
    memory_bytes: float


def peak_from_requests(pod: Pod, container: Container) -> Peak:
    """Scale the trace to the container's requests (else limits, else 100m and 128 MiB)."""
    del pod
    cpu = container.cpu_request_cores or container.cpu_limit_cores or 0.1
    memory = container.memory_request_bytes or container.memory_limit_bytes or 128 * MiB
    return Peak(cpu_cores=cpu, memory_bytes=memory)


@dataclass(frozen=True)
class SeriesSummary:
    start: float
    end: float
    samples_per_series: int
    series: int
    samples: int
    window_seconds: float
    shortened: bool


# --------------------------------------------------------------------------- OpenMetrics text


def escape_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_labels(labels: Iterable[tuple[str, str]]) -> str:
    return "{" + ",".join(f'{name}="{escape_label_value(value)}"' for name, value in labels) + "}"


def _number(value: float) -> str:
    value = float(value)
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def _write_family(out: TextIO, name: str, kind: str, help_text: str) -> None:
    help_text = help_text.replace("\\", "\\\\").replace("\n", "\\n")
    out.write(f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n")


def _write_series(out: TextIO, series: str, values: str | ObjectArray, stamps: ObjectArray) -> int:
    """Write ``series value timestamp`` lines; ``stamps`` hold " <timestamp>" strings.

    The lines are built with ``str.join`` over precomputed strings because formatting dominates the
    cost of a backfill file, and join runs at memory speed where an f-string per line does not.
    """
    if len(stamps) == 0:
        return 0
    if isinstance(values, str):
        head = f"{series} {values}"
        out.write(head + ("\n" + head).join(stamps.tolist()) + "\n")
    else:
        head = series + " "
        out.write(head + ("\n" + head).join((values + stamps).tolist()) + "\n")
    return len(stamps)


def _strings(values: Sequence[object]) -> ObjectArray:
    return np.array([str(v) for v in values], dtype=object)


# --------------------------------------------------------------------------- time and trace mapping


@dataclass(frozen=True)
class _Window:
    times: FloatArray  # unix seconds of every sample, shared by all series
    stamps: ObjectArray  # " <timestamp>" for each of them
    state_every: int  # constant kube-state-metrics series keep one sample in this many
    state_stamps: ObjectArray
    trace_span: float  # trace seconds the window reads
    slack: float  # trace seconds left over for offsets between workloads
    shortened: bool


@dataclass(frozen=True)
class _Timeline:
    """Where one pod's samples fall in the trace."""

    row: IntArray  # trace row of each sample; samples inside trace gaps are left out
    elapsed: FloatArray  # seconds since that row started
    stamps: ObjectArray
    state: BoolArray  # which kept samples the constant series also get
    state_stamps: ObjectArray


def _holds(trace: Trace) -> FloatArray:
    """How long each row holds: until the next row, unless that is a gap (over 1.5 steps)."""
    step = trace.step_seconds
    gaps = np.diff(trace.seconds)
    holds = np.where(gaps <= 1.5 * step, gaps, step)
    return np.append(holds, step)


def _window(
    trace: Trace,
    history: float,
    interval: float,
    state_every: int,
    now: float,
    margin: float,
    pod_offset_span: float,
) -> _Window:
    available = trace.duration_seconds - pod_offset_span
    if available < 2 * interval:
        raise ValueError(
            f"trace covers {trace.duration_seconds:.0f} s, too short for {pod_offset_span:.0f} s of pod "
            f"offsets plus two {interval:g} s samples"
        )
    span = min(history, available)
    count = math.ceil(span / interval)
    end = math.floor((now - margin) / interval) * interval
    times = end - interval * np.arange(count - 1, -1, -1, dtype=np.float64)
    if interval.is_integer():
        stamps = _strings([" " + str(int(t)) for t in times.tolist()])
    else:
        stamps = _strings([" " + repr(t) for t in times.tolist()])
    state = _state_samples(np.arange(count), count, state_every)
    return _Window(
        times, stamps, state_every, stamps[state], span, available - span, shortened=span < history
    )


def _state_samples(positions: IntArray, count: int, every: int) -> BoolArray:
    """Every ``every``-th sample, counted back from the last one so state series end near now too."""
    selected: BoolArray = (count - 1 - positions) % every == 0
    return selected


def _timeline(trace: Trace, holds: FloatArray, window: _Window, start: float) -> _Timeline:
    offsets = window.times - window.times[0]
    position = trace.seconds[0] + start + offsets
    row = np.searchsorted(trace.seconds, position, side="right") - 1
    row = np.clip(row, 0, None)
    elapsed = position - trace.seconds[row]
    kept = np.flatnonzero(elapsed < holds[row])
    state = _state_samples(kept, len(window.times), window.state_every)
    stamps = window.stamps[kept]
    return _Timeline(row[kept], elapsed[kept], stamps, state, stamps[state])


def _trace_starts(pods: Sequence[Pod], trace: Trace, window: _Window, pod_offset_span: float) -> list[float]:
    """The trace second each pod's window starts at (see the module docstring for why)."""
    step = trace.step_seconds
    positions = int(pod_offset_span // step) + 1
    days = int(window.slack // 86400) + 1
    members: dict[tuple[str, str], list[str]] = {}
    for pod in pods:
        members.setdefault((pod.namespace, pod.deployment or pod.replicaset or pod.name), []).append(pod.name)
    rank = {key: {name: i for i, name in enumerate(sorted(names))} for key, names in members.items()}
    starts = []
    for pod in pods:
        key = (pod.namespace, pod.deployment or pod.replicaset or pod.name)
        day = zlib.crc32("/".join(key).encode()) % days
        starts.append(day * 86400.0 + (rank[key][pod.name] % positions) * step)
    return starts


# --------------------------------------------------------------------------- per-container usage


@dataclass(frozen=True)
class _Usage:
    cpu_rate: FloatArray  # cores per trace row, after throttling at the limit
    cpu_base: FloatArray  # counter value at the start of each row
    memory: FloatArray  # bytes per trace row, at most the limit
    over_limit: BoolArray  # rows where the container would exceed its memory limit


def _usage(trace: Trace, holds: FloatArray, peak: Peak, container: Container) -> _Usage:
    cpu_limit = container.cpu_limit_cores or math.inf
    rate = np.minimum(trace.cpu * peak.cpu_cores, cpu_limit)
    base = np.concatenate(([0.0], np.cumsum(rate[:-1] * holds[:-1])))
    wanted = np.rint(trace.memory * peak.memory_bytes)
    memory_limit = container.memory_limit_bytes or math.inf
    return _Usage(rate, base, np.minimum(wanted, memory_limit), wanted > memory_limit)


def _counter(usage: _Usage, timeline: _Timeline) -> FloatArray:
    values = usage.cpu_base[timeline.row] + usage.cpu_rate[timeline.row] * timeline.elapsed
    values -= values[0] if len(values) else 0.0
    return values


def _oom_kills(usage: _Usage, timeline: _Timeline) -> IntArray:
    """Cumulative OOM kills at each sample: one per entry into an over-the-limit stretch."""
    over = usage.over_limit[timeline.row]
    entries = over & ~np.concatenate(([False], over[:-1]))
    return np.cumsum(entries)


# --------------------------------------------------------------------------- label sets


_INVALID_LABEL_CHARS = re.compile(r"[^a-zA-Z0-9_]")


def _qos_slice(pod: Pod) -> str:
    """The kubepods cgroup of the pod's QoS class (cgroupfs driver layout)."""
    containers = pod.containers
    if all(
        c.cpu_request_cores is None
        and c.cpu_limit_cores is None
        and c.memory_request_bytes is None
        and c.memory_limit_bytes is None
        for c in containers
    ):
        return "/kubepods/besteffort"
    guaranteed = all(
        c.cpu_limit_cores is not None
        and c.memory_limit_bytes is not None
        and c.cpu_request_cores in (None, c.cpu_limit_cores)
        and c.memory_request_bytes in (None, c.memory_limit_bytes)
        for c in containers
    )
    return "/kubepods" if guaranteed else "/kubepods/burstable"


def cadvisor_labels(pod: Pod, container: Container | None) -> list[tuple[str, str]]:
    """cAdvisor's labels; ``container=None`` is the pod-level cgroup (container="")."""
    pod_cgroup = f"{_qos_slice(pod)}/pod{pod.effective_uid}"
    if container is None:
        name, image, cgroup, container_name = "", "", pod_cgroup, ""
    else:
        name = hashlib.sha256(f"{pod.effective_uid}/{container.name}".encode()).hexdigest()
        image, cgroup, container_name = container.image, f"{pod_cgroup}/{name}", container.name
    return [
        ("namespace", pod.namespace),
        ("pod", pod.name),
        ("container", container_name),
        ("image", image),
        ("name", name),
        ("id", cgroup),
    ]


def ksm_container_labels(pod: Pod, container: Container) -> list[tuple[str, str]]:
    return [
        ("namespace", pod.namespace),
        ("pod", pod.name),
        ("uid", pod.effective_uid),
        ("container", container.name),
    ]


def node_label_name(key: str) -> str:
    """kube-state-metrics' name for a Kubernetes label key: ``label_`` + key with [^a-zA-Z0-9_] -> _."""
    return "label_" + _INVALID_LABEL_CHARS.sub("_", key)


def ksm_node_labels(node: Node) -> list[tuple[str, str]]:
    labels: dict[str, str] = {}
    for key in sorted(node.labels):
        name = node_label_name(key)
        suffix = 1
        while name in labels:
            name = f"{node_label_name(key)}_conflict{suffix}"
            suffix += 1
        labels[name] = node.labels[key]
    return [("node", node.name), *labels.items()]


def ksm_resource_labels(pod: Pod, container: Container, resource: str, unit: str) -> list[tuple[str, str]]:
    """``kube_pod_container_resource_requests`` and ``_limits``: cpu in "core", memory in "byte"."""
    return [*ksm_container_labels(pod, container), ("node", pod.node), ("resource", resource), ("unit", unit)]


def ksm_pod_owner_labels(pod: Pod, kind: str, name: str, is_controller: str) -> list[tuple[str, str]]:
    """``kube_pod_owner``: one series per owner reference; ``is_controller`` is "true" or "false"."""
    return [
        ("namespace", pod.namespace),
        ("pod", pod.name),
        ("uid", pod.effective_uid),
        ("owner_kind", kind),
        ("owner_name", name),
        ("owner_is_controller", is_controller),
    ]


def ksm_replicaset_owner_labels(
    namespace: str, replicaset: str, kind: str, name: str, is_controller: str
) -> list[tuple[str, str]]:
    return [
        ("namespace", namespace),
        ("replicaset", replicaset),
        ("owner_kind", kind),
        ("owner_name", name),
        ("owner_is_controller", is_controller),
    ]


def ksm_pod_info_labels(
    pod: Pod,
    created_by_kind: str,
    created_by_name: str,
    priority_class: str = "",
    host_network: str = "false",
) -> list[tuple[str, str]]:
    return [
        ("namespace", pod.namespace),
        ("pod", pod.name),
        ("uid", pod.effective_uid),
        ("host_ip", pod.host_ip),
        ("pod_ip", pod.pod_ip),
        ("node", pod.node),
        ("created_by_kind", created_by_kind),
        ("created_by_name", created_by_name),
        ("priority_class", priority_class),
        ("host_network", host_network),
    ]


# --------------------------------------------------------------------------- writer


@dataclass
class _Writer:
    out: TextIO
    trace: Trace
    holds: FloatArray
    window: _Window
    peak: Callable[[Pod, Container], Peak]
    pods: Sequence[Pod]
    timelines: list[_Timeline]
    series: int = 0
    samples: int = 0

    def emit(
        self, name: str, labels: Iterable[tuple[str, str]], values: str | ObjectArray, stamps: ObjectArray
    ) -> None:
        written = _write_series(self.out, name + render_labels(labels), values, stamps)
        self.series += written > 0
        self.samples += written

    def containers(self) -> Iterator[tuple[int, Pod, _Timeline, Container, _Usage]]:
        for index, (pod, timeline) in enumerate(zip(self.pods, self.timelines, strict=True)):
            for container in pod.containers:
                usage = _usage(self.trace, self.holds, self.peak(pod, container), container)
                yield index, pod, timeline, container, usage

    def pod_totals(self, totals: dict[int, FloatArray]) -> Iterator[tuple[Pod, _Timeline, FloatArray]]:
        for index, total in sorted(totals.items()):
            yield self.pods[index], self.timelines[index], total

    def cpu(self, pod_cgroups: bool) -> None:
        _write_family(
            self.out, "container_cpu_usage_seconds", "counter", "Cumulative cpu time consumed in seconds."
        )
        name = "container_cpu_usage_seconds_total"
        totals: dict[int, FloatArray] = {}
        for index, pod, timeline, container, usage in self.containers():
            values = _counter(usage, timeline)
            if pod_cgroups:
                totals[index] = totals.get(index, 0.0) + values
            self.emit(name, cadvisor_labels(pod, container), _floats(values), timeline.stamps)
        for pod, timeline, total in self.pod_totals(totals):
            self.emit(name, cadvisor_labels(pod, None), _floats(total), timeline.stamps)

    def memory(self, pod_cgroups: bool) -> None:
        _write_family(
            self.out, "container_memory_working_set_bytes", "gauge", "Current working set in bytes."
        )
        name = "container_memory_working_set_bytes"
        totals: dict[int, FloatArray] = {}
        for index, pod, timeline, container, usage in self.containers():
            if pod_cgroups:
                totals[index] = totals.get(index, 0.0) + usage.memory[timeline.row]
            # Format each trace row once; samples repeat rows about step/interval times.
            per_row = _strings([int(v) for v in usage.memory.tolist()])
            self.emit(name, cadvisor_labels(pod, container), per_row[timeline.row], timeline.stamps)
        for pod, timeline, total in self.pod_totals(totals):
            self.emit(
                name, cadvisor_labels(pod, None), _strings([int(v) for v in total.tolist()]), timeline.stamps
            )

    def resources(self, kind: str) -> None:
        family = f"kube_pod_container_resource_{kind}"
        what = "requested" if kind == "requests" else "limit of"
        _write_family(self.out, family, "gauge", f"The number of {what} resource by a container.")
        for pod, timeline in zip(self.pods, self.timelines, strict=True):
            for container in pod.containers:
                if kind == "requests":
                    cpu, memory = container.cpu_request_cores, container.memory_request_bytes
                else:
                    cpu, memory = container.cpu_limit_cores, container.memory_limit_bytes
                for resource, unit, value in (("cpu", "core", cpu), ("memory", "byte", memory)):
                    if value is None:
                        continue
                    labels = ksm_resource_labels(pod, container, resource, unit)
                    self.emit(family, labels, _number(value), timeline.state_stamps)

    def restarts_and_oom(self) -> None:
        _write_family(
            self.out,
            "kube_pod_container_status_restarts",
            "counter",
            "The number of container restarts per container.",
        )
        for _, pod, timeline, container, usage in self.containers():
            kills = _oom_kills(usage, timeline)
            values: str | ObjectArray = _strings(kills.tolist()) if kills[-1:].any() else "0"
            self.emit(
                "kube_pod_container_status_restarts_total",
                ksm_container_labels(pod, container),
                values,
                timeline.stamps,
            )
        _write_family(
            self.out,
            "kube_pod_container_status_last_terminated_reason",
            "gauge",
            "Describes the last reason the container was in terminated state.",
        )
        for _, pod, timeline, container, usage in self.containers():
            killed = _oom_kills(usage, timeline) > 0
            labels = [*ksm_container_labels(pod, container), ("reason", "OOMKilled")]
            self.emit(
                "kube_pod_container_status_last_terminated_reason",
                labels,
                "1",
                timeline.stamps[killed & timeline.state],
            )

    def pod_owners(self) -> None:
        _write_family(self.out, "kube_pod_owner", "gauge", "Information about the Pod's owner.")
        for pod, timeline in zip(self.pods, self.timelines, strict=True):
            labels = ksm_pod_owner_labels(pod, "ReplicaSet", pod.replicaset, "true")
            self.emit("kube_pod_owner", labels, "1", timeline.state_stamps)

    def replicaset_owners(self) -> None:
        _write_family(self.out, "kube_replicaset_owner", "gauge", "Information about the ReplicaSet's owner.")
        for namespace, replicaset, deployment in sorted(
            {(p.namespace, p.replicaset, p.deployment) for p in self.pods}
        ):
            labels = ksm_replicaset_owner_labels(namespace, replicaset, "Deployment", deployment, "true")
            self.emit("kube_replicaset_owner", labels, "1", self.window.state_stamps)

    def pod_info(self) -> None:
        _write_family(self.out, "kube_pod_info", "gauge", "Information about pod.")
        for pod, timeline in zip(self.pods, self.timelines, strict=True):
            labels = ksm_pod_info_labels(pod, "ReplicaSet", pod.replicaset)
            self.emit("kube_pod_info", labels, "1", timeline.state_stamps)

    def node_labels(self, nodes: Sequence[Node]) -> None:
        _write_family(
            self.out, "kube_node_labels", "gauge", "Kubernetes labels converted to Prometheus labels."
        )
        for node in sorted(nodes, key=lambda n: n.name):
            self.emit("kube_node_labels", ksm_node_labels(node), "1", self.window.state_stamps)


def _floats(values: FloatArray) -> ObjectArray:
    # Microsecond rounding keeps lines short; cAdvisor itself reports whole nanoseconds.
    return _strings([repr(v) for v in np.round(values, 6).tolist()])


def write_openmetrics(
    path: Path,
    pods: Sequence[Pod],
    nodes: Sequence[Node],
    trace: Trace,
    *,
    peak: Callable[[Pod, Container], Peak] = peak_from_requests,
    history_seconds: float = DEFAULT_HISTORY_SECONDS,
    scrape_interval_seconds: float = 60.0,
    state_interval_seconds: float | None = None,
    now: float | None = None,
    end_margin_seconds: float = 120.0,
    pod_offset_span_seconds: float = 3600.0,
    pod_cgroup_series: bool = False,
) -> SeriesSummary:
    """Write the cluster's cAdvisor and kube-state-metrics series, replaying ``trace``, to ``path``.

    ``peak`` gives each container's usage at trace value 1.0 (default: its requests). The window
    ends ``end_margin_seconds`` before ``now`` (default: the current time), aligned to the scrape
    interval, and spans ``history_seconds`` or, if the trace holds less (after reserving
    ``pod_offset_span_seconds`` for per-replica offsets), all of the trace. ``pod_cgroup_series``
    adds cAdvisor's pod-level cgroup series (``container=""``), which real clusters expose and
    which double every sum that does not filter them out; they cost as much again in file size.

    The constant kube-state-metrics series (requests, limits, owners, pod info, node labels) are
    written every ``state_interval_seconds`` (default: the scrape interval). Up to 240 s keeps
    every query within Prometheus' 5-minute lookback and makes the file about half as large; the
    restart counter stays at the scrape interval, since ``increase()`` needs two samples a window.
    """
    if scrape_interval_seconds <= 0 or history_seconds <= 0:
        raise ValueError("scrape interval and history must be positive")
    state_interval = scrape_interval_seconds if state_interval_seconds is None else state_interval_seconds
    state_every = round(state_interval / scrape_interval_seconds)
    if state_every < 1 or not math.isclose(state_every * scrape_interval_seconds, state_interval):
        raise ValueError("state_interval_seconds must be a whole multiple of scrape_interval_seconds")
    window = _window(
        trace,
        history_seconds,
        scrape_interval_seconds,
        state_every,
        time.time() if now is None else now,
        end_margin_seconds,
        pod_offset_span_seconds,
    )
    holds = _holds(trace)
    cache: dict[float, _Timeline] = {}
    timelines = []
    for start in _trace_starts(pods, trace, window, pod_offset_span_seconds):
        if start not in cache:
            cache[start] = _timeline(trace, holds, window, start)
        timelines.append(cache[start])
    with path.open("w", encoding="utf-8", newline="\n", buffering=1 << 20) as out:
        writer = _Writer(out, trace, holds, window, peak, pods, timelines)
        writer.cpu(pod_cgroup_series)
        writer.memory(pod_cgroup_series)
        writer.resources("requests")
        writer.resources("limits")
        writer.restarts_and_oom()
        writer.pod_owners()
        writer.replicaset_owners()
        writer.pod_info()
        writer.node_labels(nodes)
        out.write("# EOF\n")
    return SeriesSummary(
        start=float(window.times[0]),
        end=float(window.times[-1]),
        samples_per_series=len(window.times),
        series=writer.series,
        samples=writer.samples,
        window_seconds=window.trace_span,
        shortened=window.shortened,
    )
