"""Demand forecasts for predictive scaling: the peak over the lead time and its recent error.

Seasonality comes from :mod:`thrifty.engine.seasonality` (Crane's: a day or a week, or none).

The model, per origin t (the last sample seen) and step h = 1..H ahead, H = ceil(lead / step):

    forecast(t + h) = anchor + alpha * (y[t] - anchor) + beta * change

- Seasonal (period m samples, K cycles in the lookback): anchor = mean over k of y[t + h - k m],
  the seasonal naive forecast averaged over past cycles; change = mean over k of
  y[t + h - k m] - y[t - k m], how much the load moved over the same h steps in past cycles.
- None: anchor = mean of the last hour; change = h x the slope between the last two hours' means.

alpha (how much the last value persists) and beta (how much of the remembered change to expect) are
fitted by least squares on the lookback, pooled over h, and clipped to [0, 1]: a noisy series leans
on the anchor, a smooth one on its last value. Every term uses samples at or before t only.

Headroom, over the model's own in-sample forecasts of the quantity that sizes replicas (the peak of
the next H samples): with a ``shortfall`` and a capacity per replica, the least headroom at which
the replicas sized for forecast + headroom fell short of the actual peak at no more than that share
of origins (``risk_headroom``); without, the ``quantile`` (0.9) of the residuals. Floored at 0.

Recent error: the mean absolute percentage error of the peak forecasts made over the last day
(origins whose next H samples have all been seen) against the actual peaks. Origins whose actual
peak is zero are skipped, since a percentage of zero is undefined. The forecast steers while this
error is at most ``maxForecastError``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from thrifty.engine.seasonality import (
    DAY_SECONDS,
    MIN_AUTOCORRELATION,
    MIN_PROMINENCE,
    PERIODS,
    RegularSeries,
    Seasonality,
    SeasonalityChoice,
    SeasonalityReport,
    detect,
    detect_seasonality,
    regular_series,
)

__all__ = [
    "DAY_SECONDS",
    "Forecast",
    "ForecastError",
    "ForecastModel",
    "PeakForecast",
    "SeasonalityChoice",
    "detect_seasonality",
    "fit_forecast",
    "forecast",
    "forecast_peak",
    "recent_error",
    "risk_headroom",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

# The None model's anchor and slope: an hour is long enough to average 5-minute noise away and short
# enough to follow a ramp.
TREND_WINDOW_SECONDS: Final = 3600.0


@dataclass(frozen=True)
class ForecastModel:
    """A fitted forecast. ``usable`` is False when the history was too short to fit anything."""

    usable: bool
    seasonality: Seasonality
    step_seconds: float
    horizon_steps: int
    period_steps: int | None
    cycles: int
    alpha: float
    beta: float
    headroom: float
    quantile: float
    fitted_until: float
    detection: SeasonalityReport | None
    reason: str


@dataclass(frozen=True)
class PeakForecast:
    """The forecast peak demand starting within [start, end]; ``upper`` = peak + headroom."""

    start: float
    end: float
    peak: float
    headroom: float
    upper: float
    reason: str


@dataclass(frozen=True, eq=False)
class Forecast:
    """Point forecasts of the samples after ``origin`` (the last sample seen), one per step."""

    origin: float
    times: FloatArray
    values: FloatArray
    headroom: float
    reason: str

    def peak(self, start: float, end: float) -> PeakForecast | None:
        """The forecast peak of the samples that start within [start, end], None if none does."""
        inside = (self.times >= start) & (self.times <= end) & np.isfinite(self.values)
        if not np.any(inside):
            return None
        peak = float(np.max(self.values[inside]))
        upper = peak + self.headroom
        reason = f"{self.reason}; peak {peak:.4g} + headroom {self.headroom:.4g} = {upper:.4g}"
        return PeakForecast(start, end, peak, self.headroom, upper, reason)


@dataclass(frozen=True)
class ForecastError:
    mape: float  # NaN when no origin could be scored
    origins: int
    max_error: float
    steering: bool
    reason: str


def fit_forecast(
    seconds: npt.ArrayLike,
    values: npt.ArrayLike,
    *,
    lead_seconds: float,
    seasonality: SeasonalityChoice = "Auto",
    lookback_seconds: float = 14 * DAY_SECONDS,
    quantile: float = 0.9,
    now: float | None = None,
    shortfall: float | None = None,
    capacity_per_replica: float | None = None,
) -> ForecastModel:
    """Fit the model on the ``lookback_seconds`` of samples up to ``now`` (default: the last one)."""
    if lead_seconds < 0 or lookback_seconds <= 0:
        raise ValueError("lead_seconds must be non-negative and lookback_seconds positive")
    if not 0 < quantile < 1:
        raise ValueError("quantile must be within (0, 1)")
    series = regular_series(*_window(seconds, values, now, lookback_seconds))
    if len(series.values) < 2:
        return _unusable(series, quantile, "no forecast: fewer than 2 samples of history")
    horizon = max(1, math.ceil(lead_seconds / series.step))
    detection: SeasonalityReport | None = None
    chosen: Seasonality = "None" if seasonality == "Auto" else seasonality
    why = f"{chosen} (configured)"
    if seasonality == "Auto":
        detection = detect(series, MIN_AUTOCORRELATION, MIN_PROMINENCE)
        chosen, why = detection.seasonality, f"{detection.seasonality} (detected)"
    period: int | None = None
    if chosen != "None":
        period = round(PERIODS[chosen] / series.step)
        if len(series.values) <= period + horizon:
            why = f"None ({chosen} needs more than one cycle of history)"
            chosen, period = "None", None
        elif horizon >= period:  # a cycle ago plus the horizon would reach past the origin
            why = f"None (a lead time of {horizon} steps spans a whole {chosen} cycle)"
            chosen, period = "None", None
    window = _trend_window(series.step)
    cycles = 0 if period is None else (len(series.values) - 1) // period
    y = series.values
    n = len(y)
    anchor, change = _features(y, period, horizon, cycles, window, np.arange(n))
    targets = _ahead(y, horizon)
    rows = np.all(np.isfinite(anchor) & np.isfinite(change) & np.isfinite(targets), axis=1)
    if np.count_nonzero(rows) < 2 * horizon + 2:
        return _unusable(series, quantile, f"no forecast: {n} samples are too few to fit {chosen}")
    a, d, last, target = anchor[rows], change[rows], y[rows, np.newaxis], targets[rows]
    design = np.stack([(last - a).ravel(), d.ravel()], axis=1)
    coefficients, *_ = np.linalg.lstsq(design, (target - a).ravel(), rcond=None)
    alpha, beta = (float(np.clip(c, 0.0, 1.0)) for c in coefficients)
    fitted = a + alpha * (last - a) + beta * d
    actual, predicted = target.max(axis=1), fitted.max(axis=1)
    if shortfall is not None and capacity_per_replica is not None:
        headroom = risk_headroom(actual, predicted, capacity_per_replica, shortfall)
        sized = f"headroom {headroom:.4g} for {shortfall:.2%} short over {len(actual)} peaks"
    else:
        headroom = max(0.0, float(np.quantile(actual - predicted, quantile)))
        sized = f"headroom p{quantile * 100:g} of {len(actual)} residuals {headroom:.4g}"
    shape = f"{cycles} cycles" if period else f"{window}-step anchor"
    reason = f"{why}, {shape}, alpha {alpha:.2f}, beta {beta:.2f}, {sized}"
    return ForecastModel(
        True, chosen, series.step, horizon, period, cycles, alpha, beta, headroom, quantile,
        series.end, detection, reason,
    )  # fmt: skip


def forecast(model: ForecastModel, seconds: npt.ArrayLike, values: npt.ArrayLike, now: float) -> Forecast:
    """Point forecasts of the ``horizon_steps`` samples after the last one at or before ``now``."""
    history = _history_steps(model)
    series = regular_series(*_window(seconds, values, now, history * model.step_seconds))
    times: FloatArray = series.end + model.step_seconds * np.arange(
        1, model.horizon_steps + 1, dtype=np.float64
    )
    if not model.usable or len(series.values) == 0:
        return Forecast(series.end, times, np.full(model.horizon_steps, np.nan), np.nan, model.reason)
    recent = series.values[-history:]
    paths = _paths(model, recent, origins=np.array([len(recent) - 1]))
    return Forecast(series.end, times, paths[0], model.headroom, f"{model.seasonality} forecast")


def forecast_peak(
    model: ForecastModel, seconds: npt.ArrayLike, values: npt.ArrayLike, now: float, lead_seconds: float
) -> PeakForecast | None:
    """The forecast peak demand within [now, now + lead_seconds], from samples at or before ``now``."""
    return forecast(model, seconds, values, now).peak(now, now + lead_seconds)


def recent_error(
    model: ForecastModel,
    seconds: npt.ArrayLike,
    values: npt.ArrayLike,
    *,
    max_error: float,
    now: float | None = None,
    window_seconds: float = DAY_SECONDS,
) -> ForecastError:
    """MAPE of the peak forecasts made over the last ``window_seconds``; steering = MAPE <= max_error."""
    if not model.usable:
        return ForecastError(math.nan, 0, max_error, False, f"not steering: {model.reason}")
    history = _history_steps(model)
    span = (history + round(window_seconds / model.step_seconds)) * model.step_seconds
    y = regular_series(*_window(seconds, values, now, span)).values
    h = model.horizon_steps
    # Origins with less than the model's full history still have a forecast (over the cycles they
    # have): scoring only full-history origins would leave nothing to score just after a cycle is added.
    first = max(0, len(y) - h - round(window_seconds / model.step_seconds))
    origins = np.arange(first, len(y) - h)
    predicted = _paths(model, y, origins).max(axis=1)
    actual = _ahead(y, h)[origins].max(axis=1)
    scored = np.isfinite(predicted) & (actual > 0)
    count = int(np.count_nonzero(scored))
    if count < round(window_seconds / model.step_seconds) // 2:
        return ForecastError(
            math.nan, count, max_error, False, f"not steering: {count} scored forecasts, too few"
        )
    mape = float(np.mean(np.abs(actual[scored] - predicted[scored]) / actual[scored]))
    steering = mape <= max_error
    verdict = "steering" if steering else "not steering"
    reason = f"{verdict}: error {mape:.1%} over {count} forecasts (max {max_error:.0%})"
    return ForecastError(mape, count, max_error, steering, reason)


# ----- internals -----


def _window(
    seconds: npt.ArrayLike, values: npt.ArrayLike, now: float | None, span: float
) -> tuple[FloatArray, FloatArray]:
    """The samples within (now - span, now]; the future past ``now`` is cut off here, once."""
    t = np.asarray(seconds, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    latest = float(np.max(t)) if len(t) else 0.0
    end = latest if now is None else now
    if len(t) and np.all(np.diff(t) > 0):
        lo, hi = np.searchsorted(t, [end - span, end], side="right")
        return t[lo:hi], v[lo:hi]
    keep = (t > end - span) & (t <= end)
    return t[keep], v[keep]


def _unusable(series: RegularSeries, quantile: float, reason: str) -> ForecastModel:
    step = series.step if math.isfinite(series.step) else 0.0
    return ForecastModel(
        False, "None", step, 1, None, 0, 1.0, 0.0, math.nan, quantile, series.end, None, reason
    )


def risk_headroom(actual: FloatArray, predicted: FloatArray, capacity: float, shortfall: float) -> float:
    """The least headroom at which the replicas the forecast would have asked for, ceil((predicted +
    headroom) / capacity), fell short of the actual peak at no more than ``shortfall`` of the
    fitted origins: an empirical (split-free conformal) quantile that counts the spare capacity the
    rounding up to whole replicas gives, which a plain quantile of the errors would add again."""
    if capacity <= 0 or not 0 < shortfall < 1:
        raise ValueError("capacity must be positive and shortfall within (0, 1)")
    levels = np.linspace(0.5, 1.0, 201)
    candidates = np.unique(np.maximum(0.0, np.quantile(actual - predicted, levels)))
    replicas = np.ceil((predicted[:, np.newaxis] + candidates) / capacity - 1e-9)
    short = np.mean(actual[:, np.newaxis] > replicas * capacity * (1 + 1e-9), axis=0)
    within = np.flatnonzero(short <= shortfall)
    return float(candidates[within[0]] if len(within) else candidates[-1])


def _trend_window(step: float) -> int:
    return max(1, round(TREND_WINDOW_SECONDS / step))


def _history_steps(model: ForecastModel) -> int:
    """Samples one forecast looks back on: every remembered cycle, or two trend windows."""
    if model.period_steps is not None:
        return model.cycles * model.period_steps + 1
    return 2 * _trend_window(model.step_seconds) + 1


def _ahead(y: FloatArray, horizon: int) -> FloatArray:
    """(n, horizon): y[t + h] for h = 1..horizon, NaN past the end."""
    index = np.arange(len(y))[:, np.newaxis] + np.arange(1, horizon + 1)
    return np.where(index < len(y), y[np.minimum(index, len(y) - 1)], np.nan)


def _features(
    y: FloatArray, period: int | None, horizon: int, cycles: int, window: int, origins: IntArray
) -> tuple[FloatArray, FloatArray]:
    """(anchor, change), each (len(origins), horizon); NaN where an origin's history is too short."""
    n = len(y)
    steps = np.arange(1, horizon + 1)
    if period is not None:
        shape = (len(origins), horizon)
        total, moved, count = np.zeros(shape), np.zeros(shape), np.zeros((len(origins), 1))
        for k in range(1, cycles + 1):  # a handful of cycles: the work inside is vectorized
            back = origins[:, np.newaxis] - k * period
            seen = back >= 0
            then = y[np.maximum(back, 0)]
            later = y[np.clip(back + steps, 0, n - 1)]
            total += np.where(seen, later, 0.0)
            moved += np.where(seen, later - then, 0.0)
            count += seen
        with np.errstate(invalid="ignore", divide="ignore"):
            return total / count, moved / count
    sums = np.concatenate([[0.0], np.cumsum(y)])
    recent = np.full(n, np.nan)
    recent[window - 1 :] = (sums[window:] - sums[:-window]) / window
    before = np.full(n, np.nan)
    before[window:] = recent[:-window]
    slope = (recent[origins] - before[origins]) / window
    return np.repeat(recent[origins, np.newaxis], horizon, axis=1), slope[:, np.newaxis] * steps


def _paths(model: ForecastModel, y: FloatArray, origins: IntArray) -> FloatArray:
    """(len(origins), horizon) point forecasts made at each origin, from y[: origin + 1] only."""
    window = _trend_window(model.step_seconds)
    a, d = _features(y, model.period_steps, model.horizon_steps, model.cycles, window, origins)
    last = y[origins][:, np.newaxis]
    return a + model.alpha * (last - a) + model.beta * d
