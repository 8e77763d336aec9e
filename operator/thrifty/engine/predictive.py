"""Predictive scaling's rules, shared by the operator and ``thrifty simulate``.

Capacity is sized to a risk the user chooses, ``targetShortfallPercent``: the share of time demand
may exceed the ready replicas' full capacity. While a forecast steers (it has six hours of history
and its recent error is at most ``maxForecastError``):

- it sets a floor: replicas for the forecast's peak over the lead time plus a headroom calibrated on
  the model's own forecasts (``forecast.risk_headroom``: the least headroom at which the replicas
  it would have asked for fell short no more often than the risk), at full capacity per replica;
- the reactive count is taken at full capacity too, with no tolerance: ceil(demand now / capacity).
  The target utilization's spare capacity is headroom against what the HPA cannot foresee; the
  calibrated headroom stands for that here, and keeping both would pay for the unknown twice.
  Final replicas = max(reactive at full capacity, floor), within min and max;
- the scale-down stabilization window shrinks to the lead time. The window keeps replicas the load
  may need again soon; a forecast that has been right says whether it will within the time a new pod
  takes to start, and anything needed later can be started in time.

A forecast that does not steer changes nothing: scaling is the reactive HPA algorithm at the target
alone, and the Predictive condition says why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Final

import numpy as np
import numpy.typing as npt

from thrifty.engine.forecast import DAY_SECONDS, ForecastError, ForecastModel, forecast, recent_error
from thrifty.engine.horizontal import HorizontalSettings

# A trend model's error can be judged on a few hours; a day would leave the first day to the HPA.
MIN_STEERING_HISTORY_SECONDS: Final = 6 * 3600.0
DEFAULT_TARGET_SHORTFALL: Final = 0.005  # targetShortfallPercent 0.5
# How often a model is refitted, and its headroom and error scored again, in the operator as in
# ``thrifty simulate``.
REFIT_SECONDS: Final = 900.0


@dataclass(frozen=True)
class ForecastFloor:
    """Replicas the forecast asks for within the lead time, and when its peak is expected."""

    replicas: int
    peak: float  # demand at the forecast peak
    upper: float  # peak + headroom, what the replicas are sized for
    peak_at: float  # unix time the peak sample starts
    reason: str


def forecast_floor(
    model: ForecastModel,
    seconds: npt.ArrayLike,
    values: npt.ArrayLike,
    now: float,
    lead_seconds: float,
    capacity_per_replica: float,
) -> ForecastFloor | None:
    """The floor for the forecast samples that start within [now, now + lead]; None when none does
    or the model could not forecast."""
    if capacity_per_replica <= 0:
        raise ValueError("capacity per replica must be positive")
    ahead = forecast(model, seconds, values, now)
    inside = (ahead.times >= now) & (ahead.times <= now + lead_seconds) & np.isfinite(ahead.values)
    if not np.any(inside) or not math.isfinite(ahead.headroom):
        return None
    index = int(np.argmax(np.where(inside, ahead.values, -np.inf)))
    peak = float(ahead.values[index])
    upper = peak + ahead.headroom
    replicas = max(0, math.ceil(upper / capacity_per_replica - 1e-9))
    reason = (
        f"{ahead.reason}: peak {peak:.4g} + headroom {ahead.headroom:.4g} within {lead_seconds:g}s "
        f"needs {replicas} replicas at {capacity_per_replica:.4g} each"
    )
    return ForecastFloor(replicas, peak, upper, float(ahead.times[index]), reason)


def steering_settings(settings: HorizontalSettings, window_seconds: float) -> HorizontalSettings:
    """``settings`` while a forecast steers: the scale-down stabilization window cut to
    ``window_seconds`` (never grown), and no tolerance, since the reading is then at full capacity
    and a reading inside a tolerance above it would be demand left unserved."""
    window = min(math.ceil(window_seconds), settings.scale_down.stabilization_window_seconds)
    down = replace(settings.scale_down, stabilization_window_seconds=window)
    return replace(settings, tolerance=0.0, scale_down=down)


def steering_error(
    model: ForecastModel, seconds: npt.ArrayLike, values: npt.ArrayLike, *, max_error: float, now: float
) -> ForecastError:
    """The forecast's recent error, measured over the last day, or over all the history there is
    once it spans ``MIN_STEERING_HISTORY_SECONDS``; before that the forecast does not steer."""
    t, v = np.asarray(seconds, dtype=np.float64), np.asarray(values, dtype=np.float64)
    seen = np.flatnonzero(np.isfinite(v) & (t <= now))
    span = now - float(t[seen[0]]) if seen.size else 0.0
    if span < MIN_STEERING_HISTORY_SECONDS:
        needed = MIN_STEERING_HISTORY_SECONDS / 3600
        reason = f"not steering: {span / 3600:.1f} h of history, {needed:g} h needed"
        return ForecastError(math.nan, 0, max_error, False, reason)
    window = min(DAY_SECONDS, span)
    return recent_error(model, t, v, max_error=max_error, now=now, window_seconds=window)
