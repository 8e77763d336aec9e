"""Predictive scaling's two rules, shared by the operator and ``thrifty simulate``.

While a forecast steers (its recent error is at most ``maxForecastError``):

- it sets a floor: replicas for the forecast's upper bound (peak + headroom) over the lead time, at
  full capacity per replica. The headroom (an upper quantile of the model's own residuals) already
  stands for what the forecast does not know; sizing it inside the target's spare capacity as well
  would count the unknown twice. Final replicas = max(reactive, floor), within min and max;
- the scale-down stabilization window shrinks to the lead time. The window keeps replicas the load
  may need again soon; a forecast that has been right says whether it will within the time a new pod
  takes to start, and anything needed later can be started in time.

A forecast that does not steer changes nothing: scaling is the reactive HPA algorithm alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from thrifty.engine.forecast import ForecastModel, forecast
from thrifty.engine.horizontal import HorizontalSettings


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
    """``settings`` with the scale-down stabilization window cut to ``window_seconds`` (never grown)."""
    window = min(math.ceil(window_seconds), settings.scale_down.stabilization_window_seconds)
    return replace(settings, scale_down=replace(settings.scale_down, stabilization_window_seconds=window))
