"""Prices from the CostPolicy named `default` (kept in a kopf index), OpenCost's defaults without one."""

from __future__ import annotations

from typing import Any

import kopf

from thrifty import GROUP, VERSION
from thrifty.api.cost_policy import CostPolicySpec
from thrifty.handlers.vertical import Prices

ACTIVE_COST_POLICY = "default"


@kopf.index(GROUP, VERSION, "costpolicies")
def cost_policies(name: str, spec: kopf.Spec, **_: Any) -> dict[str, CostPolicySpec]:
    return {name: CostPolicySpec.model_validate(dict(spec))}


def current_prices(index: kopf.Index[Any, Any]) -> Prices:
    found = [spec for spec in index.get(ACTIVE_COST_POLICY, []) if isinstance(spec, CostPolicySpec)]
    return Prices.on_demand((found[0] if found else CostPolicySpec()).pricing)
