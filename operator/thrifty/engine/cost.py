"""What resources cost, the way OpenCost counts it.

Requests are priced per core-hour and GiB-hour. Over time a container is charged for
allocation = max(request, usage), sample by sample, because usage above the request still takes
capacity from the node. A node's hourly price is split into a CPU and a RAM rate with OpenCost's
fixed CPU:RAM price ratio, so one core costs 7.460703 times one GiB.

Which rate applies depends on the node a container runs on (``rates_for_node``): the CostPolicy's
catalog price of the node's instance type when it lists one, otherwise its per-resource rates; spot
or on-demand decided by the node's capacity-type labels; GPUs priced per GPU model. ``spend`` then
charges whole (containers, steps) arrays at once, each container-step at the rate of its node then.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from thrifty.engine.quantities import GiB

FloatArray = npt.NDArray[np.float64]
CapacityType = Literal["spot", "on-demand"]

HOURS_PER_MONTH: Final = 730.0
OPENCOST_GPU_HOUR: Final = 0.95
# Price of one vCPU-hour over one GiB-hour when a node's price is split (OpenCost's default ratio).
CPU_TO_RAM_PRICE_RATIO: Final = 7.460703


@dataclass(frozen=True)
class Rates:
    """Prices per hour: one vCPU (core) and one GiB of memory, in the CostPolicy's currency."""

    cpu_per_core_hour: float
    memory_per_gib_hour: float

    def __post_init__(self) -> None:
        if self.cpu_per_core_hour < 0 or self.memory_per_gib_hour < 0:
            raise ValueError(f"rates must be non-negative, got {self}")


# OpenCost's default prices (USD per hour), used when no CostPolicy says otherwise.
OPENCOST_ON_DEMAND: Final = Rates(cpu_per_core_hour=0.031611, memory_per_gib_hour=0.004237)
OPENCOST_SPOT: Final = Rates(cpu_per_core_hour=0.006655, memory_per_gib_hour=0.000892)


@dataclass(frozen=True)
class SplitCost:
    """An amount of money in its CPU and memory parts."""

    cpu: float
    memory: float

    @property
    def total(self) -> float:
        return self.cpu + self.memory


def monthly_request_cost(
    cpu_cores: float,
    memory_bytes: float,
    rates: Rates,
    *,
    replicas: int = 1,
    hours_per_month: float = HOURS_PER_MONTH,
) -> SplitCost:
    """Monthly cost of requesting ``cpu_cores`` and ``memory_bytes`` in each of ``replicas`` pods."""
    if cpu_cores < 0 or memory_bytes < 0 or replicas < 0 or hours_per_month < 0:
        raise ValueError("requests, replicas and hours per month must be non-negative")
    hours = replicas * hours_per_month
    return SplitCost(
        cpu=cpu_cores * rates.cpu_per_core_hour * hours,
        memory=memory_bytes / GiB * rates.memory_per_gib_hour * hours,
    )


def node_rates(hourly_price: float, vcpus: float, memory_gib: float) -> Rates:
    """Split a node's hourly price into per-core and per-GiB rates, CPU:RAM = 7.460703 per unit.

    Solves vcpus x cpu_rate + memory_gib x ram_rate = price with cpu_rate = ratio x ram_rate.
    """
    if hourly_price < 0 or vcpus <= 0 or memory_gib <= 0:
        raise ValueError("a node needs a non-negative price and positive vCPUs and memory")
    ram_rate = hourly_price / (vcpus * CPU_TO_RAM_PRICE_RATIO + memory_gib)
    return Rates(cpu_per_core_hour=ram_rate * CPU_TO_RAM_PRICE_RATIO, memory_per_gib_hour=ram_rate)


def allocation_cost(
    cpu_request_cores: float,
    memory_request_bytes: float,
    cpu_usage_cores: npt.ArrayLike,
    memory_usage_bytes: npt.ArrayLike,
    step_seconds: float,
    rates: Rates,
) -> SplitCost:
    """OpenCost's cost of one container over the time its samples cover: each sample is charged
    max(request, usage) for ``step_seconds``. A missing (NaN) sample charges the request alone, since
    the container was scheduled even though its usage was not scraped."""
    if step_seconds <= 0:
        raise ValueError("step_seconds must be positive")
    hours = step_seconds / 3600.0
    cpu = np.fmax(np.asarray(cpu_usage_cores, dtype=np.float64), cpu_request_cores)
    memory = np.fmax(np.asarray(memory_usage_bytes, dtype=np.float64), memory_request_bytes)
    return SplitCost(
        cpu=float(cpu.sum()) * hours * rates.cpu_per_core_hour,
        memory=float(memory.sum()) / GiB * hours * rates.memory_per_gib_hour,
    )


