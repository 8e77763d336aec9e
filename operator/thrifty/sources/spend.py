"""Spend samples of a budget's scope from Prometheus history, as numpy arrays on one time grid.

Spend is never accumulated in memory: every evaluation reads the period so far again, so a restart
loses nothing and a budget created mid-month knows the month from its first day. This module
delivers what OpenCost prices, per container and point in time: requests, usage and the node the
pod ran on (allocation = max(request, usage) x that node's hourly rate, summed over the points
times ``step_seconds``). Pricing is the engine's job.

Six range queries per evaluation, each covering every namespace of the scope at once: CPU usage,
memory working set, requests (CPU, memory and GPU in one), pod placement (``kube_pod_info``), pod
owners and the labels of the nodes involved. Where OpenCost runs, ``thrifty.sources.opencost``
reads its own allocations and prices instead.

Size: float64 and int64 (containers, points) arrays. A 31-day month at the 300 s step is 8,928
points, 71 kB per container and array: 2,000 containers take about 0.86 GB over the five arrays
and the node index.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

from thrifty.engine.spend_records import NodeLabels, SpendSamples, ksm_label_name
from thrifty.settings import PrometheusSettings
from thrifty.sources.prometheus_http import QueryRunner, RawSeries
from thrifty.sources.spend_arrays import (
    DEFAULT_NODE_LABEL_KEYS,
    IntArray,
    PodKey,
    Points,
    container_key,
    labels_of,
    latest_by,
    nan_array,
    newest,
    node_records,
    owners_of,
    pod_key,
    row_index,
    sorted_index,
    spend_grid,
    spend_step,
    strings,
)
from thrifty.sources.spend_promql import DEFAULT_GPU_RESOURCE, SpendQueries
from thrifty.sources.usage import TimeGrid

__all__ = [
    "DEFAULT_NODE_LABEL_KEYS",
    "SPEND_QUERIES",
    "NodeLabels",
    "SpendSamples",
    "ksm_label_name",
    "read_spend_samples",
]

log = logging.getLogger(__name__)

SPEND_QUERIES: Final = 6


def read_spend_samples(
    runner: QueryRunner,
    settings: PrometheusSettings,
    namespaces: Sequence[str],
    start: float,
    end: float,
    *,
    step_seconds: int | None = None,
    node_label_keys: Iterable[str] = DEFAULT_NODE_LABEL_KEYS,
    gpu_resource: str = DEFAULT_GPU_RESOURCE,
) -> SpendSamples:
    """The samples of ``namespaces`` over ``(start, end]`` (unix seconds), from six range queries.

    The step is ``choose_step`` of the period at the scrape interval (300 s for a month) unless
    ``step_seconds`` is given. Raises ``MetricsUnavailableError`` when Prometheus cannot answer;
    metrics without series give empty rows and a note, never an error.
    """
    scope = tuple(sorted(set(namespaces)))
    step = spend_step(start, end, settings.scrape_interval_seconds, step_seconds)
    queries = SpendQueries(
        settings.metrics, settings.cost_metrics, scope, step, settings.scrape_interval_seconds, gpu_resource
    )
    grid = spend_grid(start, end, step)
    if not scope or grid is None:
        why = "no namespace in scope" if not scope else f"the period is shorter than one {step} s step"
        return _empty(scope, step, queries.cpu_window_seconds, why)

    def ask(metric: str, query: str) -> list[RawSeries]:
        # Counted apart from right-sizing's reads of the same metrics: thrifty_prometheus_queries_total
        # then tells budgets' queries from policies'.
        return runner.range(f"spend_{metric}", query, grid.start, grid.end, grid.step)

    sent_before = runner.sent
    cpu = ask("cpu_usage", queries.cpu_usage())
    memory = ask("memory_working_set", queries.memory_usage())
    requests = ask("resource_requests", queries.requests())
    placement = ask("pod_info", queries.pod_nodes())
    owners = ask("pod_owner", queries.owners())
    node_labels = ask("node_labels", queries.node_labels())

    index = sorted_index(container_key(s) for s in (*cpu, *memory, *requests))
    rows = list(index)
    cpu_points, memory_points = Points.of(cpu, grid), Points.of(memory, grid)
    arrays = {
        name: nan_array(len(rows), grid) for name in ("cpu", "memory", "gpu", "cpu_usage", "memory_usage")
    }
    cpu_points.fill(arrays["cpu_usage"], row_index(cpu, container_key, index))
    memory_points.fill(arrays["memory_usage"], row_index(memory, container_key, index))
    request_points = Points.of(requests, grid)
    request_rows = row_index(requests, container_key, index)
    for name, resource in (("cpu", "cpu"), ("memory", "memory"), ("gpu", gpu_resource)):
        of_resource = np.array([labels_of(s).get("resource") == resource for s in requests], dtype=bool)
        request_points.fill(arrays[name], np.where(of_resource, request_rows, -1))

    pods = sorted_index((namespace, pod) for namespace, pod, _ in rows)
    pod_of_row = np.fromiter((pods[row[:2]] for row in rows), np.intp, len(rows))
    node_index, nodes = _placement(grid, pods, pod_of_row, placement, node_labels, node_label_keys)
    owner_kind, owner_name = owners_of(grid, owners, rows)
    samples = SpendSamples(
        namespaces=scope,
        times=grid.times(),
        step_seconds=step,
        cpu_window_seconds=queries.cpu_window_seconds,
        namespace=strings([r[0] for r in rows]),
        pod=strings([r[1] for r in rows]),
        container=strings([r[2] for r in rows]),
        owner_kind=owner_kind,
        owner_name=owner_name,
        cpu_request_cores=arrays["cpu"],
        cpu_usage_cores=arrays["cpu_usage"],
        memory_request_bytes=arrays["memory"],
        memory_usage_bytes=arrays["memory_usage"],
        gpu_request=arrays["gpu"],
        node_index=node_index,
        nodes=nodes,
        data_as_of=newest(cpu_points, memory_points, request_points),
        notes=_notes(settings, scope, cpu, memory, requests, placement, owners, node_labels),
        queries=runner.sent - sent_before,
    )
    log.debug(
        "spend of %d namespace(s): %d queries, %d containers, %d nodes, %d points",
        len(scope),
        samples.queries,
        samples.containers,
        len(nodes),
        grid.points,
    )
    return samples


def _placement(
    grid: TimeGrid,
    pods: Mapping[PodKey, int],
    pod_of_row: npt.NDArray[np.intp],
    placement: list[RawSeries],
    node_labels: list[RawSeries],
    label_keys: Iterable[str],
) -> tuple[IntArray, tuple[NodeLabels, ...]]:
    """Each container's node at each point (through its pod), and the nodes' labels."""
    names = {labels_of(s).get("node", "") for s in (*placement, *node_labels)} - {""}
    node_of = sorted_index(names)
    pod_node = np.full((len(pods), grid.points), -1, dtype=np.int64)
    node_of_series = np.fromiter(
        (node_of.get(labels_of(s).get("node", ""), -1) for s in placement), np.int64, len(placement)
    )
    pod_rows = row_index(placement, pod_key, pods)
    Points.of(placement, grid).fill(pod_node, np.where(node_of_series >= 0, pod_rows, -1), node_of_series)
    latest = latest_by(node_labels, Points.of(node_labels, grid), lambda s: labels_of(s).get("node", ""))
    return pod_node[pod_of_row], node_records(node_of, latest, label_keys)


def _notes(
    settings: PrometheusSettings,
    scope: tuple[str, ...],
    cpu: list[RawSeries],
    memory: list[RawSeries],
    requests: list[RawSeries],
    placement: list[RawSeries],
    owners: list[RawSeries],
    node_labels: list[RawSeries],
) -> tuple[str, ...]:
    m, c = settings.metrics, settings.cost_metrics
    where = ", ".join(f'"{name}"' for name in scope)
    empty = [
        name
        for name, answer in (
            (m.cpu_usage, cpu),
            (m.memory_working_set, memory),
            (m.resource_requests, requests),
            (c.pod_info, placement),
            (f"{m.pod_owner} or {m.replicaset_owner}", owners),
        )
        if not answer
    ]
    notes = [f"no {name} series in namespace(s) {where}" for name in empty]
    if placement and not any(name.startswith("label_") for s in node_labels for name in labels_of(s)):
        notes.append(
            f"no node labels in {c.node_labels} for the scope's nodes "
            "(kube-state-metrics exports them with --metric-labels-allowlist=nodes=[...])"
        )
    return tuple(notes)


def _empty(scope: tuple[str, ...], step: int, cpu_window: int, why: str) -> SpendSamples:
    no_rows = np.empty((0, 0))
    return SpendSamples(
        namespaces=scope,
        times=np.empty(0),
        step_seconds=step,
        cpu_window_seconds=cpu_window,
        namespace=strings([]),
        pod=strings([]),
        container=strings([]),
        owner_kind=strings([]),
        owner_name=strings([]),
        cpu_request_cores=no_rows,
        cpu_usage_cores=no_rows,
        memory_request_bytes=no_rows,
        memory_usage_bytes=no_rows,
        gpu_request=no_rows,
        node_index=np.empty((0, 0), dtype=np.int64),
        nodes=(),
        data_as_of=None,
        notes=(f"no spend samples: {why}",),
        queries=0,
    )
