"""Usage history of namespaces' workloads from Prometheus, as numpy arrays on one time grid.

One evaluation sends five queries for every namespace at once, however many workloads or policies
they hold: CPU and memory (range queries), requests and limits (instant, at the grid's end) and OOM
kills (instant, over the part of the lookback the range queries cover). A sixth, cheap one runs
only when usage comes back empty, to say which metric is missing. Workloads are picked out of the
answers here, so asking about 1 or 50 workloads sends the same queries.

Samples stay per pod: each container gets a (lanes, time) array, a pod's samples in one lane and
pods that never ran at the same time sharing one, NaN where no pod had a sample. Pooling every
pod's samples is what krr does for its percentiles, and it keeps a replica that runs hot visible
where a sum or mean would hide it. The cost is the size of the answer: one series per pod and
container ever seen in the lookback, each with up to 11,000 points (14 days at a 120 s step: 10,081
points, about 0.3 MB of JSON and 80 kB as float64 per series).
So range answers are parsed as they stream in (``QueryRunner.range_points``), and the operator reads
the whole lookback only now and then, and otherwise what is new since its last read (``kept_usage``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final, TypeVar

import numpy as np
import numpy.typing as npt
from prometheus_api_client.prometheus_connect import PrometheusConnect

from thrifty.engine.workload_records import ContainerHistory, NamespaceUsage, WorkloadRef
from thrifty.settings import PrometheusSettings
from thrifty.sources.prometheus_http import MetricsUnavailableError, QueryRunner, RawSeries, SeriesPoints
from thrifty.sources.promql import NamespaceQueries, choose_step

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
ContainerKey = tuple[str, str, str]  # (kind, workload name, container)
S = TypeVar("S")

# Queries of one usage batch, however many namespaces it covers (a sixth names missing metrics).
USAGE_QUERIES: Final = 5
# How the failures of the queries whose cost grows with the span read begin
# (``MetricsUnavailableError.cause``): reading a shorter span makes them cheaper.
SPAN_QUERIES: Final = ("cpu_usage query", "memory_working_set query", "oom_kills query")


@dataclass(frozen=True)
class TimeGrid:
    """Query points ``start, start + step, ..., end``; ``end`` is a multiple of ``step`` so successive
    evaluations share points (and Prometheus' results stay comparable between them)."""

    start: int
    end: int
    step: int

    @classmethod
    def ending_at(cls, end: datetime, lookback_seconds: float, step: int) -> TimeGrid:
        last = int(end.timestamp()) // step * step
        return cls(start=last - int(lookback_seconds // step) * step, end=last, step=step)

    @property
    def points(self) -> int:
        return (self.end - self.start) // self.step + 1

    def times(self) -> FloatArray:
        return self.start + self.step * np.arange(self.points, dtype=np.float64)

    def row(self, series: SeriesPoints) -> FloatArray:
        """A range answer's series on the grid, NaN where it has no point."""
        row = np.full(self.points, np.nan)
        index, values = self.sparse(series.stamps, series.values)
        row[index] = values
        return row

    def sparse(self, stamps: FloatArray, values: FloatArray) -> tuple[npt.NDArray[np.intp], FloatArray]:
        """Points at ``stamps`` as grid indices and values (the points inside the grid)."""
        index = np.rint((stamps - self.start) / self.step).astype(np.intp)
        inside = (index >= 0) & (index < self.points)
        return index[inside], values[inside]


def read_namespace_usage(
    client: PrometheusConnect,
    settings: PrometheusSettings,
    namespace: str,
    workloads: Set[WorkloadRef] | None,
    end: datetime,
    lookback: timedelta | None = None,
) -> NamespaceUsage:
    """Usage, current resources and OOM kills of ``namespace``'s Deployments and StatefulSets.

    ``workloads`` narrows the answer to those (kind, name) pairs (None: all); it never changes the
    queries. Raises ``MetricsUnavailableError`` when Prometheus cannot answer; series that do not
    exist give an empty answer with a note instead.
    """
    usage = read_cluster_usage(client, settings, (namespace,), end, lookback)[namespace]
    if workloads is None:
        return usage
    wanted = frozenset(workloads)
    containers = tuple(c for c in usage.containers if (c.kind, c.workload) in wanted)
    found = {(c.kind, c.workload) for c in containers}
    return replace(usage, containers=containers, missing_workloads=wanted - found)


def read_cluster_usage(
    client: PrometheusConnect,
    settings: PrometheusSettings,
    namespaces: Sequence[str],
    end: datetime,
    lookback: timedelta | None = None,
    since: float | None = None,
    until: float | None = None,
) -> dict[str, NamespaceUsage]:
    """``read_namespace_usage`` for every namespace of ``namespaces`` in the same five queries (a
    sixth when usage comes back empty somewhere). Every namespace asked about has an answer.

    ``since`` and ``until``: the range queries and the OOM kills cover only that part of the grid
    (what is new since an earlier read, or a part of the lookback). The grid is the same either way,
    and the requests and limits are those at its end."""
    lookback_seconds = (lookback or settings.lookback).total_seconds()
    step = choose_step(lookback_seconds, settings.scrape_interval_seconds)
    grid = TimeGrid.ending_at(end, lookback_seconds, step)
    start = grid.start if since is None else min(grid.end, max(grid.start, int(since) // step * step))
    stop = grid.end if until is None else min(grid.end, max(start, int(until) // step * step))
    # OOM kills from ``start`` to ``stop`` (a kept history has those before). A second more than the
    # span, so that its first step is in the subquery whatever Prometheus' version does at the edge.
    oom_window = min(int(lookback_seconds) // step * step, stop - start) + 1
    queries = NamespaceQueries(
        settings.metrics, tuple(namespaces), step, settings.scrape_interval_seconds, int(lookback_seconds)
    )
    runner = QueryRunner(client, settings.timeout_seconds)
    scope = f"usage of namespaces {', '.join(namespaces)}"
    try:
        ranges = {
            "cpu": runner.range_points("cpu_usage", queries.cpu_usage(), start, stop, grid.step),
            "memory": runner.range_points(
                "memory_working_set", queries.memory_working_set(), start, stop, grid.step
            ),
        }
        instants = {
            "requests": runner.instant(
                "resource_requests", queries.resources(settings.metrics.resource_requests), grid.end
            ),
            "limits": runner.instant(
                "resource_limits", queries.resources(settings.metrics.resource_limits), grid.end
            ),
            "oom": runner.instant(
                "oom_kills", replace(queries, lookback_seconds=oom_window).oom_kills(), stop
            ),
        }
        sampled = {name: _by_namespace(answer, lambda s: s.labels) for name, answer in ranges.items()}
        split = {name: _by_namespace(answer, lambda s: s["metric"]) for name, answer in instants.items()}
        empty = [ns for ns in namespaces if not sampled["cpu"].get(ns) or not sampled["memory"].get(ns)]
        present: dict[str, set[str]] = {}
        if empty:
            for series in runner.instant("presence", queries.present_metrics(), grid.end):
                labels = series["metric"]
                present.setdefault(labels.get("namespace", ""), set()).add(labels.get("__name__", ""))
    except MetricsUnavailableError as error:
        # Logged like a batch that succeeded, so every query on /metrics belongs to a logged batch.
        log.info("%s: %d Prometheus queries, then failed: %s", scope, runner.sent, error.cause)
        raise
    times = grid.times()  # one grid for every namespace: shared, never written to
    usages = {}
    for namespace in namespaces:
        of = {name: by_namespace.get(namespace, []) for name, by_namespace in split.items()}
        cpu, memory = sampled["cpu"].get(namespace, []), sampled["memory"].get(namespace, [])
        notes = (
            _missing_notes(
                namespace, settings, present.get(namespace, set()), cpu_empty=not cpu, memory_empty=not memory
            )
            if namespace in empty
            else []
        )  # fmt: skip
        containers = _containers(grid, cpu, memory, of["requests"], of["limits"], of["oom"])
        firsts = [c.first_time for c in containers if c.first_time is not None]
        usages[namespace] = NamespaceUsage(
            namespace=namespace,
            times=times,
            step_seconds=step,
            cpu_window_seconds=queries.cpu_window_seconds,
            containers=containers,
            missing_workloads=frozenset(),
            queries=runner.sent,
            notes=tuple(notes),
            first_sample=min(firsts, default=None),
        )
    log.debug("%s: %d Prometheus queries, %d points per series", scope, runner.sent, grid.points)
    return usages


def _by_namespace(series: Iterable[S], labels: Callable[[S], Mapping[str, str]]) -> dict[str, list[S]]:
    split: dict[str, list[S]] = {}
    for item in series:
        split.setdefault(labels(item).get("namespace", ""), []).append(item)
    return split


def _key(labels: Mapping[str, str]) -> ContainerKey:
    return labels.get("owner_kind", ""), labels.get("owner_name", ""), labels.get("container", "")


SparseRow = tuple[npt.NDArray[np.intp], FloatArray]  # grid indices with a sample, and the samples


def _per_pod(series: Iterable[SeriesPoints], grid: TimeGrid) -> dict[ContainerKey, dict[str, SparseRow]]:
    """Range answers per container and pod, as the grid points Prometheus returned a value for."""
    rows: dict[ContainerKey, dict[str, SparseRow]] = {}
    for item in series:
        rows.setdefault(_key(item.labels), {})[item.labels.get("pod", "")] = grid.sparse(
            item.stamps, item.values
        )
    return rows


def _instant(series: Iterable[RawSeries]) -> dict[tuple[ContainerKey, str], float]:
    """Instant answers keyed by container and ``resource`` label ("" when there is none)."""
    return {(_key(s["metric"]), s["metric"].get("resource", "")): float(s["value"][1]) for s in series}


def _containers(
    grid: TimeGrid,
    cpu: list[SeriesPoints],
    memory: list[SeriesPoints],
    requests: list[RawSeries],
    limits: list[RawSeries],
    oom: list[RawSeries],
) -> tuple[ContainerHistory, ...]:
    cpu_rows = _per_pod(cpu, grid)
    memory_rows = _per_pod(memory, grid)
    requested = _instant(requests)
    limited = _instant(limits)
    killed = {key: value for (key, _), value in _instant(oom).items() if value > 0}
    keys = (
        set(cpu_rows)
        | set(memory_rows)
        | {key for key, _ in requested}
        | {key for key, _ in limited}
        | set(killed)
    )
    histories = []
    for key in sorted(keys):
        lanes = _in_lanes(cpu_rows.get(key, {}), memory_rows.get(key, {}))
        histories.append(
            ContainerHistory(
                kind=key[0],
                workload=key[1],
                container=key[2],
                pods=lanes.pods,
                cpu_cores=lanes.cpu,
                memory_bytes=lanes.memory,
                cpu_request=requested.get((key, "cpu")),
                cpu_limit=limited.get((key, "cpu")),
                memory_request=requested.get((key, "memory")),
                memory_limit=limited.get((key, "memory")),
                oom_killed=key in killed,
                last_oom_kill=killed.get(key),
                first_time=None if lanes.first is None else float(grid.start + lanes.first * grid.step),
                pod_last_times=tuple(float(grid.start + last * grid.step) for last in lanes.last),
            )
        )
    return tuple(histories)


@dataclass(frozen=True)
class _Lanes:
    pods: tuple[str, ...]  # the pods with a sample, sorted
    last: tuple[int, ...]  # each one's last sampled grid index
    first: int | None  # the grid index of the first column
    cpu: FloatArray  # (lanes, time)
    memory: FloatArray


def _in_lanes(cpu: Mapping[str, SparseRow], memory: Mapping[str, SparseRow]) -> _Lanes:
    """A container's samples as (lanes, time) arrays from its first sample to its last, NaN where
    none: each pod's samples sit in one row, and pods that never ran at the same time share one.

    A container a few hours old on a 14-day grid holds hours of columns, not days of NaN; and a
    workload whose pods are replaced (rollouts, scaling) holds as many rows as pods ran at once, not
    one per pod it ever had, each as wide as its whole history. Right-sizing pools the rows and
    sums them per step, so which row a sample is in does not matter."""
    spans = {}
    for pod in sorted(set(cpu) | set(memory)):
        index = np.concatenate([rows[pod][0] for rows in (cpu, memory) if pod in rows])
        if len(index):
            spans[pod] = (int(index.min()), int(index.max()))
    if not spans:
        return _Lanes((), (), None, np.empty((0, 0)), np.empty((0, 0)))
    first = min(lo for lo, _ in spans.values())
    width = max(hi for _, hi in spans.values()) + 1 - first
    lane_ends: list[int] = []  # the last index of each lane's latest pod
    lane_of = {}
    for pod, (lo, hi) in sorted(spans.items(), key=lambda item: (item[1][0], item[0])):
        free = next((lane for lane, end in enumerate(lane_ends) if end < lo), None)
        if free is None:
            free = len(lane_ends)
            lane_ends.append(hi)
        lane_ends[free] = hi
        lane_of[pod] = free
    arrays = []
    for rows in (cpu, memory):
        array = np.full((len(lane_ends), width), np.nan)
        for pod, lane in lane_of.items():
            if pod in rows:
                index, values = rows[pod]
                array[lane, index - first] = values
        arrays.append(array)
    pods = tuple(sorted(spans))
    return _Lanes(pods, tuple(spans[pod][1] for pod in pods), first, arrays[0], arrays[1])


def _missing_notes(
    namespace: str, settings: PrometheusSettings, present: set[str], *, cpu_empty: bool, memory_empty: bool
) -> list[str]:
    m = settings.metrics
    needed = [m.pod_owner, m.replicaset_owner]
    if cpu_empty:
        needed.insert(0, m.cpu_usage)
    if memory_empty:
        needed.insert(0, m.memory_working_set)
    missing = [name for name in needed if name not in present]
    if missing:
        return [f'no {name} series for namespace "{namespace}"' for name in missing]
    what = " and ".join(name for name, empty in (("CPU", cpu_empty), ("memory", memory_empty)) if empty)
    return [
        f'{what} series exist in namespace "{namespace}" but none belongs to a Deployment or StatefulSet '
        f"through {m.pod_owner} and {m.replicaset_owner}"
    ]