# ----- prices of a node -----

DEFAULT_INSTANCE_TYPE_LABELS: Final = ("node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type")
DEFAULT_GPU_MODEL_LABELS: Final = ("nvidia.com/gpu.product", "cloud.google.com/gke-accelerator")
_INVALID_LABEL_CHARS: Final = re.compile(r"[^a-zA-Z0-9_]")


@dataclass(frozen=True)
class SpotLabel:
    """A node label that tells spot nodes from on-demand ones: ``key`` and the values that mean spot
    (compared exactly: EKS writes ``SPOT``, Karpenter ``spot``)."""

    key: str
    spot_values: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.key or not self.spot_values:
            raise ValueError(f"a capacity-type label needs a key and at least one spot value, got {self}")


DEFAULT_SPOT_LABELS: Final = (
    SpotLabel("karpenter.sh/capacity-type", ("spot",)),
    SpotLabel("eks.amazonaws.com/capacityType", ("SPOT",)),
    SpotLabel("cloud.google.com/gke-spot", ("true",)),
    SpotLabel("cloud.google.com/gke-preemptible", ("true",)),
    SpotLabel("kubernetes.azure.com/scalesetpriority", ("spot",)),
)


@dataclass(frozen=True)
class GpuPrices:
    """Price per GPU-hour: by GPU model (the node's GPU product label), else ``default``.

    For spot, ``default`` None means "the on-demand price" (the CostPolicy's spot.gpu left unset)."""

    default: float | None
    models: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        prices = [*self.models.values(), *([] if self.default is None else [self.default])]
        if any(not math.isfinite(p) or p < 0 for p in prices):
            raise ValueError(f"GPU prices must be finite and non-negative, got {self}")


@dataclass(frozen=True)
class SpotInterruption:
    """How often an instance type's spot capacity is taken back: the band as published (AWS Spot
    Advisor's "5-10%") and the chance in a month it counts as (0.10)."""

    frequency: str
    risk: float

    def __post_init__(self) -> None:
        if not 0 <= self.risk <= 1:
            raise ValueError(f"an interruption risk is a fraction in [0, 1], got {self}")


@dataclass(frozen=True)
class InstanceType:
    """One catalog entry: an instance type's shape and hourly prices (spot and reserved optional), and
    how often its spot capacity is interrupted (None: unknown)."""

    name: str
    vcpus: float
    memory_gib: float
    on_demand: float
    gpus: int = 0
    spot: float | None = None
    reserved: float | None = None
    interruption: SpotInterruption | None = None

    def __post_init__(self) -> None:
        if self.vcpus <= 0 or self.memory_gib <= 0 or self.gpus < 0:
            raise ValueError(f"instance type {self.name}: vCPUs and memory must be positive, GPUs >= 0")
        for price in (self.on_demand, self.spot, self.reserved):
            if price is not None and (not math.isfinite(price) or price < 0):
                raise ValueError(f"instance type {self.name}: prices must be finite and non-negative")


@dataclass(frozen=True)
class PriceBook:
    """Everything that turns resource-hours into money: the CostPolicy's ``pricing``, as plain values.

    ``catalog`` maps instance-type names to their prices. The label keys are tried in order and the
    first one present on a node wins (capacity type: nodes matching no key are on-demand)."""

    on_demand: Rates = OPENCOST_ON_DEMAND
    spot: Rates = OPENCOST_SPOT
    on_demand_gpu: GpuPrices = field(default_factory=lambda: GpuPrices(OPENCOST_GPU_HOUR))
    spot_gpu: GpuPrices = field(default_factory=lambda: GpuPrices(None))
    catalog: Mapping[str, InstanceType] = field(default_factory=dict)
    instance_type_labels: tuple[str, ...] = DEFAULT_INSTANCE_TYPE_LABELS
    capacity_type_labels: tuple[SpotLabel, ...] = DEFAULT_SPOT_LABELS
    gpu_model_labels: tuple[str, ...] = DEFAULT_GPU_MODEL_LABELS
    hours_per_month: float = HOURS_PER_MONTH
    currency: str = "USD"

    def __post_init__(self) -> None:
        if self.on_demand_gpu.default is None:
            raise ValueError("the on-demand GPU price must be set; only the spot one may fall back")
        if not self.hours_per_month > 0:
            raise ValueError(f"hours_per_month must be positive, got {self.hours_per_month}")
        misnamed = sorted(name for name, entry in self.catalog.items() if entry.name != name)
        if misnamed:
            raise ValueError(f"catalog keys must be the instance types' names: {misnamed}")


