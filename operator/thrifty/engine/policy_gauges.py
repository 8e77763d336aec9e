"""A ScalingPolicy's status as gauge samples: replicas, requests and monthly cost, now and
recommended, the share of its pods on spot, and whether its data is stale.

The status (wire form, as written to the cluster) is the only source, so /metrics and
`kubectl get` never disagree; a figure the status does not have gives no sample.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Any, Final, NamedTuple

from thrifty.api.condition_types import BudgetReason, PolicyReason
from thrifty.api.conditions import READY
from thrifty.engine.quantities import parse_quantity

__all__ = [
    "MONTHLY_COST",
    "RECOMMENDED_MONTHLY_COST",
    "RECOMMENDED_REPLICAS",
    "RECOMMENDED_REQUESTS",
    "REPLICAS",
    "REQUESTS",
    "SPOT_SHARE",
    "STALE",
    "STALE_DATA_REASONS",
    "GaugeSample",
    "policy_samples",
    "stale",
]

# Each gauge's samples carry the policy's namespace and name, then the labels named here.
REPLICAS: Final = "replicas"
RECOMMENDED_REPLICAS: Final = "recommended_replicas"
REQUESTS: Final = "requests"  # labels: container, resource
RECOMMENDED_REQUESTS: Final = "recommended_requests"  # labels: container, resource
MONTHLY_COST: Final = "monthly_cost"  # label: currency
RECOMMENDED_MONTHLY_COST: Final = "recommended_monthly_cost"  # label: currency
SPOT_SHARE: Final = "spot_share"
STALE: Final = "stale"

# A Ready=False for one of these is about the data, not the spec or the cluster: Prometheus did not
# answer, or answered without what a decision needs. StaleData is a budget's word for old cost data;
# a policy that ever gives it means the same.
STALE_DATA_REASONS: Final = frozenset(
    {
        PolicyReason.PROMETHEUS_UNAVAILABLE,
        PolicyReason.NO_DATA,
        PolicyReason.PARTIAL_DATA,
        PolicyReason.QUERY_RETURNED_NOTHING,
        PolicyReason.QUERY_RETURNED_NAN,
        BudgetReason.STALE_DATA,
    }
)
# Requests are shown in the units the scheduler counts: cores and bytes.
_RESOURCES: Final = ("cpu", "memory")


# A named tuple, not a dataclass: a round makes a dozen for each of thousands of policies.
class GaugeSample(NamedTuple):
    gauge: str  # one of the names above
    labels: tuple[str, ...]  # the gauge's own labels, in the order given above
    value: float


def policy_samples(status: Mapping[str, Any]) -> list[GaugeSample]:
    """The samples a policy's ``status`` gives; ``stale`` is always among them (0 or 1)."""
    samples: list[GaugeSample] = []
    _add(samples, REPLICAS, (), status.get("currentReplicas"))
    recommendation = status.get("recommendation") or {}
    _add(samples, RECOMMENDED_REPLICAS, (), recommendation.get("replicas"))
    for container in recommendation.get("containers") or []:
        name = str(container.get("name", ""))
        for gauge, side in ((REQUESTS, "current"), (RECOMMENDED_REQUESTS, "recommended")):
            requests = (container.get(side) or {}).get("requests") or {}
            for resource in _RESOURCES:
                _add(samples, gauge, (name, resource), _quantity(requests.get(resource)))
    cost = status.get("cost") or {}
    currency = (str(cost.get("currency") or ""),)
    _add(samples, MONTHLY_COST, currency, cost.get("monthlyCurrent"))
    _add(samples, RECOMMENDED_MONTHLY_COST, currency, cost.get("monthlyRecommended"))
    placement = status.get("placement")
    if placement:
        spot, on_demand = _number(placement.get("spot")) or 0.0, _number(placement.get("onDemand")) or 0.0
        if spot + on_demand > 0:
            # Of the pods placed: one waiting without a capacity type is on neither.
            samples.append(GaugeSample(SPOT_SHARE, (), spot / (spot + on_demand)))
    samples.append(GaugeSample(STALE, (), 1.0 if stale(status) else 0.0))
    return samples


def stale(status: Mapping[str, Any]) -> bool:
    """Whether the policy's Ready condition is False for want of data."""
    return any(
        c.get("type") == READY and c.get("status") == "False" and c.get("reason") in STALE_DATA_REASONS
        for c in status.get("conditions") or []
    )


def _add(samples: list[GaugeSample], gauge: str, labels: tuple[str, ...], value: Any) -> None:
    number = _number(value)
    if number is not None:
        samples.append(GaugeSample(gauge, labels, number))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _quantity(value: Any) -> float | None:
    return _parsed(value) if isinstance(value, str | int | float) and not isinstance(value, bool) else None


@functools.lru_cache(maxsize=4096)  # a cluster's requests are a few hundred distinct quantities
def _parsed(value: str | float) -> float | None:
    try:
        return parse_quantity(value)
    except ValueError:
        return None  # not a quantity this operator wrote; no sample rather than a wrong one
