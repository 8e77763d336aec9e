"""What resources cost, the way OpenCost counts it.

Requests are priced per core-hour and GiB-hour. Over time a container is charged for
allocation = max(request, usage), sample by sample, because usage above the request still takes
capacity from the node. A node's hourly price is split into a CPU and a RAM rate with OpenCost's
fixed CPU:RAM price ratio, so one core costs 7.460703 times one GiB.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from thrifty.engine.quantities import GiB

FloatArray = npt.NDArray[np.float64]

HOURS_PER_MONTH: Final = 730.0
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
