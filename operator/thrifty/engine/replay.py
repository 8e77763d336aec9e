"""One policy's replay, sync by sync: decide(), pods that start slowly and stop at once, the forecast.

The forecast (``thrifty-predictive``) steers by the rules of ``engine.predictive``: capacity sized to
``target_shortfall`` (a floor for the forecast peak plus a calibrated headroom over the lead time,
and the reactive count at full capacity), and a scale-down window cut to the lead time.

The forecast sees the trace's rows at or before now only:

- every ``retrain_seconds`` the model is fitted again on the last ``lookback`` of rows, and its error
  over the last day (or all the rows seen, from six hours on) is measured; the forecast steers only
  while that error is at most ``max_forecast_error``;
- at each new row, the next rows are forecast; at each sync, the peak of those that start within
  [now, now + lead time] sizes the floor (none start there: no floor, the current row is the
  reactive count's business).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from thrifty.engine.forecast import (
    ForecastError,
    ForecastModel,
    SeasonalityChoice,
    fit_forecast,
    forecast,
)
from thrifty.engine.horizontal import (
    HorizontalSettings,
    HorizontalState,
    MetricReading,
    decide,
)
from thrifty.engine.predictive import (
    DEFAULT_TARGET_SHORTFALL,
    MIN_STEERING_HISTORY_SECONDS,
    REFIT_SECONDS,
    steering_error,
    steering_settings,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class PredictiveSettings:
    """ScalingPolicy.spec.horizontal.predictive, plus the simulator's retraining cadence."""

    lookback_hours: float = 336.0
    lead_time_seconds: float | None = None  # None: the pods' start-up time
    seasonality: SeasonalityChoice = "Auto"
    max_forecast_error: float = 0.25
    target_shortfall: float = DEFAULT_TARGET_SHORTFALL  # a fraction: 0.005 is 0.5% of the time
    retrain_seconds: float = REFIT_SECONDS
    # While the forecast steers, it guards against the rebound the scale-down stabilization window
    # waits for, so the window shrinks to this (never grows).
    steering_scale_down_window_seconds: int | None = None  # None: the lead time

    def __post_init__(self) -> None:
        if not 0 < self.target_shortfall < 1:
            raise ValueError("target_shortfall must be within (0, 1)")


@dataclass(frozen=True)
class Pods:
    """How replicas turn into capacity in the simulation."""

    capacity_per_replica: float
    target_utilization: float
    startup_seconds: float
    min_replicas: int
    max_replicas: int

    def replicas_for(self, demand: float, *, at_target: bool = True) -> int:
        """Replicas that serve ``demand`` at the target utilization (the HPA's answer), or at full
        capacity; within min/max."""
        utilization = self.target_utilization if at_target else 1.0
        needed = math.ceil(demand / (self.capacity_per_replica * utilization) - 1e-9)
        return min(max(needed, self.min_replicas), self.max_replicas)


def replay(
    times: FloatArray,
    demand: FloatArray,
    row_of_step: npt.NDArray[np.intp],
    rows: FloatArray,
    row_demand: FloatArray,
    settings: HorizontalSettings,
    pods: Pods,
    predictive: PredictiveSettings | None,
) -> tuple[IntArray, IntArray, str]:
    """Requested and ready replicas at each of ``times``, and a note on the forecast's use.

    ``demand`` is per step, ``row_of_step`` the trace row each step falls in; ``rows`` and
    ``row_demand`` are the trace itself, which the forecast reads up to the current row.
    """
    replicas = pods.replicas_for(float(demand[0]))
    ready_at = [float(times[0])] * replicas  # sorted: pods are appended in start order
    state = HorizontalState()
    requested = np.empty(len(times), np.int64)
    ready = np.empty(len(times), np.int64)
    predictor = None if predictive is None else _Predictor(rows, row_demand, pods, predictive)
    steering_settings = settings if predictor is None else predictor.steering_settings(settings)
    raised = 0
    for i, now in enumerate(times.tolist()):
        floor = None if predictor is None else predictor.floor(int(row_of_step[i]), now)
        steering = predictor is not None and predictor.steering
        rules = steering_settings if steering else settings
        # While the forecast steers, the reactive count is at full capacity (engine.predictive).
        capacity = replicas * pods.capacity_per_replica * (1.0 if steering else pods.target_utilization)
        readings = (MetricReading("demand", float(demand[i]) / capacity if capacity else math.inf),)
        decision = decide(replicas, readings, rules, state, now, floor=floor, schedule_names=_FORECAST)
        raised += floor is not None and decision.replicas == floor > decision.desired
        state = decision.state
        if decision.replicas > replicas:
            ready_at.extend([now + pods.startup_seconds] * (decision.replicas - replicas))
        elif decision.replicas < replicas:
            del ready_at[decision.replicas :]  # the youngest go first
        replicas = decision.replicas
        requested[i] = replicas
        ready[i] = bisect.bisect_right(ready_at, now)
    notes = "" if predictor is None else f"{predictor.summary()}; the floor raised replicas in {raised} syncs"
    return requested, ready, notes


