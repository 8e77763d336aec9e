"""Seasonality detection and the lead-time forecast: real cycles found, noise not, no peeking ahead."""

from __future__ import annotations

import numpy as np
import pytest

from thrifty.engine.forecast import (
    DAY_SECONDS,
    detect_seasonality,
    fit_forecast,
    forecast,
    forecast_peak,
    recent_error,
)
from thrifty.sandbox.traces import TraceName, load_trace

STEP = 300.0
PER_DAY = int(DAY_SECONDS / STEP)


def days(count: float) -> np.ndarray:
    return np.arange(int(count * PER_DAY)) * STEP


def daily_sine(seconds: np.ndarray, level: float = 100.0, swing: float = 40.0) -> np.ndarray:
    return level + swing * np.sin(2 * np.pi * seconds / DAY_SECONDS)


@pytest.mark.parametrize("name", ["alibaba2018", "google2019"])
def test_daily_cycle_found_on_real_traces(name: TraceName) -> None:
    trace = load_trace(name)
    report = detect_seasonality(trace.seconds, trace.cpu)
    assert report.seasonality == "Daily", report.reason
    daily = report.evidence[0]
    assert daily.confirmed
    assert daily.spectral_peak
    assert daily.autocorrelation >= 0.3


def test_weekly_cycle_found_on_azure() -> None:
    # Azure's weekdays differ from its weekends: a week repeats better than a day (0.9 vs 0.5).
    trace = load_trace("azure_v2")
    report = detect_seasonality(trace.seconds, trace.cpu)
    assert report.seasonality == "Weekly", report.reason
    assert all(e.confirmed for e in report.evidence)


def test_no_cycle_in_noise() -> None:
    rng = np.random.default_rng(7)
    seconds = days(30)
    report = detect_seasonality(seconds, rng.normal(100.0, 10.0, len(seconds)))
    assert report.seasonality == "None"
    assert report.period_seconds is None
    assert not any(e.confirmed for e in report.evidence)


def test_cycles_need_two_periods_of_history() -> None:
    seconds = days(1.9)
    report = detect_seasonality(seconds, daily_sine(seconds))
    assert report.seasonality == "None"
    assert "needs 2" in report.evidence[0].reason
    weekly = detect_seasonality(days(13), daily_sine(days(13)))
    assert weekly.seasonality == "Daily"
    assert np.isnan(weekly.evidence[1].autocorrelation)  # 13 days: too short to judge a week


def test_forecast_error_on_a_pure_sinusoid_is_tiny() -> None:
    seconds = days(14)
    values = daily_sine(seconds)
    model = fit_forecast(seconds, values, lead_seconds=120.0)
    assert model.usable
    assert model.seasonality == "Daily", model.reason
    error = recent_error(model, seconds, values, max_error=0.25)
    assert error.steering
    assert error.mape < 0.001
    assert error.origins >= PER_DAY - 1
    assert model.headroom < 0.1  # the sinusoid leaves almost nothing unexplained


def test_forecast_follows_the_cycle_ahead() -> None:
    seconds = days(7)
    values = daily_sine(seconds)
    model = fit_forecast(seconds, values, lead_seconds=900.0)  # three 5-minute samples ahead
    ahead = forecast(model, seconds, values, now=float(seconds[-1]))
    expected = daily_sine(seconds[-1] + STEP * np.arange(1, 4))
    assert ahead.values == pytest.approx(expected, abs=0.05)
    peak = ahead.peak(float(seconds[-1]), float(seconds[-1]) + 900.0)
    assert peak is not None
    assert peak.upper == pytest.approx(peak.peak + model.headroom)


def test_headroom_covers_the_in_sample_quantile() -> None:
    rng = np.random.default_rng(3)
    seconds = days(10)
    values = daily_sine(seconds) + rng.normal(0.0, 8.0, len(seconds))
    model = fit_forecast(seconds, values, lead_seconds=600.0, quantile=0.9)
    assert model.headroom > 0
    horizon = model.horizon_steps
    origins = range(len(seconds) - 4 * PER_DAY, len(seconds) - horizon)
    covered = []
    for t in origins:
        ahead = forecast(model, seconds[: t + 1], values[: t + 1], now=float(seconds[t]))
        covered.append(values[t + 1 : t + 1 + horizon].max() <= ahead.values.max() + model.headroom)
    assert np.mean(covered) == pytest.approx(0.9, abs=0.03)


def test_never_uses_data_after_now() -> None:
    rng = np.random.default_rng(11)
    seconds = days(9)
    values = daily_sine(seconds) + rng.normal(0.0, 5.0, len(seconds))
    now = float(seconds[6 * PER_DAY + 17])
    altered = values.copy()
    altered[seconds > now] = rng.uniform(0.0, 1000.0, np.count_nonzero(seconds > now))

    def everything(series: np.ndarray) -> tuple[object, ...]:
        model = fit_forecast(seconds, series, lead_seconds=600.0, now=now)
        ahead = forecast(model, seconds, series, now=now)
        error = recent_error(model, seconds, series, max_error=0.25, now=now)
        return model, tuple(ahead.values), error, forecast_peak(model, seconds, series, now, 600.0)

    assert everything(values) == everything(altered)


def test_too_little_history_never_steers() -> None:
    seconds = days(0.05)
    model = fit_forecast(seconds, daily_sine(seconds), lead_seconds=120.0)
    assert not model.usable
    error = recent_error(model, seconds, daily_sine(seconds), max_error=0.25)
    assert not error.steering
    assert "not steering" in error.reason


def test_a_large_error_stops_steering() -> None:
    rng = np.random.default_rng(5)
    seconds = days(4)
    values = rng.uniform(1.0, 100.0, len(seconds))  # nothing to forecast: errors of tens of percent
    model = fit_forecast(seconds, values, lead_seconds=120.0)
    error = recent_error(model, seconds, values, max_error=0.25)
    assert error.mape > 0.25
    assert not error.steering
    assert recent_error(model, seconds, values, max_error=10.0).steering


def test_configured_seasonality_needs_a_cycle_of_history() -> None:
    seconds = days(0.5)
    model = fit_forecast(seconds, daily_sine(seconds), lead_seconds=120.0, seasonality="Daily")
    assert model.seasonality == "None"
    assert "needs more than one cycle" in model.reason