@dataclass(frozen=True)
class NodeCapacity:
    """What a node has, from its status.capacity: vCPUs, GiB of memory, GPUs."""

    vcpus: float
    memory_gib: float
    gpus: float = 0.0


@dataclass(frozen=True)
class NodeRates:
    """The hourly rates containers pay on one node, and where they came from.

    ``source`` is a short phrase for status messages ("catalog m5.xlarge spot", "default spot rates").
    ``hourly_price`` is what the whole node costs per hour: its catalog price, or its capacity at the
    rates; None when neither is known."""

    cpu_per_core_hour: float
    memory_per_gib_hour: float
    gpu_per_hour: float
    capacity_type: CapacityType
    source: str
    hourly_price: float | None = None
    instance_type: str | None = None
    gpu_model: str | None = None

    def __post_init__(self) -> None:
        for rate in (self.cpu_per_core_hour, self.memory_per_gib_hour, self.gpu_per_hour):
            if not math.isfinite(rate) or rate < 0:
                raise ValueError(f"node rates must be finite and non-negative, got {self}")

    @property
    def rates(self) -> Rates:
        return Rates(self.cpu_per_core_hour, self.memory_per_gib_hour)


def node_label(labels: Mapping[str, str], key: str) -> str | None:
    """The value of label ``key``, under its Kubernetes name or kube-state-metrics' (``label_`` + the key
    with every character outside [a-zA-Z0-9_] as ``_``), since node labels often come from
    ``kube_node_labels``."""
    value = labels.get(key)
    if value is None:
        value = labels.get("label_" + _INVALID_LABEL_CHARS.sub("_", key))
    return value


def _first_label(labels: Mapping[str, str], keys: Sequence[str]) -> str | None:
    for key in keys:
        value = node_label(labels, key)
        if value:
            return value
    return None


def node_instance_type(
    labels: Mapping[str, str], keys: Sequence[str] = DEFAULT_INSTANCE_TYPE_LABELS
) -> str | None:
    """The node's instance type, from the first of ``keys`` present on it; None when none is."""
    return _first_label(labels, keys)


def capacity_type(labels: Mapping[str, str], keys: Sequence[SpotLabel] = DEFAULT_SPOT_LABELS) -> CapacityType:
    """Spot or on-demand, from the first of ``keys`` present on the node: spot when its value is one of
    that key's spot values. A node carrying none of the keys is on-demand, the conservative (dearer)
    assumption when nothing says otherwise."""
    for label in keys:
        value = node_label(labels, label.key)
        if value is not None:
            return "spot" if value in label.spot_values else "on-demand"
    return "on-demand"


def gpu_price(book: PriceBook, kind: CapacityType, model: str | None) -> float:
    """Price per GPU-hour of ``model`` on ``kind`` capacity. Spot: the spot price of the model, else the
    spot default, else (spot.gpu unset) the on-demand price of the model. On-demand: the model's price,
    else the default."""
    on_demand_default = book.on_demand_gpu.default
    assert on_demand_default is not None  # checked by PriceBook
    on_demand = book.on_demand_gpu.models.get(model, on_demand_default) if model else on_demand_default
    if kind == "on-demand":
        return on_demand
    if model and model in book.spot_gpu.models:
        return book.spot_gpu.models[model]
    return on_demand if book.spot_gpu.default is None else book.spot_gpu.default


