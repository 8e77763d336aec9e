"""Spend samples from OpenCost's own metrics, for clusters where OpenCost runs next to Prometheus.

OpenCost exports, per container, what it allocates (max(request, usage) of CPU and memory, GPU
requests) labelled with the node, and per node its hourly prices and whether it is spot. Reading
those keeps Thrifty's numbers equal to OpenCost's, cloud billing prices included. Eight range queries
per evaluation for every namespace of the scope at once: three allocations, four node metrics (only
for the nodes that ran the scope's containers) and the pods' owners.

``opencost_available`` tells with one instant query whether to use this or ``thrifty.sources.spend``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

from thrifty.engine.spend_records import NodeLabels, OpenCostSamples
from thrifty.settings import CostMetricNames, PrometheusSettings
from thrifty.sources.prometheus_http import QueryRunner, RawSeries
from thrifty.sources.spend_arrays import (
    FloatArray,
    Points,
    container_key,
    labels_of,
    latest_by,
    nan_array,
    newest,
    owners_of,
    row_index,
    sorted_index,
    spend_grid,
    spend_step,
    strings,
)
from thrifty.sources.spend_promql import OPENCOST_NODE_LABELS, SpendQueries, opencost_presence
from thrifty.sources.usage import TimeGrid

log = logging.getLogger(__name__)

OPENCOST_QUERIES: Final = 8


def opencost_available(
    runner: QueryRunner, cost_metrics: CostMetricNames | None = None, *, at: float | None = None
) -> bool:
    """Whether OpenCost's container allocations and node prices both have series at ``at`` (default:
    now; Prometheus looks 5 minutes back). One instant query."""
    names = cost_metrics or CostMetricNames()
    answer = runner.instant(
        "opencost_presence", opencost_presence(names), int(time.time() if at is None else at)
    )
    present = {labels_of(series).get("__name__", "") for series in answer}
    return {names.container_cpu_allocation, names.node_cpu_hourly_cost} <= present


def read_opencost_samples(
    runner: QueryRunner,
    settings: PrometheusSettings,
    namespaces: Sequence[str],
    start: float,
    end: float,
    *,
    step_seconds: int | None = None,
) -> OpenCostSamples:
    """OpenCost's samples for ``namespaces`` over ``(start, end]``; grid, step and errors as
    ``read_spend_samples``."""
    scope = tuple(sorted(set(namespaces)))
    step = spend_step(start, end, settings.scrape_interval_seconds, step_seconds)
    grid = spend_grid(start, end, step)
    if not scope or grid is None:
        why = "no namespace in scope" if not scope else f"the period is shorter than one {step} s step"
        return _empty(scope, step, why)
    c = settings.cost_metrics
    queries = SpendQueries(settings.metrics, c, scope, step, settings.scrape_interval_seconds)

    def ask(metric: str, query: str) -> list[RawSeries]:
        return runner.range(metric, query, grid.start, grid.end, grid.step)

    sent_before = runner.sent
    allocations = {
        field: ask(field, queries.allocation(getattr(c, field)))
        for field in ("container_cpu_allocation", "container_memory_allocation", "container_gpu_allocation")
    }
    prices = {
        field: ask(field, queries.node_price(getattr(c, field)))
        for field in ("node_cpu_hourly_cost", "node_ram_hourly_cost", "node_gpu_hourly_cost", "node_is_spot")
    }
    owners = ask("pod_owner", queries.owners())

    index = sorted_index(container_key(s) for answer in allocations.values() for s in answer)
    rows = list(index)
    node_names = {labels_of(s).get("node", "") for a in (*allocations.values(), *prices.values()) for s in a}
    node_of = sorted_index(node_names - {""})
    container_arrays: dict[str, FloatArray] = {}
    node_index = np.full((len(rows), grid.points), -1, dtype=np.int64)
    points: list[Points] = []
    # Reversed: where the allocations disagree on a container's node, CPU's (written last) wins.
    for field, answer in reversed(allocations.items()):
        answer_points = Points.of(answer, grid)
        points.append(answer_points)
        container_rows = row_index(answer, container_key, index)
        container_arrays[field] = nan_array(len(rows), grid)
        answer_points.fill(container_arrays[field], container_rows)
        on_node = _node_positions(answer, node_of)
        answer_points.fill(node_index, np.where(on_node >= 0, container_rows, -1), on_node)
    node_arrays = {field: _per_node(answer, grid, node_of) for field, answer in prices.items()}
    owner_kind, owner_name = owners_of(grid, owners, rows)
    samples = OpenCostSamples(
        namespaces=scope,
        times=grid.times(),
        step_seconds=step,
        namespace=strings([r[0] for r in rows]),
        pod=strings([r[1] for r in rows]),
        container=strings([r[2] for r in rows]),
        owner_kind=owner_kind,
        owner_name=owner_name,
        cpu_allocation_cores=container_arrays["container_cpu_allocation"],
        memory_allocation_bytes=container_arrays["container_memory_allocation"],
        gpu_allocation=container_arrays["container_gpu_allocation"],
        node_index=node_index,
        nodes=_nodes(node_of, grid, prices),
        node_cpu_hourly_cost=node_arrays["node_cpu_hourly_cost"],
        node_ram_hourly_cost=node_arrays["node_ram_hourly_cost"],
        node_gpu_hourly_cost=node_arrays["node_gpu_hourly_cost"],
        node_is_spot=node_arrays["node_is_spot"],
        data_as_of=newest(*points),
        notes=_notes(settings, scope, allocations, prices, owners),
        queries=runner.sent - sent_before,
    )
    log.debug(
        "OpenCost spend of %d namespace(s): %d queries, %d containers, %d nodes, %d points",
        len(scope),
        samples.queries,
        samples.containers,
        len(samples.nodes),
        grid.points,
    )
    return samples


def _node_positions(answer: Sequence[RawSeries], node_of: dict[str, int]) -> npt.NDArray[np.intp]:
    return np.fromiter((node_of.get(labels_of(s).get("node", ""), -1) for s in answer), np.intp, len(answer))


def _per_node(answer: Sequence[RawSeries], grid: TimeGrid, node_of: dict[str, int]) -> FloatArray:
    out = nan_array(len(node_of), grid)
    Points.of(answer, grid).fill(out, _node_positions(answer, node_of))
    return out


def _nodes(
    node_of: dict[str, int], grid: TimeGrid, prices: dict[str, list[RawSeries]]
) -> tuple[NodeLabels, ...]:
    """Each node with OpenCost's labels for it, from the latest price series that names it."""
    labelled: dict[str, RawSeries] = {}
    for answer in reversed(prices.values()):  # the CPU price's labels win
        labelled.update(latest_by(answer, Points.of(answer, grid), lambda s: labels_of(s).get("node", "")))
    return tuple(
        NodeLabels(
            name,
            {
                key: value
                for key, value in labels_of(labelled[name]).items()
                if key in OPENCOST_NODE_LABELS and value
            }
            if name in labelled
            else {},
        )
        for name in node_of
    )


