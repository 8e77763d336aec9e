"""The CPU requests of a workload that is also scaled on CPU utilization, chosen with its replicas.

Right-sizing alone would set each container's CPU to its percentile of usage, and the horizontal
half would then need more pods for the same load (a smaller request is a higher utilization). Here
the pod's CPU request comes from ``joint_sizing``: the cheapest over the usage history at the
replicas the target asks for, never below the percentile and never above today's request or the
percentile, whichever is higher. Each right-sized container gets its share of it in proportion to
its own recommendation; containers left out of right-sizing keep their requests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from thrifty.engine.cost import Rates
from thrifty.engine.horizontal import replicas_for_ratio
from thrifty.engine.joint_sizing import JointSizing, size_jointly, workload_cpu_demand
from thrifty.engine.quantities import format_cpu
from thrifty.engine.rightsizing import VerticalRecommendation, VerticalSettings, with_cpu_request
from thrifty.engine.workload_records import ContainerHistory, Workload

__all__ = ["PairedRequests", "Pairing", "pair_requests"]

Decided = list[tuple[ContainerHistory, VerticalRecommendation]]


@dataclass(frozen=True)
class Pairing:
    """What the horizontal half scales on: its CPU target, its replica range, the load now, and the
    replicas and tolerance the HPA rule counts from."""

    target_utilization: float  # a fraction: 0.7 for targetUtilization 70
    replica_range: tuple[int, int]
    demand_cores: float  # the workload's CPU use now, every pod
    replicas_now: int = 0  # 0: no pods yet, so the count is the target's own answer
    tolerance: float = 0.0
    steering: bool = False  # a forecast steers: replicas at full capacity (engine.predictive)


@dataclass(frozen=True)
class PairedRequests:
    replicas: int  # what the target asks for now at the paired requests
    pod_cpu_cores: float  # the pod's CPU request at the pair, every container
    message: str  # the trade-off, in one line
    sizing: JointSizing


def pair_requests(
    decided: Decided,
    workload: Workload,
    pairing: Pairing,
    settings: VerticalSettings,
    rates: Rates,
    hours_per_month: float,
    currency: str,
) -> tuple[Decided, PairedRequests] | None:
    """``decided`` with CPU requests paired with the replicas, and the pair; None when a container
    has no CPU recommendation (too little history) or the pod has no CPU request to scale on."""
    today = workload.pod_request("cpu")
    recommended = [rec.cpu_request for _, rec in decided]
    demand = workload_cpu_demand([history for history, _ in decided])
    if today is None or not decided or demand.size == 0 or any(r is None or r <= 0 for r in recommended):
        return None
    own = sum(r for r in recommended if r is not None)
    kept = today - sum(history.cpu_request or 0.0 for history, _ in decided)  # not right-sized
    memory = sum(rec.memory_request or history.memory_request or 0.0 for history, rec in decided)
    memory += sum(c.memory_request or 0.0 for c in workload.containers) - sum(
        history.memory_request or 0.0 for history, _ in decided
    )
    count = len(decided)
    bounds = (
        None if settings.min_cpu_cores is None else kept + settings.min_cpu_cores * count,
        None if settings.max_cpu_cores is None else kept + settings.max_cpu_cores * count,
    )
    sizing = size_jointly(
        demand,
        pairing.demand_cores,
        pairing.target_utilization,
        pairing.replica_range,
        today,
        kept + own,
        memory,
        rates,
        max_over_request_share=1 - settings.cpu_percentile / 100,
        cpu_range=bounds,
        hours_per_month=hours_per_month,
    )
    share = (sizing.chosen.cpu_cores - kept) / own
    why = _why(_replicas_at(pairing, sizing.chosen.cpu_cores), pairing)
    paired = [
        (
            history,
            with_cpu_request(
                rec, (rec.cpu_request or 0.0) * share, history.cpu_request, history.cpu_limit, settings, why
            ),
        )
        for history, rec in decided
    ]
    pod_cpu = kept + sum(rec.cpu_request or 0.0 for _, rec in paired)
    replicas = _replicas_at(pairing, pod_cpu)
    return paired, PairedRequests(replicas, pod_cpu, _message(sizing, pod_cpu, replicas, currency), sizing)


def _replicas_at(pairing: Pairing, pod_cpu: float) -> int:
    """What the horizontal step will ask for at ``pod_cpu``: the HPA rule from today's replicas, so
    that a count inside the tolerance is kept here as it is there."""
    low, high = pairing.replica_range
    if pairing.replicas_now > 0:
        ratio = pairing.demand_cores / (pairing.replicas_now * pod_cpu * pairing.target_utilization)
        needed = replicas_for_ratio(pairing.replicas_now, ratio, pairing.tolerance)
    else:
        # Load exactly at a boundary asks for that many pods, not one more (as the sizing counts them).
        needed = math.ceil(pairing.demand_cores / (pod_cpu * pairing.target_utilization) - 1e-9)
    return min(high, max(low, needed))


def _why(replicas: int, pairing: Pairing) -> str:
    at = (
        "full capacity, as the forecast steers"
        if pairing.steering
        else f"the {pairing.target_utilization:.0%} target"
    )
    return f"paired with {_count(replicas)} at {at} (the cheapest pair over the history)"


def _message(sizing: JointSizing, pod_cpu: float, replicas: int, currency: str) -> str:
    """E.g. "290m would need 6 replicas (+2.88 USD/mo); 430m at 4 replicas meets the 70% target"."""
    chosen, alone = sizing.chosen, sizing.vertical
    pair = f"{format_cpu(pod_cpu)} at {replicas} replicas"
    if alone.cpu_cores == chosen.cpu_cores:
        return f"{pair}: right-sizing's own request is the cheapest with the replicas it needs"
    extra = alone.monthly_cost - chosen.monthly_cost
    keeping = "keeping today's request, " if chosen.cpu_cores == sizing.today.cpu_cores else ""
    return (
        f"{format_cpu(alone.cpu_cores)} would need {_count(alone.replicas_now)} "
        f"({extra:+.2f} {currency}/mo); {keeping}{pair}"
    )


def _count(replicas: int) -> str:
    return f"{replicas} replicas" if replicas != 1 else "1 replica"
