"""The spot/on-demand split of a workload's replicas, in EC2 Auto Scaling's terms: ``onDemandBase``
replicas on on-demand capacity, then ``targetPercent`` of the rest on spot. Rounding favours
on-demand: a replica that is neither clearly spot nor on-demand goes where it cannot be reclaimed.

    on-demand = min(n, base) + ceil(max(n - base, 0) x (100 - percent) / 100);  spot = n - on-demand

Whole numbers throughout, so 11 replicas at base 1 and 70% are 4 on-demand and 7 spot on every
machine, and the rule works on arrays of workloads at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "Capacity",
    "ReplicaSplit",
    "capacity_for_next_pod",
    "on_demand_replicas",
    "pod_to_move",
    "split_replicas",
]

IntArray = npt.NDArray[np.int64]
Capacity = Literal["on-demand", "spot"]


@dataclass(frozen=True)
class ReplicaSplit:
    on_demand: int
    spot: int


def on_demand_replicas(replicas: IntArray, base: IntArray, spot_percent: IntArray) -> IntArray:
    """On-demand replicas of each workload; every argument is element-wise (broadcast)."""
    n = np.maximum(np.asarray(replicas, dtype=np.int64), 0)
    b = np.maximum(np.asarray(base, dtype=np.int64), 0)
    percent = np.clip(np.asarray(spot_percent, dtype=np.int64), 0, 100)
    above = np.maximum(n - b, 0)
    # ceil(above x (100 - percent) / 100) in integers
    result: IntArray = np.minimum(n, b) + (above * (100 - percent) + 99) // 100
    return result


def split_replicas(replicas: int, base: int, spot_percent: int) -> ReplicaSplit:
    """One workload's split."""
    on_demand = int(on_demand_replicas(np.array([replicas]), np.array([base]), np.array([spot_percent]))[0])
    return ReplicaSplit(on_demand=on_demand, spot=max(replicas, 0) - on_demand)


def capacity_for_next_pod(on_demand_now: int, spot_now: int, base: int, spot_percent: int) -> Capacity:
    """Where a new pod of a workload goes, given the pods it has on each capacity type: the type
    below its share of the split of all its pods with this one. Pods created one after another
    (20 at once from a scale) so land exactly at the split; a surge above the replicas too."""
    split = split_replicas(on_demand_now + spot_now + 1, base, spot_percent)
    return "on-demand" if on_demand_now < split.on_demand else "spot"


def pod_to_move(on_demand_now: int, spot_now: int, target: ReplicaSplit) -> Capacity | None:
    """The capacity type to take one pod off (by eviction, so that it is created again on the other),
    or None when the mix is the target's or moving would not bring it closer. Only a swap: a type
    with more pods than its target, while the other has fewer."""
    if on_demand_now > target.on_demand and spot_now < target.spot:
        return "on-demand"
    if spot_now > target.spot and on_demand_now < target.on_demand:
        return "spot"
    return None
