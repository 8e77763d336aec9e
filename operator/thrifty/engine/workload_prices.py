"""What capacity costs a workload: the CostPolicy's pricing as the engine's ``PriceBook``, and the
rates of the nodes a workload's pods run on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from thrifty.api.cost_policy import ACTIVE_COST_POLICY, CostPolicySpec, Pricing
from thrifty.engine.cost import GpuPrices, InstanceType, PriceBook, Rates, SpotLabel, rates_for_node

__all__ = ["Prices", "active_price_book", "price_book"]


@dataclass(frozen=True)
class Prices:
    """The rates one workload is priced at, per core-hour and GiB-hour."""

    rates: Rates
    hours_per_month: float
    currency: str

    @classmethod
    def on_nodes(cls, book: PriceBook, node_labels: Sequence[Mapping[str, str]]) -> Prices:
        """The mean rates of the nodes the workload's pods run on (spot or on-demand, catalog or
        default, as the budget's cost model prices them); on-demand when no node is known."""
        rates = [rates_for_node(labels, None, book) for labels in node_labels] or [
            rates_for_node({}, None, book)
        ]
        return cls(
            rates=Rates(
                cpu_per_core_hour=sum(r.cpu_per_core_hour for r in rates) / len(rates),
                memory_per_gib_hour=sum(r.memory_per_gib_hour for r in rates) / len(rates),
            ),
            hours_per_month=book.hours_per_month,
            currency=book.currency,
        )

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
        catalog={
            item.name: InstanceType(
                item.name, item.vcpu, item.memory_gib, item.on_demand, item.gpus, item.spot, item.reserved
            )
            for item in pricing.catalog
        },
        instance_type_labels=tuple(pricing.node_labels.instance_type),
        capacity_type_labels=tuple(
            SpotLabel(label.key, tuple(label.spot_values)) for label in pricing.node_labels.capacity_type
        ),
        hours_per_month=pricing.hours_per_month,
        currency=pricing.currency,
    )
