"""The figures of the CostPolicy in use about its cluster (status.summary): the nodes and how many are
spot, what they cost an hour, and how much of what placement may put on spot runs there.

Figures are rounded to what a reader needs (the hourly cost to 4 decimals, the percent to 0.1), so a
resync writes the summary again only when one of them changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from thrifty.api.condition_types import PolicyReason
from thrifty.api.cost_policy import CostPolicySpec, CostPolicySummary
from thrifty.api.scaling_policy import Placement, PlacementStatus
from thrifty.engine.cost import NodeCapacity, PriceBook, rates_for_node
from thrifty.engine.placement_decision import spot_settings
from thrifty.engine.workload_prices import price_book

__all__ = [
    "NodeCosts",
    "PlacedReplicas",
    "cost_policy_summary",
    "node_costs",
    "placed_replicas",
    "spot_replica_percent",
]

# SpotPlacement reasons of a workload placement does not consider: its pods count for no mix.
_NOT_CONSIDERED = frozenset({PolicyReason.NOT_ELIGIBLE, PolicyReason.NOT_CONFIGURED})


@dataclass(frozen=True)
class NodeCosts:
    """The cluster's nodes, its spot nodes, and the hourly price of those whose price is known."""

    nodes: int
    spot_nodes: int
    hourly: float
    unpriced: int  # neither in the catalog nor of known capacity

    @property
    def shown_hourly(self) -> float | None:
        """The hourly cost as status shows it, to 4 decimals; None when no node could be priced."""
        return None if self.nodes and self.unpriced == self.nodes else round(self.hourly, 4)


def node_costs(book: PriceBook, nodes: Sequence[tuple[Mapping[str, str], NodeCapacity | None]]) -> NodeCosts:
    """Each node (its labels, and its capacity when known) at its hourly price as ``rates_for_node``
    gives it: its catalog price (spot or reserved where that applies), else its capacity at the rates."""
    spot = unpriced = 0
    hourly = 0.0
    for labels, capacity in nodes:
        rates = rates_for_node(labels, capacity, book)
        spot += rates.capacity_type == "spot"
        if rates.hourly_price is None:
            unpriced += 1
        else:
            hourly += rates.hourly_price
    return NodeCosts(len(nodes), spot, hourly, unpriced)


@dataclass(frozen=True)
class PlacedReplicas:
    """One workload placement considers: its pods on each capacity type now, and its on-demand base."""

    on_demand: int
    spot: int
    base: int


def placed_replicas(
    cost_policy: CostPolicySpec,
    override: Placement | None,
    placement: PlacementStatus | None,
    spot_placement_reason: str | None,
) -> PlacedReplicas | None:
    """A ScalingPolicy's workload as the summary counts it, from its ``spec.placement``, its
    ``status.placement`` and its SpotPlacement condition's reason; None when placement does not
    consider it (not placed, not eligible, or placement is off for it now)."""
    if placement is None or spot_placement_reason in _NOT_CONSIDERED:
        return None
    settings = spot_settings(cost_policy.spot, override, ())
    if settings is None:
        return None
    return PlacedReplicas(placement.on_demand or 0, placement.spot or 0, settings.base)


def spot_replica_percent(workloads: Sequence[PlacedReplicas]) -> float | None:
    """Percent of the replicas above their base that run on spot, over every workload; None when no
    workload has replicas above its base. A spot pod within the base (fewer on-demand pods than the
    base) is not above it, so the percent stays within 0-100."""
    above = [max(w.on_demand + w.spot - w.base, 0) for w in workloads]
    total = sum(above)
    if total == 0:
        return None
    return 100 * sum(min(w.spot, n) for w, n in zip(workloads, above, strict=True)) / total


def cost_policy_summary(
    policy: CostPolicySpec,
    nodes: Sequence[tuple[Mapping[str, str], NodeCapacity | None]],
    workloads: Sequence[PlacedReplicas],
) -> CostPolicySummary:
    """status.summary of the CostPolicy in use (``policy``), over the cluster's ``nodes`` and the
    ``workloads`` placement considers."""
    costs = node_costs(price_book(policy.pricing), nodes)
    percent = spot_replica_percent(workloads)
    return CostPolicySummary(
        pricing_source="Catalog" if policy.pricing.catalog else "Rates",
        nodes=costs.nodes,
        spot_nodes=costs.spot_nodes,
        hourly_cost=costs.shown_hourly,
        unpriced_nodes=costs.unpriced,
        spot_replica_percent=None if percent is None else round(percent, 1),
    )
