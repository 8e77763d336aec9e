"""Prices from the CostPolicy named `default` (kept in a kopf index), OpenCost's defaults without one."""

from __future__ import annotations

from typing import Any

import kopf

from thrifty import GROUP, VERSION
from thrifty.api.cost_policy import CostPolicySpec, Pricing
from thrifty.engine.cost import GpuPrices, InstanceType, PriceBook, Rates, SpotLabel

ACTIVE_COST_POLICY = "default"


@kopf.index(GROUP, VERSION, "costpolicies")
def cost_policies(name: str, spec: kopf.Spec, **_: Any) -> dict[str, CostPolicySpec]:
    return {name: CostPolicySpec.model_validate(dict(spec))}


def current_price_book(index: kopf.Index[Any, Any]) -> PriceBook:
    found = [spec for spec in index.get(ACTIVE_COST_POLICY, []) if isinstance(spec, CostPolicySpec)]
    return price_book((found[0] if found else CostPolicySpec()).pricing)


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
