"""Node pools in the engine: which capacity type a Karpenter NodePool carries, its weight and the limits
a fallback needs, and Cluster API MachineDeployments split at the spot share within their bounds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from thrifty.engine.cost import InstanceType
from thrifty.engine.machine_pool_split import MachinePool, machine_pool_targets
from thrifty.engine.node_pool_steering import (
    PodNeed,
    Requirement,
    karpenter_capacity_type,
    limits_text,
    pending_need,
    preferred_weights,
    raised_limits,
)

KEY = "karpenter.sh/capacity-type"
CATALOG = [
    InstanceType("m5.xlarge", 4, 16, 0.192, spot=0.07),
    InstanceType("m5.large", 2, 8, 0.096, spot=0.035),
]


@pytest.mark.parametrize(
    ("requirements", "expected"),
    [
        ([Requirement(KEY, "In", ("spot",))], "Spot"),
        ([Requirement(KEY, "In", ("on-demand",))], "OnDemand"),
        ([Requirement(KEY, "In", ("on-demand", "reserved"))], "OnDemand"),
        ([Requirement(KEY, "NotIn", ("spot",))], "OnDemand"),
        ([Requirement(KEY, "In", ("spot", "on-demand"))], None),
        ([Requirement(KEY, "In", ("spot", "on-demand")), Requirement(KEY, "NotIn", ("on-demand",))], "Spot"),
        ([Requirement("node.kubernetes.io/instance-type", "In", ("m5.large",))], None),
        ([], None),
    ],
)
def test_a_pool_carries_the_capacity_type_its_requirements_allow(
    requirements: list[Requirement], expected: str | None
) -> None:
    assert karpenter_capacity_type(requirements) == expected


def test_spot_pools_come_first_while_the_share_puts_anything_on_spot() -> None:
    assert preferred_weights(70) == {"Spot": 100, "OnDemand": 1}
    assert preferred_weights(1) == {"Spot": 100, "OnDemand": 1}
    assert preferred_weights(0) == {"Spot": 1, "OnDemand": 100}


def test_a_waiting_pod_needs_the_smallest_node_that_fits_it() -> None:
    # 1 CPU fits an m5.large (2 vCPU, some of it reserved); 3 CPU needs an m5.xlarge.
    need = pending_need([PodNeed(1.0, 2**30), PodNeed(1.0, 2**30), PodNeed(3.0, 2**30)], CATALOG)
    assert need == PodNeed(2 + 2 + 4, (8 + 8 + 16) * 2**30)


def test_without_a_fitting_type_a_pod_counts_at_its_requests() -> None:
    assert pending_need([PodNeed(6.0, 2**30)], CATALOG) == PodNeed(6.0, 2**30)
    assert pending_need([PodNeed(0.5, 2**29)], []) == PodNeed(0.5, 2**29)


def test_limits_rise_by_the_need_and_unlimited_resources_stay_unlimited() -> None:
    assert raised_limits({"cpu": "8", "memory": "32Gi"}, PodNeed(4.0, 16 * 2**30)) == {
        "cpu": "12",
        "memory": "48Gi",
    }
    assert raised_limits({"cpu": "8"}, PodNeed(4.0, 16 * 2**30)) == {"cpu": "12"}
    assert raised_limits({"cpu": "1500m", "nvidia.com/gpu": "2"}, PodNeed(2.0, 0)) == {
        "cpu": "4",
        "nvidia.com/gpu": "2",
    }
    assert raised_limits({}, PodNeed(4.0, 2**30)) == {}


def test_limits_read_as_one_phrase() -> None:
    assert limits_text({"memory": "32Gi", "cpu": "8"}) == "cpu=8,memory=32Gi"
    assert limits_text(None) == "none"


def _pool(name: str, capacity: str, replicas: int, low: int | None = 1, high: int | None = 5) -> MachinePool:
    return MachinePool(name, capacity, replicas, low, high, writable=True)  # type: ignore[arg-type]


def test_a_spot_pool_asked_for_more_than_its_max_size_is_held_there_and_the_rest_stays_on_demand() -> None:
    spot, on_demand = _pool("spot", "Spot", 1), _pool("od", "OnDemand", 9, 1, 20)
    targets = machine_pool_targets([spot, on_demand], 70)
    assert targets[0] is not None
    assert targets[0].replicas == 5
    assert "asks for 7; held at 5 by its min-size 1, max-size 5" in targets[0].reason
    assert targets[1] is not None
    assert targets[1].replicas == 5


def test_pools_at_the_split_are_left_as_they_are() -> None:
    assert machine_pool_targets([_pool("spot", "Spot", 7, 0, 10), _pool("od", "OnDemand", 3, 0, 10)], 70) == [
        None,
        None,
    ]


def test_one_capacity_type_alone_or_nothing_writable_moves_nothing() -> None:
    assert machine_pool_targets([_pool("a", "Spot", 1), _pool("b", "Spot", 3)], 70) == [None, None]
    fixed = [
        MachinePool("s", "Spot", 1, None, None, writable=False),
        MachinePool("o", "OnDemand", 9, None, None, writable=False),
    ]
    assert machine_pool_targets(fixed, 70) == [None, None]


@given(
    spot=st.integers(0, 30),
    on_demand=st.integers(0, 30),
    percent=st.integers(0, 100),
    spot_max=st.integers(0, 40),
    on_demand_max=st.integers(0, 40),
)
def test_the_split_keeps_every_pool_within_its_bounds_and_the_total_whenever_the_bounds_allow(
    spot: int, on_demand: int, percent: int, spot_max: int, on_demand_max: int
) -> None:
    pools = [_pool("s", "Spot", spot, 0, spot_max), _pool("o", "OnDemand", on_demand, 0, on_demand_max)]
    targets = machine_pool_targets(pools, percent)
    after = [t.replicas if t is not None else p.replicas for p, t in zip(pools, targets, strict=True)]
    assert 0 <= after[0] <= max(spot_max, 0)
    assert 0 <= after[1] <= max(on_demand_max, 0)
    if spot + on_demand <= spot_max + on_demand_max:
        assert sum(after) == spot + on_demand