def rates_for_node(labels: Mapping[str, str], capacity: NodeCapacity | None, book: PriceBook) -> NodeRates:
    """The rates containers on a node with ``labels`` pay.

    - The node's instance type (first ``book.instance_type_labels`` key present) is in the catalog:
      its hourly price is split into CPU and RAM rates the OpenCost way (``node_rates``). The price is
      the spot price on spot nodes; on on-demand nodes the reserved price when the catalog gives one
      (setting it says this instance type runs under a reservation or savings plan), else the
      on-demand price. A spot node whose entry has no spot price uses the default spot rates.
    - GPU instances: the catalog price includes the GPUs, so their part (GPUs x the GPU rate of the
      node's model) comes off before the split; otherwise CPU and RAM would carry the GPUs' price and
      a CPU-only pod on a GPU node would pay for GPUs it cannot use. When the GPU part would be more
      than the whole price, the GPUs take the whole price (and CPU and RAM are free) so the node still
      costs exactly its price. The GPU count is the entry's, or the node's capacity when the entry
      says 0.
    - Otherwise: the default on-demand or spot rates of the book.

    GPUs are priced per model (first ``book.gpu_model_labels`` key present), see ``gpu_price``.
    ``capacity`` only serves ``hourly_price`` and the GPU count; it may be None.
    """
    kind = capacity_type(labels, book.capacity_type_labels)
    instance = node_instance_type(labels, book.instance_type_labels)
    model = _first_label(labels, book.gpu_model_labels)
    gpu_rate = gpu_price(book, kind, model)
    entry = book.catalog.get(instance) if instance else None
    defaults = book.spot if kind == "spot" else book.on_demand

    def from_defaults(source: str) -> NodeRates:
        hourly = None
        if capacity is not None:
            hourly = (
                capacity.vcpus * defaults.cpu_per_core_hour
                + capacity.memory_gib * defaults.memory_per_gib_hour
                + capacity.gpus * gpu_rate
            )
        return NodeRates(
            defaults.cpu_per_core_hour,
            defaults.memory_per_gib_hour,
            gpu_rate,
            kind,
            source,
            hourly,
            instance,
            model,
        )

    if entry is None:
        return from_defaults(f"default {kind} rates")
    if kind == "spot":
        if entry.spot is None:
            return from_defaults(f"default spot rates (catalog {entry.name} has no spot price)")
        price, priced_as = entry.spot, "spot"
    elif entry.reserved is not None:
        price, priced_as = entry.reserved, "reserved"
    else:
        price, priced_as = entry.on_demand, "on-demand"
    gpus = entry.gpus if entry.gpus > 0 else (capacity.gpus if capacity is not None else 0.0)
    gpu_part = min(gpus * gpu_rate, price)
    split = node_rates(price - gpu_part, entry.vcpus, entry.memory_gib)
    return NodeRates(
        split.cpu_per_core_hour,
        split.memory_per_gib_hour,
        gpu_part / gpus if gpus > 0 else gpu_rate,
        kind,
        f"catalog {entry.name} {priced_as}",
        price,
        instance,
        model,
    )


# ----- spend over time -----

# Rows charged per pass: temporaries stay near 2**20 values (8 MB) whatever the number of containers.
_CHUNK_VALUES: Final = 1 << 20


@dataclass(frozen=True)
class SpendBreakdown:
    """Money spent over (containers, steps) samples: totals per resource, per container, per step."""

    cpu: float
    memory: float
    gpu: float
    per_container: FloatArray  # (containers,) total of each container over every step
    per_step: FloatArray  # (steps,) total of every container in each step

    @property
    def total(self) -> float:
        return self.cpu + self.memory + self.gpu


def _as_2d(values: npt.ArrayLike, name: str) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 1:
        array = array[np.newaxis, :]
    if array.ndim != 2:
        raise ValueError(f"{name} must be shaped (containers, steps), got {array.shape}")
    return array


def _samples(*values: npt.ArrayLike) -> list[FloatArray]:
    """The five sample arrays (CPU request, usage, memory request, usage, GPU request), checked to be
    (containers, steps) arrays of one shape."""
    names = ("cpu_request", "cpu_usage", "memory_request", "memory_usage", "gpu_request")
    arrays = [_as_2d(array, name) for name, array in zip(names, values, strict=True)]
    for name, array in zip(names, arrays, strict=True):
        if array.shape != arrays[0].shape:
            raise ValueError(
                f"{name} is shaped {array.shape}, cpu_request {arrays[0].shape}: they must match"
            )
    return arrays


