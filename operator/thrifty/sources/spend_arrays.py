"""Range answers -> (rows, points) numpy arrays, for the spend sources.

An answer holds one series per label set, each a list of ``[time, "value"]`` points. Each answer is
flattened once into three arrays (series, grid column, value) and written with one fancy-index
assignment, so building a (containers, points) array costs one float conversion per point and no
Python work per point beyond it. Rows are looked up once per series, never per point.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import Any, Final, TypeVar

import numpy as np
import numpy.typing as npt

from thrifty.engine.spend_records import NodeLabels, ksm_label_name
from thrifty.sources.prometheus_http import RawSeries
from thrifty.sources.promql import choose_step
from thrifty.sources.usage import TimeGrid

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
StrArray = npt.NDArray[np.str_]
ContainerKey = tuple[str, str, str]  # (namespace, pod, container)
PodKey = tuple[str, str]  # (namespace, pod)

K = TypeVar("K", str, PodKey, ContainerKey)

_first = itemgetter(0)
_second = itemgetter(1)


def spend_step(start: float, end: float, scrape_interval_seconds: float, step_seconds: int | None) -> int:
    """``step_seconds`` if given, else the smallest clean step that keeps the period in one range query
    (at least the scrape interval; 300 s for a 31-day month at a 60 s scrape interval)."""
    if step_seconds is not None:
        if step_seconds <= 0:
            raise ValueError(f"step_seconds must be positive, got {step_seconds}")
        return step_seconds
    return choose_step(max(end - start, 1.0), scrape_interval_seconds)


def spend_grid(start: float, end: float, step: int) -> TimeGrid | None:
    """Points ``start + step, start + 2 step, ...`` up to ``end``: each stands for the step that ends at
    it, so together they cover ``(start, last point]`` once. None when not even one step fits."""
    first = math.ceil(start) + step
    last_end = math.floor(end)
    if last_end < first:
        return None
    return TimeGrid(start=first, end=first + (last_end - first) // step * step, step=step)


@dataclass(frozen=True)
class Points:
    """One range answer, flattened: each point's series (index into the answer), column and value."""

    series: npt.NDArray[np.intp]
    column: npt.NDArray[np.intp]
    values: FloatArray
    newest: float | None  # the latest time any series has a point at

    @classmethod
    def of(cls, answer: Sequence[RawSeries], grid: TimeGrid) -> Points:
        lengths = np.fromiter((len(s["values"]) for s in answer), np.intp, len(answer))
        flat = list(chain.from_iterable(s["values"] for s in answer))
        stamps = np.fromiter(map(_first, flat), np.float64, len(flat))
        values = np.fromiter(map(float, map(_second, flat)), np.float64, len(flat))
        column = np.rint((stamps - grid.start) / grid.step).astype(np.intp)
        series = np.repeat(np.arange(len(answer), dtype=np.intp), lengths)
        inside = (column >= 0) & (column < grid.points)
        newest = float(stamps.max()) if len(stamps) else None
        return cls(series[inside], column[inside], values[inside], newest)

    def last_column(self, count: int) -> npt.NDArray[np.intp]:
        """The last column each of ``count`` series has a point in (-1: none)."""
        last = np.full(count, -1, dtype=np.intp)
        np.maximum.at(last, self.series, self.column)
        return last

    def fill(
        self,
        out: npt.NDArray[Any],
        row_of_series: npt.NDArray[np.intp],
        per_series: npt.NDArray[Any] | None = None,
    ) -> None:
        """Write the points into ``out[row, column]`` (rows < 0 skipped): their values, or each point's
        series' entry in ``per_series`` (e.g. the node a placement series names)."""
        rows = row_of_series[self.series]
        keep = rows >= 0
        values = self.values if per_series is None else per_series[self.series]
        out[rows[keep], self.column[keep]] = values[keep]


def nan_array(rows: int, grid: TimeGrid) -> FloatArray:
    return np.full((rows, grid.points), np.nan)


def labels_of(series: RawSeries) -> Mapping[str, str]:
    labels: Mapping[str, str] = series["metric"]
    return labels


