"""What capacity costs a workload: the CostPolicy's pricing as the engine's ``PriceBook``, the rates
of the nodes a workload's pods run on, and the mix placement steers them to."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from thrifty.api.cost_policy import (
    ACTIVE_COST_POLICY,
    INTERRUPTION_RISK,
    CostPolicySpec,
    InstancePrice,
    Pricing,
)
from thrifty.engine.cost import (
    GpuPrices,
    InstanceType,
    NodeRates,
    PriceBook,
    Rates,
    SpotInterruption,
    SpotLabel,
    capacity_type,
    rates_for_node,
)
from thrifty.engine.spot_mix import ReplicaSplit
from thrifty.engine.spot_savings import SpotPlan, spot_risk

__all__ = ["Prices", "active_price_book", "price_book"]


@dataclass(frozen=True)
class Prices:
    """The rates one workload is priced at, per core-hour and GiB-hour."""

    rates: Rates
    hours_per_month: float
    currency: str
    # The rates at the spot/on-demand mix placement steers the pods to; None: they stay where they run.
    planned: Rates | None = None
    # That mix's spot pods, the rates of each capacity type and the spot nodes' interruption risk.
    spot_plan: SpotPlan | None = None

    @classmethod
    def on_nodes(cls, book: PriceBook, node_labels: Sequence[Mapping[str, str]]) -> Prices:
        """The mean rates of the nodes the workload's pods run on (spot or on-demand, catalog or
        default, as the budget's cost model prices them); on-demand when no node is known."""
        rates = [rates_for_node(labels, None, book) for labels in node_labels] or [
            rates_for_node({}, None, book)
        ]
        return cls(
            rates=_mean(rates, [1.0] * len(rates)),
            hours_per_month=book.hours_per_month,
            currency=book.currency,
        )

    def at_mix(
        self, book: PriceBook, cluster_nodes: Sequence[Mapping[str, str]], mix: ReplicaSplit
    ) -> Prices:
        """These prices, planned at ``mix``: each pod at the mean rates of the cluster's nodes of its
        capacity type (a default node of the type when the cluster has none), with the plan that
        prices the spot pods' savings and their interruption risk."""
        if mix.on_demand + mix.spot == 0:
            return self
        by_type: dict[str, list[NodeRates]] = {"on-demand": [], "spot": []}
        spot_nodes = []
        for labels in cluster_nodes:
            kind = capacity_type(labels, book.capacity_type_labels)
            by_type[kind].append(rates_for_node(labels, None, book))
            if kind == "spot":
                spot_nodes.append(labels)
        spot_label = book.capacity_type_labels[0] if book.capacity_type_labels else None
        defaults = {
            "on-demand": {},
            "spot": {spot_label.key: spot_label.spot_values[0]} if spot_label else {},
        }
        means = {
            kind: _mean(found or [rates_for_node(defaults[kind], None, book)], [1.0] * max(len(found), 1))
            for kind, found in by_type.items()
        }
        planned = _mean([means["on-demand"], means["spot"]], [float(mix.on_demand), float(mix.spot)])
        plan = SpotPlan(mix.spot, means["on-demand"], means["spot"], spot_risk(book, spot_nodes))
        return dataclasses.replace(self, planned=planned, spot_plan=plan)

    @classmethod
    def on_demand(cls, pricing: Pricing) -> Prices:
        """On-demand rates: which capacity each pod runs on is the cost model's business, not sizing's."""
        return cls(
            rates=Rates(
                cpu_per_core_hour=pricing.on_demand.cpu, memory_per_gib_hour=pricing.on_demand.memory
            ),
            hours_per_month=pricing.hours_per_month,
            currency=pricing.currency,
        )


def active_price_book(policies: Mapping[str, CostPolicySpec]) -> PriceBook:
    """The prices of the CostPolicy in use (named ``default``); OpenCost's defaults without one."""
    return price_book(policies.get(ACTIVE_COST_POLICY, CostPolicySpec()).pricing)


def price_book(pricing: Pricing) -> PriceBook:
    """The engine's view of CostPolicy.spec.pricing: rates, catalog and the node labels that matter."""
    return PriceBook(
        on_demand=Rates(pricing.on_demand.cpu, pricing.on_demand.memory),
        spot=Rates(pricing.spot.cpu, pricing.spot.memory),
        on_demand_gpu=GpuPrices(pricing.on_demand.gpu, dict(pricing.on_demand.gpu_models)),
        spot_gpu=GpuPrices(pricing.spot.gpu, dict(pricing.spot.gpu_models)),
        catalog={item.name: _instance_type(item) for item in pricing.catalog},
        instance_type_labels=tuple(pricing.node_labels.instance_type),
        capacity_type_labels=tuple(
            SpotLabel(label.key, tuple(label.spot_values)) for label in pricing.node_labels.capacity_type
        ),
        hours_per_month=pricing.hours_per_month,
        currency=pricing.currency,
    )


def _instance_type(item: InstancePrice) -> InstanceType:
    frequency = item.interruption_frequency
    return InstanceType(
        item.name,
        item.vcpu,
        item.memory_gib,
        item.on_demand,
        item.gpus,
        item.spot,
        item.reserved,
        None if frequency is None else SpotInterruption(frequency, INTERRUPTION_RISK[frequency]),
    )


def _mean(rates: Sequence[Rates | NodeRates], weights: Sequence[float]) -> Rates:
    total = sum(weights)
    return Rates(
        cpu_per_core_hour=sum(r.cpu_per_core_hour * w for r, w in zip(rates, weights, strict=True)) / total,
        memory_per_gib_hour=sum(r.memory_per_gib_hour * w for r, w in zip(rates, weights, strict=True))
        / total,
    )
