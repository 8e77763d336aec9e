"""Replay a demand trace through scaling policies and compare what each costs and misses.

Demand is in any unit a replica has a capacity in (requests/s, cores). The model:

- Time: the controller runs every ``sync_seconds`` (15 s, the HPA's default sync period) from the
  trace's first timestamp to the end of its last row. Demand between rows is piecewise constant:
  each row holds until the next one, which is how the real traces were recorded (every row
  aggregates one stride). The metric sees the current row's demand without delay.
- Metric: usage ratio = demand / (replicas x capacity x target). Every replica counts, the starting
  ones too, as the HPA counts not-yet-ready pods at 0% usage when scaling up; so the HPA's
  ceil(replicas x ratio) is ceil(demand / (capacity x target)). The metric sees the offered demand
  even above the ready capacity (a request rate at the ingress, not a CPU that saturates at its
  limit). ``target_utilization`` (0.7, a common HPA CPU target) is the same for every policy, so
  they differ only in how they get there.
- Pods: a new replica serves after ``startup_seconds``; a removed one stops at once. Removals take
  the youngest pods first, as a ReplicaSet deletes not-ready and newer pods first. Every replica
  costs from the moment it is requested, ready or not. Each policy starts warm: at the HPA's answer
  for the first row, every pod ready.
- Policies: ``oracle`` has ceil(demand / capacity) replicas at every step, ready at once (clipped to
  min/max): the lowest cost that never falls short. ``hpa`` is decide() with the HPA's defaults.
  ``thrifty-reactive`` is decide() with the ScalingPolicy API's defaults (the HPA's, by design), and
  ``thrifty-predictive`` adds the forecast (see :mod:`thrifty.engine.replay`).
- Metrics, per step: a step is underprovisioned when demand exceeds the ready replicas' capacity
  (at 100%, not at the target); the shortfall is how much; scale events count replica changes.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Final

import numpy as np
import numpy.typing as npt

from thrifty.engine.horizontal import HorizontalSettings
from thrifty.engine.replay import Pods, PredictiveSettings, replay

FloatArray = npt.NDArray[np.float64]

POLICIES: Final = ("oracle", "hpa", "thrifty-reactive", "thrifty-predictive")
SHORTFALL_TOLERANCE: Final = 1e-9  # relative: float noise in demand / capacity is not a shortfall


@dataclass(frozen=True)
class SimulationSettings:
    capacity_per_replica: float
    startup_seconds: float = 120.0
    price_per_replica_hour: float = 0.1
    min_replicas: int = 1
    max_replicas: int = 1000
    target_utilization: float = 0.7
    sync_seconds: float = 15.0
    predictive: PredictiveSettings = field(default_factory=PredictiveSettings)
    # Thrifty's policies' tolerance and behavior (a ScalingPolicy's); None: the API's defaults.
    thrifty_rules: HorizontalSettings | None = None

    def __post_init__(self) -> None:
        if self.capacity_per_replica <= 0 or self.sync_seconds <= 0:
            raise ValueError("capacity_per_replica and sync_seconds must be positive")
        if self.startup_seconds < 0 or self.price_per_replica_hour < 0:
            raise ValueError("startup_seconds and price_per_replica_hour must be non-negative")
        if not 1 <= self.min_replicas <= self.max_replicas:
            raise ValueError("need 1 <= min_replicas <= max_replicas")
        if not 0 < self.target_utilization <= 1:
            raise ValueError("target_utilization must be within (0, 1]")


@dataclass(frozen=True)
class PolicyResult:
    policy: str
    replica_hours: float
    cost: float
    cost_vs_oracle: float
    underprovisioned_fraction: float
    max_shortfall: float
    scale_events: int
    mean_replicas: float
    max_replicas: int
    elapsed_seconds: float
    notes: str


@dataclass(frozen=True, eq=False)
class PolicyRun:
    """One policy's replicas over the simulation's steps: requested and ready."""

    replicas: npt.NDArray[np.int64]
    ready: npt.NDArray[np.int64]
    notes: str
    elapsed_seconds: float


@dataclass(frozen=True, eq=False)
class SimulationResult:
    times: FloatArray
    demand: FloatArray
    runs: dict[str, PolicyRun]
    results: dict[str, PolicyResult]
    settings: SimulationSettings


def hpa_settings(settings: SimulationSettings) -> HorizontalSettings:
    """The HPA's defaults: tolerance 0.1, up max(100%, 4 pods) per 15 s, down 100% per 15 s after 300 s."""
    return HorizontalSettings(settings.min_replicas, settings.max_replicas)


def thrifty_settings(settings: SimulationSettings) -> HorizontalSettings:
    """Thrifty's reactive defaults: the ScalingPolicy API's defaults, which are the HPA's (tolerance
    0.1, no cooldown). A cooldown would only make a reactive policy later and dearer here; Thrifty's
    difference is what a trusted forecast allows (see :mod:`thrifty.engine.replay`). A policy's own
    rules replace the defaults when given, within the simulation's replica range."""
    if settings.thrifty_rules is not None:
        return replace(
            settings.thrifty_rules, min_replicas=settings.min_replicas, max_replicas=settings.max_replicas
        )
    return HorizontalSettings(settings.min_replicas, settings.max_replicas)


