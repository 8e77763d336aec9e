"""The spot/on-demand split rule: an on-demand base, a spot share above it, rounding to on-demand."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from thrifty.engine.spot_mix import ReplicaSplit, on_demand_replicas, split_replicas


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
