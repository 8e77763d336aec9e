"""One decision for replicas and CPU requests of a workload scaled on CPU utilization.

The horizontal half sets replicas from utilization, which is usage over the request, so the CPU
request the vertical half picks changes the replicas: 1.2 cores at a 70% target are 4 pods of 500m
but 6 of 290m. Deciding each alone gives a pair that neither half would choose. Here the pod's CPU
request is chosen for the lowest cost over the workload's demand history, with the replicas the
target asks for at that request, step by step:

- replicas(step) = clamp(ceil(demand(step) / (request x target)), minReplicas, maxReplicas);
- cost(step) = replicas(step) x (request x CPU rate + memory per pod x memory rate): memory per pod
  does not shrink with more pods, and minReplicas keeps paying for pods when demand is low;
- a request is acceptable when the pods' usage is above it in no more of the steps than the vertical
  percentile allows (the 5% of p95).

The request stays between the vertical recommendation (the floor, as on its own) and today's
request or that recommendation, whichever is higher: fewer, larger pods than today are often
cheaper still (memory per pod), but they change the pod's shape and its fit on nodes, which is the
user's call (raise the request and it is taken into account). Within that range the candidates are
its two ends and the request that makes each replica count exactly meet the target at today's
demand. Costs are compared over the whole history, so a request that fits today's demand but wastes
a large pod at night is not chosen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from thrifty.engine.cost import HOURS_PER_MONTH, Rates
from thrifty.engine.quantities import GiB
from thrifty.engine.workload_records import ContainerHistory

__all__ = ["JointSizing", "SizingOption", "size_jointly", "workload_cpu_demand"]

FloatArray = npt.NDArray[np.float64]

# Requests are chosen in whole millicores, as a pod template holds them.
_MILLICORE = 0.001
# Demand exactly at a replica boundary asks for that many pods, not one more.
_BOUNDARY = 1e-9


@dataclass(frozen=True)
class SizingOption:
    """A CPU request per pod with the replicas the target asks for at it."""

    cpu_cores: float  # the pod's CPU request (all its containers)
    replicas_now: int  # at today's demand
    mean_replicas: float  # over the demand history
    monthly_cost: float  # the mean over the history, per month
    over_request_share: float  # share of steps with the pods' usage above their request


@dataclass(frozen=True)
class JointSizing:
    chosen: SizingOption
    today: SizingOption  # today's request, at the replicas the target asks for
    vertical: SizingOption  # the vertical recommendation alone, at the replicas it would need
    options: tuple[SizingOption, ...]  # every candidate, the chosen one among them

    @property
    def monthly_savings(self) -> float:
        """What the chosen pair saves a month against today's request at its replicas."""
        return self.today.monthly_cost - self.chosen.monthly_cost