def simulate(
    seconds: npt.ArrayLike,
    demand: npt.ArrayLike,
    settings: SimulationSettings,
    policies: tuple[str, ...] = POLICIES,
) -> SimulationResult:
    """Replay ``demand`` (one value per row, holding until the next row) through ``policies``."""
    unknown = set(policies) - set(POLICIES)
    if unknown:
        raise ValueError(f"unknown policies {sorted(unknown)}; expected some of {', '.join(POLICIES)}")
    timeline = _Timeline.of(seconds, demand, settings.sync_seconds)
    runs = {policy: _run(policy, timeline, settings) for policy in policies}
    oracle = runs["oracle"] if "oracle" in runs else _run("oracle", timeline, settings)
    oracle_cost = _replica_hours(oracle, settings) * settings.price_per_replica_hour
    results = {
        policy: _measure(policy, runs[policy], timeline.demand, settings, oracle_cost) for policy in policies
    }
    return SimulationResult(timeline.times, timeline.demand, runs, results, settings)


@dataclass(frozen=True, eq=False)
class _Timeline:
    """The trace's rows, and the sync steps laid over them (each step sees the row it falls in)."""

    rows: FloatArray
    row_demand: FloatArray
    times: FloatArray
    row_of_step: npt.NDArray[np.intp]
    demand: FloatArray

    @classmethod
    def of(cls, seconds: npt.ArrayLike, demand: npt.ArrayLike, sync_seconds: float) -> _Timeline:
        rows, values = _trace(seconds, demand)
        # The last row holds for one more (median) step, as every other row holds until the next.
        step = float(np.median(np.diff(rows))) if len(rows) > 1 else sync_seconds
        count = max(1, math.floor((rows[-1] + step - rows[0]) / sync_seconds))
        times = rows[0] + sync_seconds * np.arange(count, dtype=np.float64)
        row_of_step = np.searchsorted(rows, times, side="right") - 1
        return cls(rows, values, times, row_of_step, values[row_of_step])


def _run(policy: str, timeline: _Timeline, settings: SimulationSettings) -> PolicyRun:
    started = time.perf_counter()
    if policy == "oracle":
        # The tolerance keeps float noise (200.0000001 / 200) from asking for a replica more.
        needed = np.ceil(timeline.demand / settings.capacity_per_replica * (1 - SHORTFALL_TOLERANCE))
        replicas = np.clip(needed, settings.min_replicas, settings.max_replicas).astype(np.int64)
        notes = "ceil(demand / capacity), ready at once"
        return PolicyRun(replicas, replicas, notes, time.perf_counter() - started)
    pods = Pods(
        settings.capacity_per_replica, settings.target_utilization, settings.startup_seconds,
        settings.min_replicas, settings.max_replicas,
    )  # fmt: skip
    horizontal = hpa_settings(settings) if policy == "hpa" else thrifty_settings(settings)
    predictive = settings.predictive if policy == "thrifty-predictive" else None
    requested, ready, notes = replay(
        timeline.times, timeline.demand, timeline.row_of_step, timeline.rows, timeline.row_demand,
        horizontal, pods, predictive,
    )  # fmt: skip
    return PolicyRun(requested, ready, notes, time.perf_counter() - started)


def _trace(seconds: npt.ArrayLike, demand: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    t = np.asarray(seconds, dtype=np.float64)
    v = np.asarray(demand, dtype=np.float64)
    if t.ndim != 1 or t.shape != v.shape or len(t) == 0:
        raise ValueError(f"seconds {t.shape} and demand {v.shape} must be non-empty and 1-D alike")
    keep = np.isfinite(t) & np.isfinite(v)
    if not np.any(keep):
        raise ValueError("no finite (time, demand) rows")
    if np.any(v[keep] < 0):
        raise ValueError("demand must be non-negative")
    t, v = t[keep], v[keep]
    order = np.argsort(t, kind="stable")
    t, v = t[order], v[order]
    # Duplicate timestamps: the last row wins, as a later write of the same sample would.
    last = np.append(np.diff(t) > 0, True)
    return t[last], v[last]


def _replica_hours(run: PolicyRun, settings: SimulationSettings) -> float:
    return float(np.sum(run.replicas)) * settings.sync_seconds / 3600.0


def _measure(
    policy: str, run: PolicyRun, demand: FloatArray, settings: SimulationSettings, oracle_cost: float
) -> PolicyResult:
    replica_hours = _replica_hours(run, settings)
    cost = replica_hours * settings.price_per_replica_hour
    shortfall = demand - run.ready * settings.capacity_per_replica
    short = shortfall > SHORTFALL_TOLERANCE * np.maximum(demand, 1.0)
    return PolicyResult(
        policy=policy,
        replica_hours=replica_hours,
        cost=cost,
        cost_vs_oracle=cost / oracle_cost if oracle_cost > 0 else math.nan,
        underprovisioned_fraction=float(np.mean(short)),
        max_shortfall=float(np.max(np.where(short, shortfall, 0.0))),
        scale_events=int(np.count_nonzero(np.diff(run.replicas))),
        mean_replicas=float(np.mean(run.replicas)),
        max_replicas=int(np.max(run.replicas)),
        elapsed_seconds=run.elapsed_seconds,
        notes=run.notes,
    )
