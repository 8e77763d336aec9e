"""Cost: OpenCost's rates, node-price split and allocation, checked against the design's worked example."""

from __future__ import annotations

import numpy as np
import pytest

from thrifty.engine.cost import (
    CPU_TO_RAM_PRICE_RATIO,
    HOURS_PER_MONTH,
    OPENCOST_ON_DEMAND,
    OPENCOST_SPOT,
    Rates,
    allocation_cost,
    monthly_request_cost,
    node_rates,
)
from thrifty.engine.quantities import GiB

# m5.large: 0.096 per hour for 2 vCPU and 8 GiB. The design's figures are matched to their last digit
# (within half a unit of it).
M5_LARGE = node_rates(0.096, vcpus=2, memory_gib=8)


def test_opencost_default_rates() -> None:
    assert Rates(0.031611, 0.004237) == OPENCOST_ON_DEMAND
    assert Rates(0.006655, 0.000892) == OPENCOST_SPOT
    assert HOURS_PER_MONTH == 730


def test_node_price_splits_like_opencost() -> None:
    assert M5_LARGE.cpu_per_core_hour == pytest.approx(0.031247, abs=5e-7)
    assert M5_LARGE.memory_per_gib_hour == pytest.approx(0.004188, abs=5e-7)
    assert M5_LARGE.cpu_per_core_hour / M5_LARGE.memory_per_gib_hour == pytest.approx(CPU_TO_RAM_PRICE_RATIO)
    assert 2 * M5_LARGE.cpu_per_core_hour + 8 * M5_LARGE.memory_per_gib_hour == pytest.approx(0.096)


@pytest.mark.parametrize("step_seconds", [60.0, 300.0, 3600.0])
def test_allocation_is_max_of_request_and_usage_over_time(step_seconds: float) -> None:
    # Requests 0.5 CPU and 1 GiB, uses 0.2 CPU and 1.5 GiB, for 24 h.
    samples = round(24 * 3600 / step_seconds)
    cost = allocation_cost(
        0.5, 1 * GiB, np.full(samples, 0.2), np.full(samples, 1.5 * GiB), step_seconds, M5_LARGE
    )
    assert cost.cpu == pytest.approx(0.37497, abs=5e-6)
    assert cost.memory == pytest.approx(0.15078, abs=5e-6)
    assert cost.total == pytest.approx(0.37497 + 0.15078, abs=1e-5)


def test_missing_usage_samples_are_charged_the_request() -> None:
    usage = np.array([np.nan, 2.0, np.nan])
    cost = allocation_cost(1.0, 0.0, usage, np.zeros(3), 3600.0, Rates(1.0, 1.0))
    assert cost.cpu == pytest.approx(1.0 + 2.0 + 1.0)


def test_monthly_request_cost_scales_with_replicas_and_hours() -> None:
    one = monthly_request_cost(0.5, 2 * GiB, OPENCOST_ON_DEMAND)
    assert one.cpu == pytest.approx(0.5 * 0.031611 * 730)
    assert one.memory == pytest.approx(2 * 0.004237 * 730)
    three = monthly_request_cost(0.5, 2 * GiB, OPENCOST_ON_DEMAND, replicas=3)
    assert three.total == pytest.approx(3 * one.total)
    assert monthly_request_cost(1, GiB, OPENCOST_SPOT, hours_per_month=1).total == pytest.approx(
        0.006655 + 0.000892
    )


def test_negative_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        Rates(-1.0, 0.0)
    with pytest.raises(ValueError, match="non-negative"):
        monthly_request_cost(-1, 0, OPENCOST_ON_DEMAND)
    with pytest.raises(ValueError, match="positive vCPUs"):
        node_rates(0.1, vcpus=0, memory_gib=8)
