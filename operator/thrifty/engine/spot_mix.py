"""The spot/on-demand split of a workload's replicas, in EC2 Auto Scaling's terms: ``onDemandBase``
replicas on on-demand capacity, then ``targetPercent`` of the rest on spot. Rounding favours
on-demand: a replica that is neither clearly spot nor on-demand goes where it cannot be reclaimed.

    on-demand = min(n, base) + ceil(max(n - base, 0) x (100 - percent) / 100);  spot = n - on-demand

Whole numbers throughout, so 11 replicas at base 1 and 70% are 4 on-demand and 7 spot on every
machine, and the rule works on arrays of workloads at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["ReplicaSplit", "on_demand_replicas", "split_replicas"]

IntArray = npt.NDArray[np.int64]


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
