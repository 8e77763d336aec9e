"""Budgets: periods across time zones, the period-end forecast, thresholds, state, anomalies, enforcement."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thrifty.engine.budget import (
    DAY,
    HOUR,
    PRIORITY_ANNOTATION,
    WEEKDAYS,
    BudgetWorkload,
    block_scale_up,
    budget_state,
    daily_anomaly,
    daily_totals,
    enforcement_decision,
    forecast_end_of_period,
    period_bounds,
    scale_down_plan,
    scale_down_target,
    thresholds_to_fire,
    utilization_percent,
    workload_priority,
)


def local(zone: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone)).timestamp()


def utc(year: int, month: int, day: int, hour: int = 0) -> float:
    return datetime(year, month, day, hour, tzinfo=UTC).timestamp()


# ----- periods -----


def test_monthly_period_in_berlin_starts_at_local_midnight_and_follows_dst() -> None:
    start, end = period_bounds(local("Europe/Berlin", 2024, 3, 15, 12), "Monthly", "Europe/Berlin")
    assert start == utc(2024, 2, 29, 23)  # 1 March 00:00 CET
    assert end == utc(2024, 3, 31, 22)  # 1 April 00:00 CEST
    assert (end - start) / HOUR == 743


@pytest.mark.parametrize(
    ("now", "period", "day_of_month", "day_of_week", "expected"),
    [
        # Monthly on the 15th: before the 15th the period began last month.
        ((2024, 1, 10, 8), "Monthly", 15, "Mon", ((2023, 12, 15), (2024, 1, 15))),
        ((2024, 1, 15, 0), "Monthly", 15, "Mon", ((2024, 1, 15), (2024, 2, 15))),
        ((2024, 12, 20, 0), "Monthly", 15, "Mon", ((2024, 12, 15), (2025, 1, 15))),
        # 2024-06-07 is a Friday.
        ((2024, 6, 7, 13), "Weekly", 1, "Mon", ((2024, 6, 3), (2024, 6, 10))),
        ((2024, 6, 7, 13), "Weekly", 1, "Fri", ((2024, 6, 7), (2024, 6, 14))),
        ((2024, 6, 7, 13), "Weekly", 1, "Sat", ((2024, 6, 1), (2024, 6, 8))),
        ((2024, 6, 7, 23, 59), "Daily", 1, "Mon", ((2024, 6, 7), (2024, 6, 8))),
    ],
)
def test_period_bounds_in_new_york(
    now: tuple[int, ...],
    period: str,
    day_of_month: int,
    day_of_week: str,
    expected: tuple[tuple[int, int, int], tuple[int, int, int]],
) -> None:
    zone = "America/New_York"
    bounds = period_bounds(local(zone, *now), period, zone, day_of_month, day_of_week)  # type: ignore[arg-type]
    assert bounds == (local(zone, *expected[0]), local(zone, *expected[1]))


def test_daily_period_on_dst_days_and_a_skipped_midnight() -> None:
    start, end = period_bounds(local("Europe/Berlin", 2024, 3, 31, 12), "Daily", "Europe/Berlin")
    assert (end - start) / HOUR == 23
    start, end = period_bounds(local("Europe/Berlin", 2024, 10, 27, 12), "Daily", "Europe/Berlin")
    assert (end - start) / HOUR == 25
    # São Paulo skipped midnight on 2018-11-04 (00:00 -> 01:00): the day starts when the clocks jump.
    start, _ = period_bounds(utc(2018, 11, 4, 12), "Daily", "America/Sao_Paulo")
    assert start == utc(2018, 11, 4, 3)


def test_period_bounds_refuses_bad_settings() -> None:
    with pytest.raises(ValueError, match="time zone"):
        period_bounds(0.0, "Daily", "Mars/Olympus")
    with pytest.raises(ValueError, match="1-28"):
        period_bounds(0.0, "Monthly", "UTC", 31)
    with pytest.raises(ValueError, match="day_of_week"):
        period_bounds(0.0, "Weekly", "UTC", 1, "Monday")
    with pytest.raises(ValueError, match="period"):
        period_bounds(0.0, "Yearly", "UTC")  # type: ignore[arg-type]


ZONES = ["UTC", "Europe/Berlin", "America/New_York", "America/Sao_Paulo", "America/Havana", "Asia/Beirut",
         "America/Santiago", "Australia/Lord_Howe", "Asia/Kolkata", "Pacific/Chatham"]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    now=st.floats(utc(2000, 1, 1), utc(2035, 1, 1)),
    period=st.sampled_from(["Daily", "Weekly", "Monthly"]),
    zone=st.sampled_from(ZONES),
    day_of_month=st.integers(1, 28),
    day_of_week=st.sampled_from(WEEKDAYS),
)
def test_periods_hold_now_and_tile_time(
    now: float, period: str, zone: str, day_of_month: int, day_of_week: str
) -> None:
    start, end = period_bounds(now, period, zone, day_of_month, day_of_week)  # type: ignore[arg-type]
    assert start <= now < end
    nominal = {"Daily": DAY, "Weekly": 7 * DAY, "Monthly": 31 * DAY}[period]
    assert end - start <= nominal + 2 * HOUR
    assert period_bounds(end, period, zone, day_of_month, day_of_week)[0] == end  # type: ignore[arg-type]
    assert period_bounds(start, period, zone, day_of_month, day_of_week) == (start, end)  # type: ignore[arg-type]


# ----- forecast -----

STEP = 300.0
START = utc(2024, 5, 1)
END = utc(2024, 6, 1)


def steps_until(now: float, since: float = START) -> np.ndarray:
    return np.arange(since + STEP, now + 1, STEP)


def daily_shape(times: np.ndarray, per_hour: float = 10.0) -> np.ndarray:
    """Spend per step: busy by day (UTC 08-20: 3x), quiet at night."""
    hour = np.mod(times - STEP / 2, DAY) // HOUR
    return np.where((hour >= 8) & (hour < 20), 3.0, 1.0) * per_hour * STEP / HOUR


def test_no_data_forecasts_the_spend_so_far() -> None:
    forecast = forecast_end_of_period([], [], START, END, START + DAY)
    assert (forecast.total, forecast.method) == (0.0, "None")
    assert "no spend data" in forecast.reason


def test_linear_run_rate_of_the_last_six_hours() -> None:
    now = START + 12 * HOUR
    times = steps_until(now)
    spend = np.where(times > now - 6 * HOUR, 2.0, 1.0) * STEP / HOUR  # 1/h, then 2/h for 6 h
    forecast = forecast_end_of_period(times, spend, START, END, now)
    assert forecast.method == "Linear"
    assert forecast.spent == pytest.approx(18.0)
    assert forecast.projected == pytest.approx(2.0 * (END - now) / HOUR)
    assert forecast.total == pytest.approx(forecast.spent + forecast.projected)
    assert "run rate of the last 6.0 h (2.00/h)" in forecast.reason


def test_daily_seasonal_with_history_before_the_period() -> None:
    now = START + 3 * HOUR  # the period just began; a week of history is passed along
    times = steps_until(now, since=START - 7 * DAY)
    forecast = forecast_end_of_period(times, daily_shape(times), START, END, now)
    assert forecast.method == "DailySeasonal"
    truth = daily_shape(steps_until(END)).sum()
    assert forecast.total == pytest.approx(truth, rel=1e-9)
    assert forecast.spent == pytest.approx(daily_shape(steps_until(now)).sum())
    assert "trend 1.00" in forecast.reason
    # The run rate of the quiet night would forecast far less than the seasonal profile.
    linear = forecast_end_of_period(times[-72:], daily_shape(times)[-72:], START, END, now)
    assert linear.method == "Linear"
    assert linear.total < 0.7 * truth


def test_seasonal_trend_scales_the_profile() -> None:
    now = START + 5 * DAY + 12 * HOUR
    times = steps_until(now)
    spend = daily_shape(times)
    spend[times > now - 6 * HOUR] *= 2.0  # spend doubled in the last 6 h
    forecast = forecast_end_of_period(times, spend, START, END, now)
    assert forecast.method == "DailySeasonal"
    remaining = daily_shape(steps_until(END, since=now)).sum()
    # The profile averages 5.5 days including the doubled hours, so the trend is a little under 2.
    assert 1.7 * remaining < forecast.projected < 2.0 * remaining


def test_seasonal_needs_two_days_of_every_hour() -> None:
    now = START + 36 * HOUR
    times = steps_until(now)
    assert forecast_end_of_period(times, daily_shape(times), START, END, now).method == "Linear"
    now = START + 48 * HOUR
    times = steps_until(now)
    assert forecast_end_of_period(times, daily_shape(times), START, END, now).method == "DailySeasonal"


def test_lagging_data_is_projected_not_counted_as_zero() -> None:
    now = START + 10 * HOUR
    times = steps_until(now - 2 * HOUR)  # Prometheus is two hours behind
    spend = np.full(times.shape, 1.0 * STEP / HOUR)
    forecast = forecast_end_of_period(times, spend, START, END, now)
    assert forecast.spent == pytest.approx(8.0)
    assert forecast.total == pytest.approx((END - START) / HOUR)


def test_forecast_ignores_nan_samples_and_the_future() -> None:
    now = START + 12 * HOUR
    times = steps_until(now + 6 * HOUR)
    spend = np.full(times.shape, STEP / HOUR)
    spend[::3] = np.nan
    forecast = forecast_end_of_period(times, spend, START, END, now)
    assert forecast.spent == pytest.approx(12.0 * 2 / 3)
    assert forecast.projected == pytest.approx((END - now) / HOUR)


def test_finished_period_has_nothing_to_project() -> None:
    times = steps_until(END)
    forecast = forecast_end_of_period(times, np.ones(times.shape), START, END, END + HOUR)
    assert (forecast.projected, forecast.method, forecast.spent) == (0.0, "None", float(len(times)))


@settings(max_examples=80, deadline=None)
@given(
    hours=st.integers(1, 24 * 20),
    level=st.floats(0, 100),
    noise=st.floats(0, 1),
    seed=st.integers(0, 2**16),
)
def test_forecast_is_at_least_the_spend_so_far(hours: int, level: float, noise: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    now = START + hours * HOUR
    times = steps_until(now)
    spend = level * (1 + noise * rng.standard_normal(times.shape)).clip(0) * STEP / HOUR
    forecast = forecast_end_of_period(times, spend, START, END, now)
    assert forecast.spent == pytest.approx(spend.sum())
    assert forecast.projected >= 0
    assert forecast.total >= forecast.spent
    assert math.isfinite(forecast.total)


# ----- thresholds and state -----


def test_thresholds_fire_once_each_and_several_at_once() -> None:
    assert thresholds_to_fire([50, 80, 100], 49.9, set()) == []
    assert thresholds_to_fire([50, 80, 100], 50.0, set()) == [50]
    assert thresholds_to_fire([50, 80, 100], 85.0, {50}) == [80]
    assert thresholds_to_fire([50, 80, 100], 85.0, {50, 80}) == []
    assert thresholds_to_fire([50, 80, 100, 150], 120.0, set()) == [50, 80, 100]
    assert thresholds_to_fire([50], math.nan, set()) == []
    assert thresholds_to_fire([50, 80], math.inf, set()) == [50, 80]


@settings(max_examples=200, deadline=None)
@given(
    thresholds=st.lists(st.integers(1, 1000), min_size=1, max_size=10, unique=True),
    path=st.lists(st.floats(0, 1200), min_size=1, max_size=20),
)
def test_each_threshold_fires_exactly_once_per_period(thresholds: list[int], path: list[float]) -> None:
    fired: list[int] = []
    for utilization in sorted(path):  # spend never decreases within a period
        fired += thresholds_to_fire(thresholds, utilization, set(fired))
    assert len(fired) == len(set(fired))
    assert set(fired) == {t for t in thresholds if t <= max(path)}


def test_state_precedence() -> None:
    assert budget_state(None, None, 100, set()) == "Unknown"
    assert budget_state(10, 50, 100, set()) == "OK"
    assert budget_state(60, 90, 100, {50}) == "Warning"
    assert budget_state(60, 120, 100, {50}) == "ForecastOverrun"
    assert budget_state(100, 120, 100, {50, 80, 100}) == "Exceeded"
    assert budget_state(0, 0, 0, set()) == "OK"
    assert budget_state(0.01, 0.01, 0, set()) == "Exceeded"


def test_utilization() -> None:
    assert utilization_percent(25, 200) == 12.5
    assert utilization_percent(0, 0) == 0
    assert utilization_percent(1, 0) == math.inf


# ----- anomalies -----


def test_a_spike_is_anomalous_and_normal_days_are_not() -> None:
    normal = [100, 104, 97, 101, 99, 103, 98, 102, 100, 96]
    assert daily_anomaly([*normal, 105]) is None
    spike = daily_anomaly([*normal, 180], day_label="2024-05-10")
    assert spike is not None
    assert spike.direction == "High"
    assert spike.median == pytest.approx(100.0)
    assert spike.sigma == pytest.approx(10.0)  # MAD 2 x 1.4826 is under the floor of 10% of the median
    assert spike.score == pytest.approx(8.0)
    assert spike.score > 3.5
    assert spike.days == 10
    assert "2024-05-10 (180.00)" in spike.reason
    assert "above the median of the previous 10 days (100.00" in spike.reason
    drop = daily_anomaly([*normal, 20])
    assert drop is not None
    assert drop.direction == "Low"


def test_anomaly_needs_history_and_survives_flat_or_zero_spend() -> None:
    assert daily_anomaly([100, 100, 100, 100, 500]) is None  # 4 previous days: too few
    assert daily_anomaly([100] * 5 + [130]) is None  # flat: sigma floored at 10% of the median
    assert daily_anomaly([100] * 5 + [140]) is not None
    assert daily_anomaly([0] * 7 + [5]) is not None  # new spend where there was none
    assert daily_anomaly([0] * 8) is None
    assert daily_anomaly([100] * 7 + [np.nan]) is None
    # A spike in the history barely moves median and MAD.
    assert daily_anomaly([100, 100, 1000, 100, 102, 98, 100, 190]) is not None


def test_anomaly_window_is_the_last_days() -> None:
    old_regime = [10.0] * 20
    new_regime = [100.0, 102.0, 98.0, 101.0, 99.0, 100.0, 103.0]
    assert daily_anomaly([*old_regime, *new_regime, 101], window_days=7) is None
    assert daily_anomaly([*old_regime, *new_regime, 101], window_days=27) is not None


def test_daily_totals_group_local_days_and_drop_today() -> None:
    zone = "Europe/Berlin"
    start = local(zone, 2024, 3, 30)
    now = local(zone, 2024, 4, 1, 9)
    times = np.arange(start + HOUR, now + 1, HOUR)
    days, totals = daily_totals(times, np.ones(times.shape), zone, now)
    assert list(days) == [start, local(zone, 2024, 3, 31)]
    assert list(totals) == [24.0, 23.0]  # 31 March has 23 hours in Berlin
    gap = np.ones(times.shape)
    gap[(times > days[1]) & (times <= days[1] + 23 * HOUR)] = np.nan
    assert np.isnan(daily_totals(times, gap, zone, now)[1][1])
    assert daily_totals([], [], zone, now)[0].size == 0


# ----- enforcement -----


def test_enforcement_decisions() -> None:
    assert not enforcement_decision("Alert", 500, 900, 100).block_scale_up
    held = enforcement_decision("BlockScaleUp", 50, 120, 100)
    assert (held.block_scale_up, held.scale_down) == (True, False)
    assert "forecast 120.00" in held.reason
    assert not enforcement_decision("BlockScaleUp", 50, 90, 100).block_scale_up
    early = enforcement_decision("ScaleDown", 50, 120, 100)
    assert (early.block_scale_up, early.scale_down) == (True, False)
    past = enforcement_decision("ScaleDown", 100, 120, 100)
    assert (past.block_scale_up, past.scale_down) == (True, True)
    assert not enforcement_decision("ScaleDown", None, None, 100).block_scale_up


def test_block_scale_up() -> None:
    assert block_scale_up(3, 5) == (3, True)
    assert block_scale_up(3, 3) == (3, False)
    assert block_scale_up(3, 2) == (2, False)


@settings(max_examples=300, deadline=None)
@given(
    current=st.integers(0, 500),
    recommended=st.integers(0, 500),
    cost=st.floats(0, 50),
    spent=st.floats(0, 1e5),
    amount=st.floats(1, 1e5),
)
def test_budget_never_exceeded_by_a_scale_up_it_blocked(
    current: int, recommended: int, cost: float, spent: float, amount: float
) -> None:
    replicas, limited = block_scale_up(current, recommended)
    assert replicas <= current
    assert replicas <= recommended
    assert limited == (recommended > current)
    # Whatever the hour at the current size costs, the held size costs no more.
    assert spent + replicas * cost <= spent + current * cost
    if limited:
        assert replicas == current


def test_scale_down_target() -> None:
    past = scale_down_target(spent=120, amount=100, run_rate_per_hour=5, hours_left=48)
    assert past.reduction_per_hour == math.inf
    fits = scale_down_target(spent=80, amount=100, run_rate_per_hour=2, hours_left=5)
    assert fits.reduction_per_hour == 0.0  # 2/h fits the 20 left over 5 h (4/h)
    over = scale_down_target(spent=80, amount=100, run_rate_per_hour=10, hours_left=5)
    assert over.reduction_per_hour == pytest.approx(6.0)


def w(key: str, priority: int, current: int, minimum: int, cost: float) -> BudgetWorkload:
    return BudgetWorkload(key, priority, current, minimum, cost)


def test_scale_down_lowest_priority_first_then_dearest() -> None:
    workloads = [
        w("shop/api", 100, 6, 2, 1.0),
        w("batch/report", 0, 5, 1, 0.5),
        w("batch/etl", 0, 4, 0, 2.0),
        w("dev/sandbox", -10, 3, 3, 9.0),  # already at its minimum
    ]
    plan = scale_down_plan(workloads, 9.0)
    assert [(s.key, s.from_replicas, s.to_replicas) for s in plan] == [
        ("batch/etl", 4, 0),
        ("batch/report", 5, 3),
    ]
    assert sum(s.saving_per_hour for s in plan) == pytest.approx(9.0)
    everything = scale_down_plan(workloads, math.inf)
    assert [(s.key, s.to_replicas) for s in everything] == [
        ("batch/etl", 0),
        ("batch/report", 1),
        ("shop/api", 2),
    ]
    assert "(its minReplicas)" in everything[0].reason
    assert scale_down_plan(workloads, 0.0) == []


workload_lists = st.lists(
    st.builds(
        BudgetWorkload,
        key=st.text("abcdef", min_size=1, max_size=4),
        priority=st.integers(-3, 3),
        current_replicas=st.integers(0, 20),
        min_replicas=st.integers(0, 20),
        hourly_cost_per_replica=st.floats(0, 10),
    ),
    max_size=12,
    unique_by=lambda item: item.key,
)


@settings(max_examples=400, deadline=None)
@given(workloads=workload_lists, target=st.one_of(st.floats(0, 500), st.just(math.inf)))
def test_scale_down_invariants(workloads: list[BudgetWorkload], target: float) -> None:
    plan = scale_down_plan(workloads, target)
    after = {item.key: item.current_replicas for item in workloads}
    for step in plan:
        after[step.key] = step.to_replicas
    by_key = {item.key: item for item in workloads}
    assert len({s.key for s in plan}) == len(plan)
    for item in workloads:
        # Never below minReplicas (unless it was already there) and never raised.
        assert after[item.key] <= item.current_replicas
        if after[item.key] < item.current_replicas:
            assert after[item.key] >= item.min_replicas
    for step in plan:
        touched = by_key[step.key]
        # Everything of lower priority that could save money is already at its minimum.
        for other in workloads:
            if other.priority < touched.priority and other.hourly_cost_per_replica > 0:
                at_floor = after[other.key] == other.min_replicas
                assert at_floor or other.current_replicas <= other.min_replicas
    saved = sum(s.saving_per_hour for s in plan)
    available = sum(
        max(0, i.current_replicas - i.min_replicas) * i.hourly_cost_per_replica for i in workloads
    )
    assert saved <= available + 1e-9
    if math.isinf(target):
        assert saved == pytest.approx(available)
    else:
        # Met when possible, and no workload beyond the one that met it.
        assert saved >= min(target, available) - 1e-6
        if plan:
            assert saved - plan[-1].saving_per_hour < target


def test_workload_priority_sources() -> None:
    assert workload_priority({PRIORITY_ANNOTATION: " 7 "}, 1000) == (7, f"annotation {PRIORITY_ANNOTATION}")
    assert workload_priority({PRIORITY_ANNOTATION: "high"}, 1000) == (1000, "PriorityClass")
    assert workload_priority({}, None) == (0, "default")
