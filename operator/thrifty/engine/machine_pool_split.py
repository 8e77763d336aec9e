"""Cluster API MachineDeployments at the spot share: the spot and on-demand pools keep the total the
cluster autoscaler (or a person) gave them, split by spot.targetPercent with on-demand rounded up,
each within its autoscaler min/max size annotations.

Only the split moves, so the operator never fights the autoscaler over how many nodes there are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from thrifty.engine.node_pool_steering import PoolCapacity
from thrifty.engine.spot_mix import split_replicas

__all__ = ["MachinePool", "MachineTarget", "machine_pool_targets"]


@dataclass(frozen=True)
class MachinePool:
    """A MachineDeployment as the split sees it."""

    name: str
    capacity: PoolCapacity
    replicas: int
    min_size: int | None  # cluster.x-k8s.io/cluster-api-autoscaler-node-group-min-size
    max_size: int | None  # ...-max-size
    writable: bool  # Replicas is in its allowedChanges

    def bounded(self, wanted: int) -> int:
        low = 0 if self.min_size is None else self.min_size
        high = wanted if self.max_size is None else self.max_size
        return max(low, min(wanted, high))

    def bounds_text(self) -> str:
        return f"min-size {self.min_size if self.min_size is not None else 'unset'}, max-size " + (
            str(self.max_size) if self.max_size is not None else "unset"
        )


@dataclass(frozen=True)
class MachineTarget:
    """The replicas one pool is to have, and why."""

    replicas: int
    reason: str


def machine_pool_targets(pools: Sequence[MachinePool], spot_percent: int) -> list[MachineTarget | None]:
    """For each pool, its target (None: left as it is). Nothing moves unless both capacity types have
    a pool and some pool may be written; pools that may not be written keep their replicas and count
    toward the split. Within a capacity type, pools fill in the listed order."""
    capacities = {p.capacity for p in pools}
    if capacities != {"Spot", "OnDemand"} or not any(p.writable for p in pools):
        return [None] * len(pools)
    total = sum(p.replicas for p in pools)
    split = split_replicas(total, 0, spot_percent)
    wanted: dict[PoolCapacity, int] = {"Spot": split.spot, "OnDemand": split.on_demand}
    placed = _fill(pools, wanted)
    got = {kind: sum(n for p, n in zip(pools, placed, strict=True) if p.capacity == kind) for kind in wanted}
    # What one type's bounds would not take (or forced on it) goes to the other: the total stays whole.
    pairs: tuple[tuple[PoolCapacity, PoolCapacity], ...] = (("Spot", "OnDemand"), ("OnDemand", "Spot"))
    for held, other in pairs:
        if got[held] != wanted[held]:
            placed = _fill(pools, {held: got[held], other: total - got[held]})
            break
    targets: list[MachineTarget | None] = []
    for pool, replicas in zip(pools, placed, strict=True):
        if not pool.writable or replicas == pool.replicas:
            targets.append(None)
            continue
        share = f"{spot_percent}% of {total} nodes on spot"
        asked = wanted[pool.capacity] if _alone(pools, pool) else None
        if asked is None or asked == replicas:
            why = f"{share}: {split.on_demand} on-demand, {split.spot} spot"
        elif pool.bounded(asked) != asked:
            why = f"{share} asks for {asked}; held at {replicas} by its {pool.bounds_text()}"
        else:
            why = f"{share} asks for {asked}; {replicas} with what the other pools' bounds refuse"
        targets.append(MachineTarget(replicas, why))
    return targets


def _alone(pools: Sequence[MachinePool], pool: MachinePool) -> bool:
    return sum(p.capacity == pool.capacity for p in pools) == 1


def _fill(pools: Sequence[MachinePool], wanted: dict[PoolCapacity, int]) -> list[int]:
    """Replicas per pool: fixed pools keep theirs; writable ones of a type share what is left of the
    type's count in listed order, each within its bounds (the last one takes any remainder it can)."""
    left = dict(wanted)
    for pool in pools:
        if not pool.writable:
            left[pool.capacity] -= pool.replicas
    placed = []
    writable_left = {kind: sum(p.writable and p.capacity == kind for p in pools) for kind in wanted}
    for pool in pools:
        if not pool.writable:
            placed.append(pool.replicas)
            continue
        writable_left[pool.capacity] -= 1
        last = writable_left[pool.capacity] == 0
        share = left[pool.capacity] if last else min(pool.replicas, left[pool.capacity])
        replicas = pool.bounded(max(share, 0))
        left[pool.capacity] -= replicas
        placed.append(replicas)
    return placed