def _check_rates(rate: FloatArray, name: str) -> None:
    if not np.all(np.isfinite(rate)) or np.any(rate < 0):
        raise ValueError(f"{name} must be finite and non-negative everywhere")


def _charged(request: FloatArray, usage: FloatArray | None, rate: FloatArray) -> FloatArray:
    """max(request, usage) x rate, where a NaN usage charges the request, a NaN request the usage, and
    both NaN (the container was not there) nothing."""
    amount = request.copy() if usage is None else np.fmax(request, usage)
    amount *= rate
    np.copyto(amount, 0.0, where=np.isnan(amount))
    return amount


def _spend(
    arrays: Sequence[FloatArray],
    rates_of: Callable[[slice], tuple[FloatArray, FloatArray, FloatArray]],
    step_seconds: float,
) -> SpendBreakdown:
    cpu_request, cpu_usage, memory_request, memory_usage, gpu_request = arrays
    if not step_seconds > 0:
        raise ValueError(f"step_seconds must be positive, got {step_seconds}")
    hours = step_seconds / 3600.0
    containers, steps = cpu_request.shape
    per_container = np.zeros(containers)
    per_step = np.zeros(steps)
    totals = np.zeros(3)  # cpu, memory, gpu; rate x amount summed over steps, hours applied at the end
    rows = max(1, _CHUNK_VALUES // max(steps, 1))
    for first in range(0, containers, rows):
        part = slice(first, min(first + rows, containers))
        cpu_rate, memory_rate, gpu_rate = rates_of(part)
        charges = (
            _charged(cpu_request[part], cpu_usage[part], cpu_rate),
            _charged(memory_request[part], memory_usage[part], memory_rate) / GiB,
            _charged(gpu_request[part], None, gpu_rate),
        )
        for i, charge in enumerate(charges):
            by_row = charge.sum(axis=1)
            totals[i] += by_row.sum()
            per_container[part] += by_row
            per_step += charge.sum(axis=0)
    return SpendBreakdown(
        cpu=float(totals[0]) * hours,
        memory=float(totals[1]) * hours,
        gpu=float(totals[2]) * hours,
        per_container=per_container * hours,
        per_step=per_step * hours,
    )


def spend(
    cpu_request_cores: npt.ArrayLike,
    cpu_usage_cores: npt.ArrayLike,
    memory_request_bytes: npt.ArrayLike,
    memory_usage_bytes: npt.ArrayLike,
    gpu_request: npt.ArrayLike,
    cpu_rate: npt.ArrayLike,
    memory_rate: npt.ArrayLike,
    gpu_rate: npt.ArrayLike,
    step_seconds: float,
) -> SpendBreakdown:
    """OpenCost's allocation cost of many containers over many steps, vectorized a block of rows at a time.

    Requests and usage are (containers, steps) arrays, each column standing for the ``step_seconds``
    that end at it; rates (per core-hour, GiB-hour, GPU-hour) are the same shape or broadcast to it
    ((containers, 1): one node each throughout; a scalar: one price for all). Each container-step is
    charged max(request, usage) x its rate for the step: usage above the request still took the
    node's capacity. A NaN usage charges the request (the pod was scheduled, its usage was not
    scraped); a NaN request the usage (no request set); both NaN charge nothing (the container did
    not exist then). GPUs are charged by request alone. Rates must be finite: price an unknown node
    with the default rates rather than leaving a hole.
    """
    arrays = _samples(
        cpu_request_cores, cpu_usage_cores, memory_request_bytes, memory_usage_bytes, gpu_request
    )
    shape = arrays[0].shape
    rates = []
    for name, rate in (("cpu_rate", cpu_rate), ("memory_rate", memory_rate), ("gpu_rate", gpu_rate)):
        given = np.asarray(rate, dtype=np.float64)
        _check_rates(given, name)
        try:
            rates.append(np.broadcast_to(given, shape))
        except ValueError as error:
            raise ValueError(f"{name} shaped {given.shape} does not broadcast to {shape}") from error
    return _spend(arrays, lambda part: (rates[0][part], rates[1][part], rates[2][part]), step_seconds)


def spend_on_nodes(
    cpu_request_cores: npt.ArrayLike,
    cpu_usage_cores: npt.ArrayLike,
    memory_request_bytes: npt.ArrayLike,
    memory_usage_bytes: npt.ArrayLike,
    gpu_request: npt.ArrayLike,
    node_index: npt.ArrayLike,
    nodes: Sequence[NodeRates],
    unknown: NodeRates,
    step_seconds: float,
) -> SpendBreakdown:
    """``spend`` with each container-step priced at the node it ran on: ``node_index`` (containers,
    steps) indexes ``nodes``, -1 where the node is unknown, which pays ``unknown``'s rates (the
    default on-demand ones, ``rates_for_node({}, None, book)``, are the cautious choice). Rates are
    looked up a block of rows at a time, so no full-size rate array is ever built."""
    arrays = _samples(
        cpu_request_cores, cpu_usage_cores, memory_request_bytes, memory_usage_bytes, gpu_request
    )
    index = np.asarray(node_index)
    if index.ndim == 1:
        index = index[np.newaxis, :]
    if index.shape != arrays[0].shape:
        raise ValueError(f"node_index is shaped {index.shape}, the samples {arrays[0].shape}")
    if index.size and (index.min() < -1 or index.max() >= len(nodes)):
        raise ValueError(f"node_index must lie in [-1, {len(nodes)})")
    table = [*nodes, unknown]  # -1 picks the last entry
    cpu = np.array([n.cpu_per_core_hour for n in table])
    memory = np.array([n.memory_per_gib_hour for n in table])
    gpu = np.array([n.gpu_per_hour for n in table])

    def rates_of(part: slice) -> tuple[FloatArray, FloatArray, FloatArray]:
        rows = index[part]
        return cpu[rows], memory[rows], gpu[rows]

    return _spend(arrays, rates_of, step_seconds)


def spend_at_node_prices(
    cpu_allocation_cores: npt.ArrayLike,
    memory_allocation_bytes: npt.ArrayLike,
    gpu_allocation: npt.ArrayLike,
    node_index: npt.ArrayLike,
    node_cpu_hourly: npt.ArrayLike,
    node_ram_hourly: npt.ArrayLike,
    node_gpu_hourly: npt.ArrayLike,
    fallback: NodeRates,
    step_seconds: float,
) -> SpendBreakdown:
    """Spend from allocations already computed elsewhere (OpenCost's ``container_*_allocation``) at
    per-node prices that change over time (``node_*_hourly_cost``, (nodes, steps)). A container-step on
    an unknown node, or a node without a price at that step, pays ``fallback``'s rates; a missing
    allocation charges nothing (the container was not there)."""
    if step_seconds <= 0:
        raise ValueError("step_seconds must be positive")
    index = np.asarray(node_index, dtype=np.intp)
    steps = index.shape[1] if index.ndim == 2 else 0
    columns = np.arange(steps)[np.newaxis, :]

    def price(per_node: npt.ArrayLike, default: float) -> FloatArray:
        table = np.asarray(per_node, dtype=np.float64).reshape(-1, steps)
        extended = np.vstack([table, np.full((1, steps), np.nan)])  # row -1: unknown node
        looked_up = extended[index, columns]
        return np.where(np.isfinite(looked_up), looked_up, default)

    hours = step_seconds / 3600.0
    cpu = np.nan_to_num(np.asarray(cpu_allocation_cores, dtype=np.float64)) * price(
        node_cpu_hourly, fallback.cpu_per_core_hour
    )
    memory = (
        np.nan_to_num(np.asarray(memory_allocation_bytes, dtype=np.float64))
        / GiB
        * price(node_ram_hourly, fallback.memory_per_gib_hour)
    )
    gpu = np.nan_to_num(np.asarray(gpu_allocation, dtype=np.float64)) * price(
        node_gpu_hourly, fallback.gpu_per_hour
    )
    total = (cpu + memory + gpu) * hours
    return SpendBreakdown(
        cpu=float(cpu.sum() * hours),
        memory=float(memory.sum() * hours),
        gpu=float(gpu.sum() * hours),
        per_container=total.sum(axis=1),
        per_step=total.sum(axis=0),
    )