_FORECAST = ("forecast",)  # names the floor in decide()'s reasons


class _Predictor:
    """The forecast floor over a replay; sees ``rows[: k + 1]`` at row k, never later rows."""

    def __init__(self, rows: FloatArray, demand: FloatArray, pods: Pods, settings: PredictiveSettings):
        self.rows, self.demand, self.pods, self.settings = rows, demand, pods, settings
        self.lead = pods.startup_seconds if settings.lead_time_seconds is None else settings.lead_time_seconds
        self.model: ForecastModel | None = None
        self.error: ForecastError | None = None
        self.next_fit = -math.inf
        self.path: list[tuple[float, float]] = []  # (start, upper bound) of the rows ahead
        self.path_row = -1
        self.steering = False
        self.fits = 0
        self.steering_fits = 0
        self.seasonality: dict[str, int] = {}

    def steering_settings(self, settings: HorizontalSettings) -> HorizontalSettings:
        """``settings`` with the scale-down window cut to the steering window (default: lead time)."""
        chosen = self.settings.steering_scale_down_window_seconds
        return steering_settings(settings, self.lead if chosen is None else chosen)

    def floor(self, row: int, now: float) -> int | None:
        """Replicas for the forecast's upper bound within the lead time, while it steers; else None."""
        if now >= self.next_fit:
            self._fit(row, now)
        if not self.steering or self.model is None:
            return None
        if row != self.path_row:
            ahead = forecast(self.model, self.rows[: row + 1], self.demand[: row + 1], now)
            upper = ahead.values + ahead.headroom
            self.path = [
                (t, u) for t, u in zip(ahead.times.tolist(), upper.tolist(), strict=True) if math.isfinite(u)
            ]
            self.path_row = row
        # Plain Python over a few rows: this runs at every sync, where numpy's overhead would dominate.
        within = [upper for start, upper in self.path if now <= start <= now + self.lead]
        return self.pods.replicas_for(max(within), at_target=False) if within else None

    def _fit(self, row: int, now: float) -> None:
        self.next_fit = now + self.settings.retrain_seconds
        seen_rows, seen_demand = self.rows[: row + 1], self.demand[: row + 1]
        self.path_row = -1
        self.steering = False
        if now - float(self.rows[0]) < MIN_STEERING_HISTORY_SECONDS:  # no fit is scored before
            return
        self.model = fit_forecast(
            seen_rows, seen_demand, lead_seconds=self.lead, seasonality=self.settings.seasonality,
            lookback_seconds=self.settings.lookback_hours * 3600.0,
            now=now, shortfall=self.settings.target_shortfall,
            capacity_per_replica=self.pods.capacity_per_replica,
        )  # fmt: skip
        self.error = steering_error(
            self.model, seen_rows, seen_demand, max_error=self.settings.max_forecast_error, now=now
        )
        self.steering = self.error.steering
        self.fits += 1
        self.steering_fits += self.steering
        self.seasonality[self.model.seasonality] = self.seasonality.get(self.model.seasonality, 0) + 1

    def summary(self) -> str:
        if not self.fits:
            return "forecast never fitted: less than six hours of history"
        kinds = ", ".join(f"{name} {count}" for name, count in sorted(self.seasonality.items()))
        last = "" if self.error is None else f"; last: {self.error.reason}"
        return f"{self.fits} fits ({kinds}), steering after {self.steering_fits}{last}"
