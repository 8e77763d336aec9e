"""The plain records every decision is made on: workloads as their pod templates declare them, their
usage history, their load now and their demand over time.

Sources build them from Kubernetes objects and Prometheus answers; the engine decides on them; the
handlers carry them from one to the other. They hold data, never clients.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "ContainerHistory",
    "DemandHistory",
    "NamespaceLoad",
    "NamespaceUsage",
    "QueryAnswer",
    "Resource",
    "TemplateContainer",
    "Workload",
    "WorkloadKey",
    "WorkloadLoad",
    "WorkloadRef",
]

FloatArray = npt.NDArray[np.float64]
WorkloadRef = tuple[str, str]  # (kind, name), e.g. ("Deployment", "web"), within one namespace
WorkloadKey = tuple[str, str, str]  # (namespace, kind, name)
Resource = Literal["cpu", "memory"]


@dataclass(frozen=True)
class TemplateContainer:
    """A container of the pod template, resources in cores and bytes (None: not set)."""

    name: str
    cpu_request: float | None
    cpu_limit: float | None
    memory_request: float | None
    memory_limit: float | None


@dataclass(frozen=True)
class Workload:
    kind: str
    namespace: str
    name: str
    uid: str
    desired_replicas: int
    replicas: int
    containers: tuple[TemplateContainer, ...]
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)  # only thrifty.dev/ ones
    priority_class: str | None = None  # the pod template's priorityClassName
    pod_labels: Mapping[str, str] = field(default_factory=dict)  # the pod template's, for PDB selectors

    @property
    def container_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.containers)

    def pod_request(self, resource: Resource) -> float | None:
        """The pod template's request summed over containers; None when a container has none (the HPA
        cannot compute utilization then either)."""
        values = [c.cpu_request if resource == "cpu" else c.memory_request for c in self.containers]
        if not values or any(v is None or v <= 0 for v in values):
            return None
        return float(sum(v for v in values if v is not None))

    def reference(self) -> dict[str, Any]:
        """Enough of the object for an Event about it."""
        return {
            "apiVersion": "apps/v1",
            "kind": self.kind,
            "metadata": {"name": self.name, "namespace": self.namespace, "uid": self.uid},
        }


@dataclass(frozen=True)
class ContainerHistory:
    """One container of one workload. Arrays are (lanes, time) on the namespace's grid, from the
    container's first sample to its last (not the whole grid), NaN = no sample; CPU in cores, memory
    in bytes. A lane holds one pod at a time: pods that never ran at the same time may share one, so
    rows are as many as pods ran at once, and pooling or summing per step is what they are for.
    Requests and limits: None where no pod sets them."""

    kind: str
    workload: str
    container: str
    pods: tuple[str, ...]  # every pod with a sample, sorted
    cpu_cores: FloatArray
    memory_bytes: FloatArray
    cpu_request: float | None
    cpu_limit: float | None
    memory_request: float | None
    memory_limit: float | None
    oom_killed: bool
    last_oom_kill: float | None = None  # unix seconds of the step the last OOM kill was seen at
    first_time: float | None = None  # unix seconds of the arrays' first column; None: no sample
    pod_last_times: tuple[float, ...] = ()  # unix seconds of each pod's last sample, as ``pods``

    def pooled_cpu(self) -> FloatArray:
        """Every pod's CPU samples in one 1-D array (NaN dropped)."""
        return self.cpu_cores[~np.isnan(self.cpu_cores)]

    def pooled_memory(self) -> FloatArray:
        return self.memory_bytes[~np.isnan(self.memory_bytes)]


def _workload_key(container: ContainerHistory) -> tuple[str, str]:
    return container.kind, container.workload


@dataclass(frozen=True)
class NamespaceUsage:
    namespace: str
    times: FloatArray  # unix seconds of the grid's points
    step_seconds: int
    cpu_window_seconds: int
    containers: tuple[ContainerHistory, ...]  # sorted by (kind, workload, container)
    missing_workloads: frozenset[WorkloadRef]  # asked for, but no series names them
    queries: int
    notes: tuple[str, ...]  # why data is missing, e.g. which metric has no series
    first_sample: float | None = None  # unix seconds of the earliest CPU or memory sample on the grid

    def workload(self, kind: str, name: str) -> tuple[ContainerHistory, ...]:
        # A bisection of the sorted containers: every policy of a namespace looks itself up each round.
        start = bisect_left(self.containers, (kind, name), key=_workload_key)
        end = bisect_right(self.containers, (kind, name), key=_workload_key)
        return self.containers[start:end]

    def container(self, kind: str, name: str, container: str) -> ContainerHistory | None:
        return next((c for c in self.workload(kind, name) if c.container == container), None)

    def demand(self, resource: Resource) -> dict[WorkloadRef, DemandHistory]:
        """Each workload's total CPU cores or memory bytes per step on the whole grid: every pod of
        every container summed, NaN at steps where none has a sample (what ``sum by`` the workload
        gives in PromQL), for forecasts."""
        totals: dict[WorkloadRef, FloatArray] = {}
        for c in self.containers:
            samples = c.cpu_cores if resource == "cpu" else c.memory_bytes
            sampled = ~np.all(np.isnan(samples), axis=0)
            if c.first_time is None or not sampled.any():
                continue  # as ``sum by`` leaves out a workload with no series
            row = totals.setdefault((c.kind, c.workload), np.full(len(self.times), np.nan))
            first = round((c.first_time - float(self.times[0])) / self.step_seconds)
            at = first + np.flatnonzero(sampled)
            row[at] = np.where(np.isnan(row[at]), 0.0, row[at]) + np.nansum(samples[:, sampled], axis=0)
        return {ref: DemandHistory(self.times, row, self.step_seconds) for ref, row in totals.items()}


@dataclass(frozen=True)
class WorkloadLoad:
    """CPU: cores over the rate window, summed over every pod that ran in it (the workload's load,
    however its pods changed); memory: bytes summed over the pods with a sample now."""

    cpu_cores: float
    cpu_pods: int
    memory_bytes: float
    memory_pods: int
    # The fewest samples any of its pods has over the last two rate windows, and how many they hold
    # when no scrape is missed: fewer (missed scrapes, a restart, a pod younger than that) make
    # rate() read low.
    cpu_window_samples: int = 0
    cpu_window_samples_expected: int = 0


@dataclass(frozen=True)
class NamespaceLoad:
    namespace: str
    at: int
    workloads: dict[WorkloadRef, WorkloadLoad]
    queries: int


@dataclass(frozen=True, eq=False)
class DemandHistory:
    """A workload's total demand on a regular grid (NaN where Prometheus had no sample)."""

    times: FloatArray
    values: FloatArray
    step_seconds: int


@dataclass(frozen=True)
class QueryAnswer:
    """A policy's own PromQL metric now: one finite, non-negative value, or why there is none.

    ``problem`` is the reason a user reads in ``MetricsAvailable`` (``QueryReturnedSeveralSeries``,
    ``QueryReturnedNaN``, ...); ``detail`` says it in a sentence.
    """

    value: float | None
    problem: str | None = None
    detail: str = ""
