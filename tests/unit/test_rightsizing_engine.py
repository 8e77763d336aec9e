"""Right-sizing: what a user sees in the recommendation, and invariants that hold for any usage."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from thrifty.engine.quantities import GiB, MiB
from thrifty.engine.rightsizing import (
    ContainerUsage,
    VerticalRecommendation,
    VerticalSettings,
    recommend,
    recommend_batch,
    row_percentiles,
)

STEP = 300.0  # 5-minute samples: 4032 of them are 14 days
DAYS_14 = 4032


def ramp(low: float, high: float, count: int = DAYS_14) -> np.ndarray:
    """Evenly spaced usage, so percentiles are easy to compute by hand (and exact: i / n, not i x step)."""
    return low + (high - low) * np.arange(count) / (count - 1)


def usage(cpu: np.ndarray, memory: np.ndarray, **current: Any) -> ContainerUsage:
    return ContainerUsage(cpu, memory, STEP, **current)


def test_cpu_p95_and_memory_max_plus_15_percent() -> None:
    # CPU 0..1 core evenly: p95 = 0.95 exactly. Memory peaks at 300 MiB: 300 x 1.15 = 345 MiB.
    result = recommend(usage(ramp(0, 1, 2001), ramp(100 * MiB, 300 * MiB, 2001)))
    assert result.status == "Recommended"
    assert result.cpu_request == pytest.approx(0.95)
    assert result.memory_request == 345 * MiB
    assert (result.cpu_limit, result.memory_limit) == (None, None)
    assert result.reason.startswith("cpu p95 950m → 950m; memory max 300Mi x 1.15 = 345Mi → 345Mi")
    assert result.samples == 2001
    assert result.hours == pytest.approx(2000 * STEP / 3600)


def test_buffers_and_percentiles_are_configurable() -> None:
    custom = VerticalSettings(cpu_percentile=50, cpu_buffer=0.2, memory_percentile=90, memory_buffer=0)
    result = recommend(usage(ramp(0, 1, 1001), ramp(0, 1000 * MiB, 1001)), custom)
    assert result.cpu_request == pytest.approx(0.6)  # p50 = 0.5, x 1.2
    assert result.memory_request == 900 * MiB
    assert "cpu p50 500m x 1.2 = 600m" in result.reason
    assert "memory p90 900Mi" in result.reason


def test_rounding_goes_up_to_a_clean_grid() -> None:
    result = recommend(usage(np.full(200, 0.2121), np.full(200, 1030.3 * MiB / 1.15)))
    assert result.cpu_request == pytest.approx(0.215)  # 5m steps above 100m
    assert result.memory_request == 1040 * MiB  # 16 MiB steps above 1 GiB
    small = recommend(usage(np.full(200, 0.0421), np.full(200, 100.2 * MiB / 1.15)))
    assert small.cpu_request == pytest.approx(0.043)  # 1m steps below 100m
    assert small.memory_request == 101 * MiB  # 1 MiB steps below 1 GiB


def test_idle_containers_get_the_floors() -> None:
    result = recommend(usage(np.full(200, 0.0001), np.full(200, 1.0 * MiB)))
    assert result.cpu_request == pytest.approx(0.010)
    assert result.memory_request == 32 * MiB
    assert "raised to the floor 10m" in result.reason
    assert "raised to the floor 32Mi" in result.reason


def test_min_and_max_allowed_win_over_percentile_and_floors() -> None:
    bounds = VerticalSettings(
        min_cpu_cores=0.001, max_cpu_cores=0.3, min_memory_bytes=512 * MiB, max_memory_bytes=4 * GiB
    )
    idle = recommend(usage(np.full(200, 0.0001), np.full(200, 1.0 * MiB)), bounds)
    assert idle.cpu_request == pytest.approx(0.010)  # the floor still applies above minAllowed
    assert idle.memory_request == 512 * MiB
    assert "raised to minAllowed 512Mi" in idle.reason
    busy = recommend(usage(np.full(200, 2.0), np.full(200, 8 * GiB)), bounds)
    assert busy.cpu_request == pytest.approx(0.3)
    assert busy.memory_request == 4 * GiB
    assert "capped at maxAllowed 300m" in busy.reason
    below_floor = VerticalSettings(max_cpu_cores=0.005, max_memory_bytes=10 * MiB)
    capped = recommend(usage(np.full(200, 0.0001), np.full(200, 1.0 * MiB)), below_floor)
    assert (capped.cpu_request, capped.memory_request) == (0.005, 10 * MiB)


def test_off_grid_max_allowed_is_returned_exactly() -> None:
    result = recommend(usage(np.full(200, 0.5), np.full(200, GiB)), VerticalSettings(max_cpu_cores=0.2123))
    assert result.cpu_request == 0.2123


def test_oom_kill_bumps_memory_by_at_least_100_mib_or_20_percent() -> None:
    memory = np.full(200, 200 * MiB)
    small = recommend(usage(np.full(200, 0.1), memory, oom_killed=True, oom_memory_bytes=300 * MiB))
    assert small.memory_request == 400 * MiB  # max(300 + 100, 300 x 1.2 = 360)
    assert small.oom_bumped
    assert "OOM kill at 300Mi: max(300Mi + 100Mi, 300Mi x 1.2) = 400Mi" in small.reason
    large = recommend(usage(np.full(200, 0.1), memory, oom_killed=True, oom_memory_bytes=2 * GiB))
    assert large.memory_request == 2464 * MiB  # 2 GiB x 1.2 = 2457.6 MiB, rounded up to 16 MiB
    unknown = recommend(usage(np.full(200, 0.1), memory, oom_killed=True))
    assert unknown.memory_request == 300 * MiB  # the observed peak 200 MiB + 100 MiB


def test_oom_bump_below_the_usual_target_changes_nothing() -> None:
    result = recommend(
        usage(np.full(200, 0.1), np.full(200, GiB), oom_killed=True, oom_memory_bytes=10 * MiB)
    )
    assert result.memory_request == 1184 * MiB  # 1 GiB x 1.15 = 1177.6 MiB, rounded up to 16 MiB
    assert not result.oom_bumped


def test_oom_bump_is_never_suppressed_as_a_small_change() -> None:
    result = recommend(
        usage(
            np.full(200, 0.1),
            np.full(200, 200 * MiB),
            memory_request=390 * MiB,
            oom_killed=True,
            oom_memory_bytes=300 * MiB,
        )
    )  # 400 MiB is only 2.6% above 390 MiB, but it follows an OOM kill
    assert result.memory_changed
    assert result.memory_request == 400 * MiB


def test_requests_only_keeps_limits_and_caps_requests_at_them() -> None:
    result = recommend(
        usage(np.full(200, 0.9), np.full(200, 100 * MiB), cpu_request=0.4, cpu_limit=0.5, memory_limit=GiB)
    )
    assert result.cpu_request == 0.5
    assert "capped at the current limit 500m" in result.reason
    assert (result.cpu_limit, result.memory_limit) == (0.5, GiB)


def test_requests_and_limits_keeps_the_limit_to_request_ratio() -> None:
    both = VerticalSettings(controlled_values="RequestsAndLimits")
    result = recommend(
        usage(
            np.full(200, 0.2),
            np.full(200, 200 * MiB),
            cpu_request=1.0,
            cpu_limit=2.0,
            memory_request=GiB,
            memory_limit=1.5 * GiB,
        ),
        both,
    )
    assert result.cpu_request == pytest.approx(0.2)
    assert result.cpu_limit == pytest.approx(0.4)
    assert result.memory_request == 230 * MiB
    assert result.memory_limit == 345 * MiB
    no_limit = recommend(usage(np.full(200, 0.2), np.full(200, 200 * MiB), cpu_request=1.0), both)
    assert (no_limit.cpu_limit, no_limit.memory_limit) == (None, None)


def test_a_limit_without_a_request_counts_as_the_request() -> None:
    both = VerticalSettings(controlled_values="RequestsAndLimits")
    result = recommend(usage(np.full(200, 0.2), np.full(200, 200 * MiB), cpu_limit=1.0), both)
    assert "(was 1)" in result.reason
    assert result.cpu_limit == pytest.approx(0.2)  # ratio 1, as the apiserver defaulted it


@pytest.mark.parametrize(
    ("samples", "step", "enough"),
    [(99, 300.0, False), (100, 300.0, True), (200, 54.0, False), (201, 54.0, True)],
)
def test_no_recommendation_below_100_samples_or_3_hours(samples: int, step: float, enough: bool) -> None:
    # 200 samples 54 s apart span 199 x 54 s = 2.985 h; 201 span exactly 3 h.
    result = recommend(ContainerUsage(np.full(samples, 0.1), np.full(samples, GiB), step))
    assert (result.status != "InsufficientHistory") is enough
    if not enough:
        assert result.cpu_request is None
        assert result.memory_request is None
        assert result.samples == samples
        assert result.reason.startswith(f"insufficient history: {samples} samples over")


def test_missing_samples_do_not_count() -> None:
    cpu = np.full(300, np.nan)
    cpu[:99] = 0.1
    result = recommend(usage(cpu, np.full(300, GiB)))
    assert result.status == "InsufficientHistory"
    assert result.samples == 99
    assert result.hours == pytest.approx(98 * STEP / 3600)


def test_small_changes_are_suppressed_per_resource() -> None:
    # CPU 0.2 vs current 0.21 (-5%): kept. Memory 230 MiB vs current 1 GiB: changed.
    result = recommend(
        usage(np.full(200, 0.2), np.full(200, 200 * MiB), cpu_request=0.21, cpu_limit=1, memory_request=GiB)
    )
    assert result.status == "Recommended"
    assert not result.cpu_changed
    assert result.cpu_request == 0.21
    assert result.cpu_limit == 1
    assert "keeps 210m (change under 10%)" in result.reason
    assert result.memory_changed
    assert result.memory_request == 230 * MiB
    assert "(was 1Gi)" in result.reason


def test_no_change_worth_making_is_unchanged() -> None:
    result = recommend(
        usage(np.full(200, 0.2), np.full(200, 200 * MiB), cpu_request=0.21, memory_request=240 * MiB)
    )
    assert result.status == "Unchanged"
    assert (result.cpu_request, result.memory_request) == (0.21, 240 * MiB)


def test_pods_are_pooled() -> None:
    # Two pods of one container, one busy and one idle, present at different times.
    cpu = np.full((2, 400), np.nan)
    cpu[0, :200] = 1.0
    cpu[1, 200:] = 0.0
    memory = np.where(np.isnan(cpu), np.nan, 100 * MiB)
    result = recommend(ContainerUsage(cpu, memory, STEP))
    assert result.samples == 400
    assert result.hours == pytest.approx(399 * STEP / 3600)
    assert result.cpu_request == pytest.approx(1.0)  # p95 over both pods' samples


def test_batch_matches_one_by_one() -> None:
    rng = np.random.default_rng(7)
    cpu = rng.gamma(2.0, 0.1, (6, 500))
    memory = rng.uniform(50, 900, (6, 500)) * MiB
    cpu[2, 50:] = np.nan  # too few samples
    requests = np.array([0.5, np.nan, 0.2, 0.3, 1.0, np.nan])
    batch = recommend_batch(cpu, memory, STEP, cpu_request=requests, oom_killed=[0, 1, 0, 0, 1, 0])
    for row, result in enumerate(batch):
        alone = recommend(
            ContainerUsage(
                cpu[row],
                memory[row],
                STEP,
                cpu_request=None if np.isnan(requests[row]) else float(requests[row]),
                oom_killed=row in (1, 4),
            )
        )
        assert result == alone
    assert batch[2].status == "InsufficientHistory"


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="cpu_percentile"):
        VerticalSettings(cpu_percentile=0)
    with pytest.raises(ValueError, match="minAllowed"):
        VerticalSettings(min_cpu_cores=2, max_cpu_cores=1)
    with pytest.raises(ValueError, match="expected 2 values"):
        recommend_batch(np.ones((2, 200)), np.ones((2, 200)), STEP, cpu_request=[1.0])


# ----- the vectorized percentile -----

rows_with_gaps = hnp.arrays(
    np.float64,
    hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=40),
    elements=st.one_of(st.floats(-1e6, 1e6), st.just(np.nan)),
)


@given(rows_with_gaps, st.floats(0, 100))
def test_row_percentiles_equal_numpy_row_by_row(table: np.ndarray, q: float) -> None:
    expected = [np.nanpercentile(row, q) if not np.all(np.isnan(row)) else np.nan for row in table]
    np.testing.assert_allclose(row_percentiles(table, q), expected, rtol=1e-12, atol=1e-9)


def test_row_percentiles_take_one_q_per_row() -> None:
    table = np.array([[1.0, 2.0, 3.0, np.nan], [10.0, 20.0, 30.0, 40.0]])
    np.testing.assert_allclose(row_percentiles(table, [50, 100]), [2.0, 40.0])


# ----- invariants -----

samples = hnp.arrays(
    np.float64, st.integers(100, 300), elements=st.floats(0, 64, allow_nan=False, allow_subnormal=False)
)
bound = st.one_of(st.none(), st.floats(0.001, 64))


def _cpu_only(cpu: np.ndarray, chosen: VerticalSettings) -> VerticalRecommendation:
    return recommend(ContainerUsage(cpu, np.full(len(cpu), GiB), 3600.0), chosen)


@settings(max_examples=200)
@given(samples, bound, bound, st.floats(1, 100), st.floats(0, 1))
def test_recommendation_stays_within_allowed_and_covers_the_percentile(
    cpu: np.ndarray, low: float | None, high: float | None, q: float, buffer: float
) -> None:
    if low is not None and high is not None and low > high:
        low, high = high, low
    chosen = VerticalSettings(cpu_percentile=q, cpu_buffer=buffer, min_cpu_cores=low, max_cpu_cores=high)
    result = _cpu_only(cpu, chosen)
    assert result.cpu_request is not None
    if low is not None:
        assert result.cpu_request >= low
    if high is not None:
        assert result.cpu_request <= high
    target = np.percentile(cpu, q) * (1 + buffer)
    if high is None or high >= target:
        assert result.cpu_request >= target * (1 - 1e-12)


@settings(max_examples=200)
@given(samples, st.floats(1, 10), st.floats(1, 100))
def test_more_usage_never_lowers_the_recommendation(cpu: np.ndarray, factor: float, q: float) -> None:
    chosen = VerticalSettings(cpu_percentile=q, memory_percentile=q)
    memory = cpu * GiB
    before = recommend(ContainerUsage(cpu, memory, 3600.0), chosen)
    after = recommend(ContainerUsage(cpu * factor, memory * factor, 3600.0), chosen)
    assert before.cpu_request is not None
    assert after.cpu_request is not None
    assert after.cpu_request >= before.cpu_request
    assert before.memory_request is not None
    assert after.memory_request is not None
    assert after.memory_request >= before.memory_request
