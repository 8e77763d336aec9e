"""A budget's spend priced from its samples: OpenCost's model on requests and usage at each node's
rates, or OpenCost's own allocations at its own node prices, and when such numbers count as stale.

One read covers the period so far and the week before it (for the forecast's daily profile and the
anomaly check's previous days), at a step that keeps a month and the week before it to about 3,800
points per container.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from thrifty.engine.cost import PriceBook, rates_for_node, spend_at_node_prices, spend_on_nodes
from thrifty.engine.spend_records import OpenCostSamples, SpendSamples
from thrifty.engine.workload_records import WorkloadKey

__all__ = [
    "HISTORY_BEFORE_PERIOD_SECONDS",
    "STALE_AFTER_SECONDS",
    "BudgetSpend",
    "budget_step_seconds",
    "price",
    "price_opencost",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
HISTORY_BEFORE_PERIOD_SECONDS = 8 * 86_400.0
RECENT_SECONDS = 3600.0  # what "costs per hour now" looks at, for ScaleDown's order
STALE_AFTER_SECONDS = 600.0


@dataclass(frozen=True, eq=False)
class BudgetSpend:
    times: FloatArray  # end of each step
    step_spend: FloatArray  # money spent in the step ending at each time
    step_seconds: int
    hourly_by_workload: dict[WorkloadKey, float]  # over the last hour, for ScaleDown's order
    data_as_of: float | None
    containers: int
    queries: int
    notes: tuple[str, ...]
    source: str  # which model priced it, for logs and status

    def spent_between(self, start: float, end: float) -> float:
        inside = (self.times > start) & (self.times <= end)
        return float(np.nansum(self.step_spend[inside]))

    def latest_hourly_rate(self) -> float | None:
        """Spend per hour in the newest step the scope was seen in: what it costs now, at the rates of
        the nodes its pods ran on then. None before any step was seen."""
        known = np.flatnonzero(~np.isnan(self.step_spend))
        if not len(known):
            return None
        return float(self.step_spend[known[-1]]) * 3600.0 / self.step_seconds

    def stale_at(self, now: float) -> bool:
        """Whether the newest cost sample is too old to act on. No sample at all is a scope without
        containers (spend 0), not stale data; the newest grid point lags ``now`` by up to a step, so
        staleness is judged past two steps of it."""
        if self.data_as_of is None:
            return False
        return now - self.data_as_of > STALE_AFTER_SECONDS + 2 * self.step_seconds


def budget_step_seconds(span_seconds: float) -> int:
    """The spend grid's step for a read spanning ``span_seconds``: coarser for longer periods."""
    if span_seconds <= 2 * 86_400:
        return 300
    if span_seconds <= 10 * 86_400:
        return 600
    return 900


def _rows(samples: SpendSamples | OpenCostSamples, in_scope: Callable[[str, str, str], bool]) -> BoolArray:
    return np.array(
        [
            in_scope(str(ns), str(kind), str(name))
            for ns, kind, name in zip(samples.namespace, samples.owner_kind, samples.owner_name, strict=True)
        ],
        dtype=bool,
    )


def price(samples: SpendSamples, book: PriceBook, in_scope: Callable[[str, str, str], bool]) -> BudgetSpend:
    """Each container-step at max(request, usage) x the rates of the node it ran on (OpenCost's model)."""
    rows = _rows(samples, in_scope)
    nodes = [rates_for_node(node.labels, None, book) for node in samples.nodes]
    unknown = rates_for_node({}, None, book)

    def priced(columns: slice) -> tuple[FloatArray, FloatArray]:
        breakdown = spend_on_nodes(
            samples.cpu_request_cores[rows, columns],
            samples.cpu_usage_cores[rows, columns],
            samples.memory_request_bytes[rows, columns],
            samples.memory_usage_bytes[rows, columns],
            np.nan_to_num(samples.gpu_request[rows, columns], nan=0.0),
            samples.node_index[rows, columns],
            nodes,
            unknown,
            samples.step_seconds,
        )
        return breakdown.per_step, breakdown.per_container

    seen = ~np.all(
        np.isnan(samples.cpu_request_cores[rows]) & np.isnan(samples.cpu_usage_cores[rows]), axis=0
    )
    return _assemble(samples, rows, priced, seen, "requests and usage at the CostPolicy's prices")


def price_opencost(
    samples: OpenCostSamples, book: PriceBook, in_scope: Callable[[str, str, str], bool]
) -> BudgetSpend:
    """OpenCost's own allocations at its own node prices; a node it has no price for pays the book's
    default on-demand rates."""
    rows = _rows(samples, in_scope)
    fallback = rates_for_node({}, None, book)

    def priced(columns: slice) -> tuple[FloatArray, FloatArray]:
        breakdown = spend_at_node_prices(
            samples.cpu_allocation_cores[rows, columns],
            samples.memory_allocation_bytes[rows, columns],
            samples.gpu_allocation[rows, columns],
            samples.node_index[rows, columns],
            samples.node_cpu_hourly_cost[:, columns],
            samples.node_ram_hourly_cost[:, columns],
            samples.node_gpu_hourly_cost[:, columns],
            fallback,
            samples.step_seconds,
        )
        return breakdown.per_step, breakdown.per_container

    seen = ~np.all(np.isnan(samples.cpu_allocation_cores[rows]), axis=0)
    return _assemble(samples, rows, priced, seen, "OpenCost's allocation and node costs")


def _assemble(
    samples: SpendSamples | OpenCostSamples,
    rows: BoolArray,
    priced: Callable[[slice], tuple[FloatArray, FloatArray]],
    seen: BoolArray,
    source: str,
) -> BudgetSpend:
    steps = len(samples.times)
    per_step, _ = priced(slice(0, steps))
    # A step where no container of the scope was seen is unknown, not free: the forecast's profile and
    # the anomaly check must not learn "zero spend" from the days before the scope existed.
    per_step = np.where(seen, per_step, np.nan)
    recent_steps = max(1, round(RECENT_SECONDS / samples.step_seconds)) if steps else 0
    _, recent = priced(slice(max(0, steps - recent_steps), steps))
    hours = recent_steps * samples.step_seconds / 3600.0
    hourly: dict[WorkloadKey, float] = {}
    keys = zip(samples.namespace[rows], samples.owner_kind[rows], samples.owner_name[rows], strict=True)
    for (ns, kind, name), cost in zip(keys, recent.tolist(), strict=True):
        key = (str(ns), str(kind), str(name))
        hourly[key] = hourly.get(key, 0.0) + (cost / hours if hours else 0.0)
    return BudgetSpend(
        times=samples.times,
        step_spend=per_step,
        step_seconds=samples.step_seconds,
        hourly_by_workload=hourly,
        data_as_of=samples.data_as_of,
        containers=int(np.count_nonzero(rows)),
        queries=samples.queries,
        notes=samples.notes,
        source=source,
    )
