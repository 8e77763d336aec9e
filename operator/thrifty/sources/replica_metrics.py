"""What horizontal scaling reads: each workload's load now, and a policy's own metric.

For every namespace of a round at once, however many workloads or policies they hold: three instant
queries for the load now (CPU and memory per pod, owner-joined, and how many samples the CPU window
holds). A forecast's demand is the usage history summed per workload (``NamespaceUsage.demand``).
A policy's own PromQL metric is the one query per policy: it is the user's query, Thrifty cannot
batch it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from prometheus_api_client.prometheus_connect import PrometheusConnect

from thrifty.api.condition_types import PolicyReason
from thrifty.engine.query_answers import ResultType, judge_query_answer, rejected_query
from thrifty.engine.workload_records import (
    DemandHistory,
    NamespaceLoad,
    QueryAnswer,
    WorkloadLoad,
    WorkloadRef,
)
from thrifty.settings import PrometheusSettings
from thrifty.sources.prometheus_http import QueryRejectedError, QueryRunner, RawSeries
from thrifty.sources.promql import NamespaceQueries, choose_step, namespace_matcher
from thrifty.sources.query_tenancy import namespace_problem
from thrifty.sources.usage import TimeGrid

FloatArray = npt.NDArray[np.float64]


def _live_queries(settings: PrometheusSettings, namespaces: Sequence[str]) -> NamespaceQueries:
    """Windows of a few scrapes, as the HPA's metrics pipeline sees usage: recent, not smoothed away.
    The lookback is the CPU rate window, so pods that left during it still count their CPU."""
    step = max(1, math.ceil(settings.scrape_interval_seconds))
    window = NamespaceQueries(
        settings.metrics, tuple(namespaces), step, settings.scrape_interval_seconds, step
    )
    return replace(window, lookback_seconds=window.cpu_window_seconds)


def read_cluster_load(
    client: PrometheusConnect, settings: PrometheusSettings, namespaces: Sequence[str], at: int
) -> dict[str, NamespaceLoad]:
    """CPU and memory of every workload of ``namespaces`` at ``at``, in three queries for them all;
    raises MetricsUnavailableError. Every namespace asked about has an answer."""
    queries = _live_queries(settings, namespaces)
    runner = QueryRunner(client, settings.timeout_seconds)
    cpu = _per_workload(runner.instant("live_cpu_usage", queries.cpu_usage(pods_of_lookback=True), at))
    memory = _per_workload(runner.instant("live_memory_working_set", queries.memory_working_set(), at))
    samples = {
        _workload_of(s["metric"]): int(float(s["value"][1]))
        for s in runner.instant("live_cpu_samples", queries.cpu_window_samples(), at)
    }
    expected = math.floor(2 * queries.cpu_window_seconds / settings.scrape_interval_seconds)
    loads: dict[str, dict[WorkloadRef, WorkloadLoad]] = {namespace: {} for namespace in namespaces}
    for namespace, ref in set(cpu) | set(memory):
        loads.setdefault(namespace, {})[ref] = WorkloadLoad(
            cpu_cores=cpu.get((namespace, ref), (math.nan, 0))[0],
            cpu_pods=cpu.get((namespace, ref), (math.nan, 0))[1],
            memory_bytes=memory.get((namespace, ref), (math.nan, 0))[0],
            memory_pods=memory.get((namespace, ref), (math.nan, 0))[1],
            cpu_window_samples=samples.get((namespace, ref), 0),
            cpu_window_samples_expected=expected,
        )
    return {
        namespace: NamespaceLoad(namespace, at, workloads, runner.sent)
        for namespace, workloads in loads.items()
    }


def cluster_pod_nodes(
    runner: QueryRunner, settings: PrometheusSettings, namespaces: Sequence[str], at: int
) -> dict[str, dict[str, Mapping[str, str]]]:
    """Per namespace, each pod's node labels (kube-state-metrics' names), in two queries for all."""
    names = settings.cost_metrics
    pod_info = f'{names.pod_info}{{{namespace_matcher(namespaces)}, node!=""}}'
    placed = runner.instant("pod_nodes", f"max by (namespace, pod, node) ({pod_info})", at)
    labelled = runner.instant(
        "node_labels", f"{names.node_labels} and on (node) max by (node) ({pod_info})", at
    )
    labels_of = {item["metric"].get("node", ""): dict(item["metric"]) for item in labelled}
    nodes: dict[str, dict[str, Mapping[str, str]]] = {namespace: {} for namespace in namespaces}
    for item in placed:
        labels = item["metric"]
        pods = nodes.setdefault(labels.get("namespace", ""), {})
        pods[labels.get("pod", "")] = labels_of.get(labels.get("node", ""), {})
    return nodes


def _workload_of(labels: Mapping[str, str]) -> tuple[str, WorkloadRef]:
    return labels.get("namespace", ""), (labels.get("owner_kind", ""), labels.get("owner_name", ""))


def _per_workload(series: Iterable[RawSeries]) -> dict[tuple[str, WorkloadRef], tuple[float, int]]:
    """Sum over pods and containers, and the number of pods, per namespace and workload."""
    totals: dict[tuple[str, WorkloadRef], float] = {}
    pods: dict[tuple[str, WorkloadRef], set[str]] = {}
    for item in series:
        key = _workload_of(item["metric"])
        value = float(item["value"][1])
        if math.isfinite(value):
            totals[key] = totals.get(key, 0.0) + value
            pods.setdefault(key, set()).add(item["metric"].get("pod", ""))
    return {key: (total, len(pods[key])) for key, total in totals.items()}


def read_query_value(
    client: PrometheusConnect, settings: PrometheusSettings, query: str, namespace: str, at: int
) -> QueryAnswer:
    """A policy's PromQL metric now, judged by the engine: one series' value, or why there is none.
    A query that reads outside ``namespace`` is not sent. Raises MetricsUnavailableError when
    Prometheus cannot answer at all."""
    outside = namespace_problem(query, namespace)
    if outside is not None:
        return QueryAnswer(None, PolicyReason.QUERY_OUTSIDE_NAMESPACE, outside)
    runner = QueryRunner(client, settings.timeout_seconds)
    try:
        answer = runner.instant("policy_metric", query, at)
    except QueryRejectedError as err:
        return rejected_query(err.cause.split(": ", 1)[-1])
    return judge_query_answer(*_shape(answer))


def _shape(answer: list[Any]) -> tuple[ResultType, list[float]]:
    """The result type and values of an instant query's ``data.result``: a list of series for a
    vector (or a matrix, whose series carry ``values``), a ``[time, "value"]`` pair otherwise."""
    if answer and not isinstance(answer[0], dict):
        try:
            return "scalar", [float(answer[1])]
        except (IndexError, TypeError, ValueError):
            return "string", []
    if any("values" in series for series in answer):
        return "matrix", []
    return "vector", [float(series["value"][1]) for series in answer]


def read_query_history(
    client: PrometheusConnect,
    settings: PrometheusSettings,
    query: str,
    namespace: str,
    end: int,
    lookback_seconds: int,
) -> DemandHistory:
    """A policy's PromQL metric over the lookback (series summed), for its forecast; no history for
    a query that reads outside ``namespace`` (it is not sent)."""
    step = choose_step(lookback_seconds, settings.scrape_interval_seconds)
    grid = TimeGrid.ending_at(datetime.fromtimestamp(end, UTC), lookback_seconds, step)
    if namespace_problem(query, namespace) is not None:
        return DemandHistory(grid.times(), np.full(grid.points, np.nan), step)
    runner = QueryRunner(client, settings.timeout_seconds)
    answer = runner.range_points("policy_metric_history", query, grid.start, grid.end, step)
    if not answer:
        return DemandHistory(grid.times(), np.full(grid.points, np.nan), step)
    stacked = np.stack([grid.row(item) for item in answer])
    summed = np.where(np.all(np.isnan(stacked), axis=0), np.nan, np.nansum(stacked, axis=0))
    return DemandHistory(grid.times(), summed, step)