def container_key(series: RawSeries) -> ContainerKey:
    labels = labels_of(series)
    return labels.get("namespace", ""), labels.get("pod", ""), labels.get("container", "")


def pod_key(series: RawSeries) -> PodKey:
    labels = labels_of(series)
    return labels.get("namespace", ""), labels.get("pod", "")


def row_index(
    answer: Sequence[RawSeries], key: Callable[[RawSeries], K], index: Mapping[K, int]
) -> npt.NDArray[np.intp]:
    """The row of each series of ``answer`` (-1 where its key has none)."""
    return np.fromiter((index.get(key(s), -1) for s in answer), np.intp, len(answer))


def sorted_index(keys: Iterable[K]) -> dict[K, int]:
    return {key: i for i, key in enumerate(sorted(set(keys)))}


def latest_by(
    answer: Sequence[RawSeries], points: Points, key: Callable[[RawSeries], K]
) -> dict[K, RawSeries]:
    """Per key, the series seen last (ties: the one Prometheus listed last); series with no point in
    the grid are left out. How a pod's owner or a node's label set is chosen when it changed."""
    last = points.last_column(len(answer))
    chosen: dict[K, RawSeries] = {}
    for position in np.argsort(last, kind="stable").tolist():
        if last[position] >= 0:
            chosen[key(answer[position])] = answer[position]
    return chosen


def strings(values: Sequence[str]) -> StrArray:
    """A numpy string column (``str_``): ``samples.namespace == "shop"`` gives a row mask."""
    return np.array(values, dtype=np.str_) if values else np.empty(0, dtype=np.str_)


def newest(*answers: Points) -> float | None:
    times = [points.newest for points in answers if points.newest is not None]
    return max(times) if times else None


# Node label keys given back under their Kubernetes name (others keep kube-state-metrics' name): the
# capacity-type keys of Karpenter, EKS, GKE and AKS, instance type, region, zone, node pool, GPU model.
DEFAULT_NODE_LABEL_KEYS: Final = (
    "karpenter.sh/capacity-type",
    "eks.amazonaws.com/capacityType",
    "cloud.google.com/gke-spot",
    "cloud.google.com/gke-preemptible",
    "kubernetes.azure.com/scalesetpriority",
    "node.kubernetes.io/instance-type",
    "beta.kubernetes.io/instance-type",
    "topology.kubernetes.io/region",
    "topology.kubernetes.io/zone",
    "karpenter.sh/nodepool",
    "eks.amazonaws.com/nodegroup",
    "cloud.google.com/gke-nodepool",
    "kubernetes.io/arch",
    "nvidia.com/gpu.product",
    "cloud.google.com/gke-accelerator",
)


def node_records(
    names: Iterable[str], label_sets: Mapping[str, RawSeries], label_keys: Iterable[str]
) -> tuple[NodeLabels, ...]:
    """A ``NodeLabels`` per node name, from its ``kube_node_labels`` series (none: no labels)."""
    by_name: dict[str, set[str]] = {}
    for key in label_keys:
        by_name.setdefault(ksm_label_name(key), set()).add(key)
    # Only keys that no other asked-for key shares a kube-state-metrics name with come back as keys.
    restore = {name: next(iter(keys)) for name, keys in by_name.items() if len(keys) == 1}
    records = []
    for node in names:
        series = label_sets.get(node)
        labels = labels_of(series) if series is not None else {}
        records.append(
            NodeLabels(
                node,
                {restore.get(k, k): v for k, v in sorted(labels.items()) if k.startswith("label_")},
            )
        )
    return tuple(records)


def owners_of(
    grid: TimeGrid, owners: Sequence[RawSeries], rows: Sequence[ContainerKey]
) -> tuple[StrArray, StrArray]:
    """Each container's workload (kind, name): its pod's owner, the latest seen in the period, or ""."""
    latest = latest_by(owners, Points.of(owners, grid), pod_key)
    kinds, names = [], []
    for namespace, pod, _ in rows:
        owner = latest.get((namespace, pod))
        labels = labels_of(owner) if owner is not None else {}
        kinds.append(labels.get("owner_kind", ""))
        names.append(labels.get("owner_name", ""))
    return strings(kinds), strings(names)
