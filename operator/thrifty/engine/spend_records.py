"""The plain records a budget's spend is priced from: per container and point in time, what it
requested, used or was allocated, and the node it ran on.

``thrifty.sources.spend`` fills ``SpendSamples`` from cAdvisor and kube-state-metrics,
``thrifty.sources.opencost`` fills ``OpenCostSamples`` from OpenCost's own metrics; the engine
prices either.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, NamedTuple

import numpy as np
import numpy.typing as npt

__all__ = ["NodeLabels", "OpenCostSamples", "SpendSamples", "ksm_label_name"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
StrArray = npt.NDArray[np.str_]

_INVALID_LABEL_CHARS: Final = re.compile(r"[^a-zA-Z0-9_]")


def ksm_label_name(key: str) -> str:
    """kube-state-metrics' label for the Kubernetes label ``key`` on ``kube_node_labels`` (and the other
    ``*_labels`` metrics): ``label_`` + the key with every character outside [a-zA-Z0-9_] as ``_``.

    ``karpenter.sh/capacity-type`` -> ``label_karpenter_sh_capacity_type``. The mapping loses
    information (``a.b`` and ``a/b`` meet), so look keys up through this function rather than trying
    to read the original keys back from the metric.
    """
    return "label_" + _INVALID_LABEL_CHARS.sub("_", key)


class NodeLabels(NamedTuple):
    """A node and its labels. kube-state-metrics exports ``label_<key with [^a-zA-Z0-9_] -> _>``, which
    cannot be turned back into the key: keys asked for (``node_label_keys``) come back under their
    Kubernetes name, every other label under kube-state-metrics' name (``label_...``). Look labels up
    with ``get(key)``, which tries both; kube-state-metrics exports node labels only when allowed
    (``--metric-labels-allowlist=nodes=[...]``), so ``labels`` may be empty."""

    name: str
    labels: Mapping[str, str]

    def get(self, key: str) -> str | None:
        return self.labels.get(key, self.labels.get(ksm_label_name(key)))


@dataclass(frozen=True)
class SpendSamples:
    """Requests, usage and placement of every container of the scope, on ``times``.

    Rows are containers ((namespace, pod, container), sorted); columns are ``times``, each standing for
    the ``step_seconds`` that end at it. NaN: no sample (pod not there, no request set, no GPU).
    ``owner_kind``/``owner_name``: the pod's workload (Deployment, StatefulSet, DaemonSet, Job, ...),
    "" when unknown. ``node_index``: index into ``nodes``, -1 where the pod's node is unknown.
    """

    namespaces: tuple[str, ...]
    times: FloatArray  # (points,) unix seconds
    step_seconds: int
    cpu_window_seconds: int
    namespace: StrArray  # (containers,)
    pod: StrArray
    container: StrArray
    owner_kind: StrArray
    owner_name: StrArray
    cpu_request_cores: FloatArray  # (containers, points)
    cpu_usage_cores: FloatArray  # rate over cpu_window_seconds ending at each point
    memory_request_bytes: FloatArray
    memory_usage_bytes: FloatArray  # working set, averaged over the step ending at each point
    gpu_request: FloatArray
    node_index: IntArray  # (containers, points), -1 = unknown
    nodes: tuple[NodeLabels, ...]
    data_as_of: float | None  # the latest point with any container data; None: no data at all
    notes: tuple[str, ...]  # which metrics had no series
    queries: int

    @property
    def containers(self) -> int:
        return len(self.container)


@dataclass(frozen=True)
class OpenCostSamples:
    """OpenCost's allocations per container and prices per node, on ``times``.

    Container rows and columns as in ``SpendSamples``; NaN where there is no sample. ``nodes`` carry
    OpenCost's node labels (``instance_type``, ``region``, ``provider_id``, ``arch``); the price arrays
    are (nodes, points): per vCPU-hour, per GiB-hour and per GPU-hour, in OpenCost's currency.
    """

    namespaces: tuple[str, ...]
    times: FloatArray
    step_seconds: int
    namespace: StrArray
    pod: StrArray
    container: StrArray
    owner_kind: StrArray
    owner_name: StrArray
    cpu_allocation_cores: FloatArray  # (containers, points), averaged over the step ending at each point
    memory_allocation_bytes: FloatArray
    gpu_allocation: FloatArray
    node_index: IntArray  # (containers, points), -1 = unknown
    nodes: tuple[NodeLabels, ...]
    node_cpu_hourly_cost: FloatArray  # (nodes, points)
    node_ram_hourly_cost: FloatArray
    node_gpu_hourly_cost: FloatArray
    node_is_spot: FloatArray  # 1.0 spot, 0.0 not, NaN unknown
    data_as_of: float | None
    notes: tuple[str, ...]
    queries: int

    @property
    def containers(self) -> int:
        return len(self.container)
