"""The spot/on-demand split rule: an on-demand base, a spot share above it, rounding to on-demand."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from thrifty.engine.spot_mix import (
    ReplicaSplit,
    capacity_for_next_pod,
    on_demand_replicas,
    pod_to_move,
    split_replicas,
)


def test_the_acceptance_counts() -> None:
    assert split_replicas(11, base=1, spot_percent=70) == ReplicaSplit(on_demand=4, spot=7)
    assert split_replicas(21, base=1, spot_percent=70) == ReplicaSplit(on_demand=7, spot=14)


def test_a_base_larger_than_the_replicas_puts_every_replica_on_demand() -> None:
    assert split_replicas(3, base=5, spot_percent=100) == ReplicaSplit(on_demand=3, spot=0)


def test_zero_and_a_hundred_percent() -> None:
    assert split_replicas(10, base=2, spot_percent=0) == ReplicaSplit(on_demand=10, spot=0)
    assert split_replicas(10, base=2, spot_percent=100) == ReplicaSplit(on_demand=2, spot=8)


def test_rounding_favours_on_demand() -> None:
    # 3 replicas above the base at 50%: 1.5 on-demand rounds up to 2.
    assert split_replicas(4, base=1, spot_percent=50) == ReplicaSplit(on_demand=3, spot=1)
    # 1% of one replica is still a whole on-demand replica.
    assert split_replicas(1, base=0, spot_percent=99) == ReplicaSplit(on_demand=1, spot=0)


def test_no_replicas_is_no_pods() -> None:
    assert split_replicas(0, base=1, spot_percent=70) == ReplicaSplit(on_demand=0, spot=0)


def test_many_workloads_at_once_agree_with_one_at_a_time() -> None:
    replicas, base, percent = np.array([11, 21, 3, 0]), np.array([1, 1, 5, 1]), np.array([70, 70, 100, 70])
    assert on_demand_replicas(replicas, base, percent).tolist() == [4, 7, 3, 0]


@given(st.integers(0, 500), st.integers(0, 50), st.integers(0, 100))
def test_the_split_adds_up_and_spot_never_exceeds_its_share(replicas: int, base: int, percent: int) -> None:
    split = split_replicas(replicas, base, percent)
    assert split.on_demand + split.spot == replicas
    assert min(replicas, base) <= split.on_demand <= replicas
    assert split.spot * 100 <= max(replicas - base, 0) * percent  # never more spot than asked
    assert (split.spot + 1) * 100 > max(replicas - base, 0) * percent  # and no less than its share allows


def test_twenty_pods_created_one_after_another_land_at_the_split() -> None:
    """`kubectl scale` from 1 to 21: each new pod goes where the split of all the pods so far says."""
    on_demand, spot = 1, 0
    for _ in range(20):
        if capacity_for_next_pod(on_demand, spot, base=1, spot_percent=70) == "on-demand":
            on_demand += 1
        else:
            spot += 1
    assert (on_demand, spot) == (7, 14)


@given(st.integers(1, 300), st.integers(0, 20), st.integers(0, 100))
def test_pods_added_one_at_a_time_are_always_at_the_split(pods: int, base: int, percent: int) -> None:
    on_demand = spot = 0
    for count in range(1, pods + 1):
        if capacity_for_next_pod(on_demand, spot, base, percent) == "on-demand":
            on_demand += 1
        else:
            spot += 1
        assert ReplicaSplit(on_demand, spot) == split_replicas(count, base, percent)


def test_a_drift_is_corrected_by_a_swap_only() -> None:
    target = split_replicas(11, base=1, spot_percent=70)  # 4 and 7
    assert pod_to_move(6, 5, target) == "on-demand"  # a spot node came back: move one to spot
    assert pod_to_move(2, 9, target) == "spot"
    assert pod_to_move(4, 7, target) is None
    # Scaled down to 9 pods but not yet re-split: moving would not help while both are at or under.
    assert pod_to_move(4, 5, target) is None
    # More pods than replicas on both sides (a rollout's surge): nothing to move.
    assert pod_to_move(5, 8, target) is None