def _notes(
    settings: PrometheusSettings,
    scope: tuple[str, ...],
    allocations: dict[str, list[RawSeries]],
    prices: dict[str, list[RawSeries]],
    owners: list[RawSeries],
) -> tuple[str, ...]:
    """Which metrics had no series; GPU metrics are left out (most clusters have no GPUs)."""
    c, m = settings.cost_metrics, settings.metrics
    where = ", ".join(f'"{name}"' for name in scope)
    empty = [getattr(c, field) for field, answer in (*allocations.items(), *prices.items()) if not answer]
    if not owners:
        empty.append(f"{m.pod_owner} or {m.replicaset_owner}")
    gpu = {c.container_gpu_allocation, c.node_gpu_hourly_cost}
    return tuple(f"no {name} series in namespace(s) {where}" for name in empty if name not in gpu)


def _empty(scope: tuple[str, ...], step: int, why: str) -> OpenCostSamples:
    no_rows = np.empty((0, 0))
    return OpenCostSamples(
        namespaces=scope,
        times=np.empty(0),
        step_seconds=step,
        namespace=strings([]),
        pod=strings([]),
        container=strings([]),
        owner_kind=strings([]),
        owner_name=strings([]),
        cpu_allocation_cores=no_rows,
        memory_allocation_bytes=no_rows,
        gpu_allocation=no_rows,
        node_index=np.empty((0, 0), dtype=np.int64),
        nodes=(),
        node_cpu_hourly_cost=no_rows,
        node_ram_hourly_cost=no_rows,
        node_gpu_hourly_cost=no_rows,
        node_is_spot=no_rows,
        data_as_of=None,
        notes=(f"no spend samples: {why}",),
        queries=0,
    )