def size_jointly(
    demand_cores: Sequence[float] | FloatArray,
    current_demand_cores: float,
    target_utilization: float,
    replica_range: tuple[int, int],
    current_cpu_cores: float,
    vertical_cpu_cores: float,
    memory_bytes: float,
    rates: Rates,
    *,
    max_over_request_share: float,
    cpu_range: tuple[float | None, float | None] = (None, None),
    hours_per_month: float = HOURS_PER_MONTH,
) -> JointSizing:
    """The cheapest acceptable CPU request per pod and its replicas.

    ``demand_cores`` is the workload's total CPU usage per history step (all pods, all containers);
    ``target_utilization`` a fraction (0.7); ``cpu_range`` the vertical minAllowed and maxAllowed of
    the pod's request. When no candidate is within the percentile (the history exceeds what
    maxReplicas can carry), the one with the fewest steps over its request is chosen.
    """
    demand = np.asarray(demand_cores, dtype=np.float64)
    demand = demand[np.isfinite(demand)]
    low, high = replica_range
    if demand.size == 0:
        raise ValueError("no demand history to size from")
    if target_utilization <= 0 or not 0 < low <= high:
        raise ValueError("the target must be positive and 0 < minReplicas <= maxReplicas")
    if current_cpu_cores <= 0 or vertical_cpu_cores <= 0:
        raise ValueError("CPU requests must be positive")
    least, most = cpu_range
    bottom = _millicores(_within(vertical_cpu_cores, least or 0.0, most))
    top = _millicores(_within(max(current_cpu_cores, vertical_cpu_cores), bottom, most))
    exact = [current_demand_cores / (n * target_utilization) for n in range(low, high + 1)]
    allowed = {bottom, top, *(_millicores(_within(r, bottom, top)) for r in exact)}
    today, alone = _millicores(current_cpu_cores), _millicores(vertical_cpu_cores)
    requests = np.array(sorted(allowed | {today, alone}))
    pod_costs = requests * rates.cpu_per_core_hour + memory_bytes / GiB * rates.memory_per_gib_hour
    options = _options(
        requests, pod_costs * hours_per_month, demand, current_demand_cores, target_utilization, low, high
    )
    by_request = {option.cpu_cores: option for option in options}
    acceptable = [
        o for o in options if o.cpu_cores in allowed and o.over_request_share <= max_over_request_share
    ] or [o for o in options if o.cpu_cores in allowed]
    # Least over the request first (all are within the percentile but when none is), then the
    # cheapest; among equal costs, the request nearest today's changes the least.
    chosen = min(
        acceptable,
        key=lambda o: (
            max(o.over_request_share, max_over_request_share),
            round(o.monthly_cost, 6),
            abs(o.cpu_cores - today),
        ),
    )
    return JointSizing(
        chosen=chosen, today=by_request[today], vertical=by_request[alone], options=tuple(options)
    )


def _options(
    requests: FloatArray,
    pod_costs: FloatArray,
    demand: FloatArray,
    current_demand: float,
    target: float,
    low: int,
    high: int,
) -> list[SizingOption]:
    # (candidates, steps): every candidate over the whole history in one pass.
    per_pod_capacity = requests[:, None] * target
    replicas = np.clip(np.ceil(demand[None, :] / per_pod_capacity - _BOUNDARY), low, high)
    # Usage exactly at the request (a 100% target's exact fit) is not over it, float noise aside.
    over = demand[None, :] / replicas > requests[:, None] * (1 + _BOUNDARY)
    monthly = replicas.mean(axis=1) * pod_costs
    now = np.clip(np.ceil(current_demand / (requests * target) - _BOUNDARY), low, high)
    return [
        SizingOption(
            cpu_cores=float(requests[i]),
            replicas_now=int(now[i]),
            mean_replicas=float(replicas[i].mean()),
            monthly_cost=float(monthly[i]),
            over_request_share=float(over[i].mean()),
        )
        for i in range(requests.size)
    ]


def _within(value: float, low: float, high: float | None) -> float:
    return max(low, value if high is None else min(value, high))


def _millicores(cores: float) -> float:
    """Whole millicores, up: a request rounded down would miss the target it was computed for."""
    return round(float(np.ceil(cores / _MILLICORE - 1e-6)) * _MILLICORE, 3)


def workload_cpu_demand(histories: Sequence[ContainerHistory]) -> FloatArray:
    """The workload's CPU usage per step: every pod of every container summed (steps where none has
    a sample dropped). A container's history ends at its last sample, as they all do now, so they
    are summed aligned at the end."""
    totals = [
        np.where(np.all(np.isnan(h.cpu_cores), axis=0), np.nan, np.nansum(h.cpu_cores, axis=0))
        for h in histories
        if h.cpu_cores.size
    ]
    if not totals:
        return np.zeros(0)
    width = min(t.shape[0] for t in totals)
    summed = np.sum([t[t.shape[0] - width :] for t in totals], axis=0)
    return np.asarray(summed[np.isfinite(summed)], dtype=np.float64)
