"""How Karpenter NodePools are steered toward the spot share: which capacity type a pool carries,
the weights that make pods placement does not pin prefer the share's capacity type, and the limits
an on-demand pool needs while spot capacity is unavailable.

Nothing here writes ``spec.template``: a change there makes Karpenter replace the pool's nodes.
Weights and limits are read by Karpenter's scheduler only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from thrifty.engine.cost import InstanceType, SpotLabel, capacity_type
from thrifty.engine.quantities import format_cpu, format_memory, parse_quantity

__all__ = [
    "CAPACITY_TYPE_KEY",
    "OTHER_WEIGHT",
    "PREFERRED_WEIGHT",
    "PodNeed",
    "PoolCapacity",
    "Requirement",
    "karpenter_capacity_type",
    "labelled_capacity_type",
    "limits_text",
    "pending_need",
    "preferred_weights",
    "raised_limits",
]

PoolCapacity = Literal["Spot", "OnDemand"]
CAPACITY_TYPE_KEY: Final = "karpenter.sh/capacity-type"
# Karpenter tries NodePools from the highest weight down (1-100; unset counts as 0). The ends of the
# range make the order plain in `kubectl get nodepools -o yaml`, whatever other pools weigh.
PREFERRED_WEIGHT: Final = 100
OTHER_WEIGHT: Final = 1
_SPOT: Final = "spot"


@dataclass(frozen=True)
class Requirement:
    """One of a NodePool's ``spec.template.spec.requirements``."""

    key: str
    operator: str  # In, NotIn, Exists, DoesNotExist, Gt, Lt
    values: tuple[str, ...] = ()


def karpenter_capacity_type(requirements: Sequence[Requirement]) -> PoolCapacity | None:
    """The capacity type a NodePool's nodes can have: Spot when its capacity-type requirement allows
    spot alone, OnDemand when it rules spot out, None when it allows both (or says nothing)."""
    allowed: set[str] | None = None
    excluded: set[str] = set()
    for requirement in requirements:
        if requirement.key != CAPACITY_TYPE_KEY:
            continue
        if requirement.operator == "In":
            values = set(requirement.values)
            allowed = values if allowed is None else allowed & values
        elif requirement.operator == "NotIn":
            excluded |= set(requirement.values)
    if allowed is not None:
        allowed -= excluded
        if allowed == {_SPOT}:
            return "Spot"
        return "OnDemand" if allowed and _SPOT not in allowed else None
    return "OnDemand" if _SPOT in excluded else None


def labelled_capacity_type(labels: Mapping[str, str], keys: Sequence[SpotLabel]) -> PoolCapacity | None:
    """The capacity type node labels give (a MachineDeployment's template labels), as the cost model
    reads a node's; None when they carry none of the capacity-type keys."""
    if not any(label.key in labels for label in keys):
        return None
    return "Spot" if capacity_type(labels, keys) == "spot" else "OnDemand"


def preferred_weights(spot_percent: int) -> dict[PoolCapacity, int]:
    """The weight of each capacity type's pools: spot first whenever the share puts any replica on
    spot, on-demand first when it puts none there."""
    if spot_percent > 0:
        return {"Spot": PREFERRED_WEIGHT, "OnDemand": OTHER_WEIGHT}
    return {"Spot": OTHER_WEIGHT, "OnDemand": PREFERRED_WEIGHT}


@dataclass(frozen=True)
class PodNeed:
    """What one Pending pod requests: cores and bytes."""

    cpu: float
    memory: float


def pending_need(pods: Sequence[PodNeed], catalog: Sequence[InstanceType]) -> PodNeed:
    """The node capacity the Pending pods need: each pod at the smallest (cheapest on-demand) catalog
    instance type whose capacity fits it, since a pool's limits count the capacity of whole nodes and
    a node also carries its own reservations; a pod no type fits, or every pod without a catalog,
    counts at its requests."""
    cpu = memory = 0.0
    gib = 2.0**30
    by_price = sorted(catalog, key=lambda t: (t.on_demand, t.vcpus, t.memory_gib))
    for pod in pods:
        fits = next((t for t in by_price if t.vcpus > pod.cpu and t.memory_gib * gib > pod.memory), None)
        if fits is None:
            cpu, memory = cpu + pod.cpu, memory + pod.memory
        else:
            cpu, memory = cpu + fits.vcpus, memory + fits.memory_gib * gib
    return PodNeed(cpu, memory)


def raised_limits(base: Mapping[str, str], need: PodNeed) -> dict[str, str]:
    """``base`` with its cpu and memory limits raised by ``need``; a resource the pool does not limit
    stays unlimited, and other limits (GPUs, pods) stay as they are."""
    raised = dict(base)
    if "cpu" in base and need.cpu > 0:
        raised["cpu"] = format_cpu(math.ceil(parse_quantity(base["cpu"]) + need.cpu))
    if "memory" in base and need.memory > 0:
        raised["memory"] = format_memory(parse_quantity(base["memory"]) + need.memory)
    return raised


def limits_text(limits: Mapping[str, str] | None) -> str:
    """Limits for a sentence or a status field: "cpu=8,memory=32Gi", or "none"."""
    if not limits:
        return "none"
    return ",".join(f"{key}={value}" for key, value in sorted(limits.items()))
