"""One decision for replicas and CPU requests: the pair is consistent, and the cheapest within the
vertical floor and the horizontal target."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thrifty.engine.cost import HOURS_PER_MONTH, Rates
from thrifty.engine.joint_sizing import size_jointly
from thrifty.engine.quantities import GiB

# Rates at which a pod of 500m and 512Mi costs 10.29 a month, as in the demo's figures.
RATES = Rates(cpu_per_core_hour=18.14 / HOURS_PER_MONTH, memory_per_gib_hour=2.44 / HOURS_PER_MONTH)
MEMORY = 512 * 2**20
P95 = 0.05


def pod_month(cpu: float, memory: float = MEMORY) -> float:
    return (cpu * RATES.cpu_per_core_hour + memory / GiB * RATES.memory_per_gib_hour) * HOURS_PER_MONTH


def test_the_demo_gets_one_pair_that_meets_the_target_and_costs_less_than_either_half_alone() -> None:
    # 1.2 cores of load, a 70% target, 500m today, and right-sizing alone would say 290m.
    sizing = size_jointly(
        [1.2] * 288, 1.2, 0.7, (2, 10), 0.5, 0.29, MEMORY, RATES, max_over_request_share=P95
    )
    # Each half alone: 4 pods of 500m (the target at today's request), or 290m, which needs 6.
    assert (sizing.today.replicas_now, sizing.today.cpu_cores) == (4, 0.5)
    assert (sizing.vertical.replicas_now, sizing.vertical.cpu_cores) == (6, 0.29)
    assert sizing.today.monthly_cost - 3 * pod_month(0.5) == pytest.approx(10.29, abs=0.01)
    assert sizing.vertical.monthly_cost - 3 * pod_month(0.5) == pytest.approx(8.01, abs=0.01)
    # The pair: 429m fills 4 pods at 70% (1.2 / (4 x 0.429) = 69.9%).
    assert (sizing.chosen.replicas_now, sizing.chosen.cpu_cores) == (4, 0.429)
    assert 1.2 / (4 * 0.429) <= 0.7
    assert sizing.chosen.monthly_cost == pytest.approx(4 * pod_month(0.429))
    assert sizing.monthly_savings == pytest.approx(4 * pod_month(0.5) - 4 * pod_month(0.429))
    assert sizing.monthly_savings == pytest.approx(5.15, abs=0.01)


def test_a_request_that_fits_the_peak_but_wastes_the_minimum_at_night_is_not_chosen() -> None:
    # Half the day at 1.2 cores, half at 0.1: at night minReplicas (2) pods run whatever their size.
    demand = np.r_[np.full(144, 1.2), np.full(144, 0.1)]
    sizing = size_jointly(demand, 1.2, 0.7, (2, 10), 0.9, 0.25, MEMORY, RATES, max_over_request_share=P95)
    by_request = {o.cpu_cores: o for o in sizing.options}
    # 858m would carry the peak on 2 pods, but the 2 pods of the night cost more than small ones.
    assert 0.858 in by_request
    assert sizing.chosen.cpu_cores < 0.858
    assert sizing.chosen.monthly_cost == min(o.monthly_cost for o in sizing.options)
    assert sizing.chosen.monthly_cost < by_request[0.858].monthly_cost


def test_the_vertical_recommendation_is_the_floor_and_today_or_it_the_ceiling() -> None:
    sizing = size_jointly([1.2] * 10, 1.2, 0.7, (1, 10), 0.5, 0.29, MEMORY, RATES, max_over_request_share=P95)
    # One pod of 1.715 cores would be cheapest (one pod's memory), but it is above today's 500m.
    assert all(0.29 <= o.cpu_cores <= 0.5 for o in sizing.options)
    assert sizing.chosen.cpu_cores == 0.429


def test_max_allowed_bounds_the_request() -> None:
    sizing = size_jointly(
        [1.2] * 10, 1.2, 0.7, (2, 10), 0.5, 0.29, MEMORY, RATES,
        max_over_request_share=P95, cpu_range=(None, 0.4),
    )  # fmt: skip
    # 429m for 4 pods is above 400m; 5 pods of 343m are the cheapest left.
    assert (sizing.chosen.replicas_now, sizing.chosen.cpu_cores) == (5, 0.343)
    assert all(o.cpu_cores <= 0.4 for o in sizing.options if o is not sizing.today)


def test_a_request_the_usage_exceeds_too_often_is_not_chosen() -> None:
    # At maxReplicas (3) the pods run above 343m in a third of the steps: more than p95 allows.
    demand = np.r_[np.full(20, 0.6), np.full(10, 1.5)]
    sizing = size_jointly(demand, 0.6, 0.7, (1, 3), 0.5, 0.2, MEMORY, RATES, max_over_request_share=P95)
    by_request = {o.cpu_cores: o for o in sizing.options}
    assert by_request[0.286].over_request_share > P95
    assert sizing.chosen.over_request_share <= P95
    assert sizing.chosen.cpu_cores == 0.5


def test_when_no_request_is_within_the_percentile_the_least_exceeded_is_chosen() -> None:
    # Peaks far beyond 2 pods of anything allowed; between them 0.8 cores, 400m a pod.
    demand = np.r_[np.full(5, 5.0), np.full(5, 0.8)]
    sizing = size_jointly(demand, 0.8, 0.7, (1, 2), 0.5, 0.3, MEMORY, RATES, max_over_request_share=P95)
    by_request = {o.cpu_cores: o for o in sizing.options}
    assert by_request[0.3].over_request_share == 1.0
    assert (sizing.chosen.cpu_cores, sizing.chosen.over_request_share) == (0.5, 0.5)


@pytest.mark.parametrize(
    ("field", "arguments"),
    [
        ("demand", {"demand_cores": [float("nan")]}),
        ("target", {"target_utilization": 0.0}),
        ("minReplicas", {"replica_range": (3, 2)}),
        ("CPU", {"current_cpu_cores": 0.0}),
    ],
)
def test_input_it_cannot_size_from_is_refused(field: str, arguments: dict[str, object]) -> None:
    call: dict[str, object] = {
        "demand_cores": [1.0],
        "current_demand_cores": 1.0,
        "target_utilization": 0.7,
        "replica_range": (1, 5),
        "current_cpu_cores": 0.5,
        "vertical_cpu_cores": 0.3,
        "memory_bytes": MEMORY,
        "rates": RATES,
        "max_over_request_share": P95,
    } | arguments
    with pytest.raises(ValueError, match=field):
        size_jointly(**call)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(
    demand=st.lists(st.floats(0.01, 8.0), min_size=1, max_size=50),
    target=st.floats(0.3, 0.95),
    low=st.integers(1, 4),
    extra=st.integers(0, 12),
    today=st.integers(50, 2000),
    alone=st.integers(20, 2000),
    memory_mib=st.integers(16, 4096),
)
def test_the_pair_is_never_dearer_than_either_half_alone_within_the_percentile(
    demand: list[float], target: float, low: int, extra: int, today: int, alone: int, memory_mib: int
) -> None:
    sizing = size_jointly(
        demand, demand[-1], target, (low, low + extra), today / 1000, alone / 1000, memory_mib * 2**20,
        RATES, max_over_request_share=P95,
    )  # fmt: skip
    chosen = sizing.chosen
    assert chosen.replicas_now == min(
        low + extra, max(low, math.ceil(demand[-1] / (chosen.cpu_cores * target) - 1e-9))
    )
    within = [o for o in (sizing.today, sizing.vertical) if o.over_request_share <= P95]
    if chosen.over_request_share <= P95 and within:
        # Today's request is a candidate only while it is not below the vertical floor.
        reachable = [o for o in within if o.cpu_cores >= sizing.vertical.cpu_cores]
        assert all(chosen.monthly_cost <= o.monthly_cost + 1e-6 for o in reachable)
