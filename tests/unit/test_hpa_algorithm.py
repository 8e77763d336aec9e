"""Horizontal scaling: hand-worked HPA cases a reviewer can check, and invariants for any input."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thrifty.engine.horizontal import (
    DEFAULT_SCALE_DOWN,
    DEFAULT_SCALE_UP,
    HorizontalDecision,
    HorizontalSettings,
    HorizontalState,
    MetricReading,
    RatePolicy,
    Recommendation,
    ScaleEvent,
    ScalingRules,
    decide,
)

EMPTY = HorizontalState()
T0 = 1_700_000_000.0
NO_DOWN_WINDOW = replace(DEFAULT_SCALE_DOWN, stabilization_window_seconds=0)


def cpu(ratio: float | None) -> list[MetricReading]:
    return [MetricReading("cpu", ratio)]


def hpa(
    min_replicas: int = 1,
    max_replicas: int = 100,
    scale_up: ScalingRules = DEFAULT_SCALE_UP,
    scale_down: ScalingRules = DEFAULT_SCALE_DOWN,
) -> HorizontalSettings:
    return HorizontalSettings(min_replicas, max_replicas, scale_up=scale_up, scale_down=scale_down)


# ----- desired replicas and tolerance -----


def test_desired_is_current_times_ratio_rounded_up() -> None:
    # 3 replicas at 140% utilization of a 70% target: ratio 2.0 -> ceil(3 x 2.0) = 6.
    decision = decide(3, cpu(1.4 / 0.7), hpa(), EMPTY, T0)
    assert (decision.replicas, decision.desired, decision.metric) == (6, 6, "cpu")
    assert decision.limited_by is None
    assert decision.reason == "cpu at 2.00x target asks for 6 replicas; scaling from 3 to 6 replicas"
    # 7 replicas at 1.3: ceil(9.1) = 10, a partial pod rounds up.
    assert decide(7, cpu(1.3), hpa(), EMPTY, T0).replicas == 10


def test_no_change_within_tolerance() -> None:
    decision = decide(10, cpu(1.05), hpa(), EMPTY, T0)
    assert (decision.replicas, decision.desired, decision.limited_by) == (10, 10, "tolerance")
    assert "within tolerance 0.1" in decision.reason
    assert decide(10, cpu(0.95), hpa(scale_down=NO_DOWN_WINDOW), EMPTY, T0).replicas == 10
    # Just outside: 0.85 -> ceil(8.5) = 9; with tolerance 0.2 it stays.
    assert decide(10, cpu(0.85), hpa(scale_down=NO_DOWN_WINDOW), EMPTY, T0).replicas == 9
    wide = HorizontalSettings(1, 100, tolerance=0.2, scale_down=NO_DOWN_WINDOW)
    assert decide(10, cpu(0.85), wide, EMPTY, T0).replicas == 10


def test_the_metric_asking_for_most_replicas_wins() -> None:
    readings = [MetricReading("cpu", 1.5), MetricReading("memory", 2.0), MetricReading("rps", 0.5)]
    decision = decide(4, readings, hpa(), EMPTY, T0)
    assert (decision.replicas, decision.metric) == (8, "memory")


def test_scale_from_zero_uses_the_ratio_alone() -> None:
    # At zero replicas the HPA asks for ceil(ratio) replicas (value / target per replica).
    decision = decide(0, [MetricReading("queue", 2.5)], hpa(min_replicas=0), EMPTY, T0)
    assert decision.replicas == 3


# ----- missing metrics -----


def test_a_missing_metric_blocks_a_scale_down() -> None:
    readings = [MetricReading("cpu", 0.3), MetricReading("memory", None)]
    decision = decide(10, readings, hpa(scale_down=NO_DOWN_WINDOW), EMPTY, T0)
    assert (decision.replicas, decision.desired, decision.limited_by) == (10, 3, "missing metrics")
    assert "memory missing" in decision.reason
    assert decision.state.recommendations == ()  # like the HPA, a blocked sync records nothing


def test_a_missing_metric_does_not_block_a_scale_up() -> None:
    readings = [MetricReading("cpu", 1.5), MetricReading("memory", float("nan"))]
    decision = decide(4, readings, hpa(), EMPTY, T0)
    assert (decision.replicas, decision.metric) == (6, "cpu")


def test_all_metrics_missing_keeps_current_replicas() -> None:
    decision = decide(5, [MetricReading("cpu", None), MetricReading("memory", None)], hpa(), EMPTY, T0)
    assert (decision.replicas, decision.metric, decision.limited_by) == (5, None, "missing metrics")
    assert decision.reason == "all metrics are missing; keeping 5 replicas"
    assert decide(5, [], hpa(), EMPTY, T0).replicas == 5


# ----- stabilization -----


def test_a_drop_in_load_keeps_the_highest_recommendation_of_the_last_300_s() -> None:
    settings_ = hpa()
    first = decide(10, cpu(1.0), settings_, EMPTY, T0)  # records 10
    later = decide(10, cpu(0.5), settings_, first.state, T0 + 60)  # asks for 5
    assert (later.replicas, later.desired) == (10, 5)
    assert later.limited_by == "scaleDown stabilization window"
    still = decide(10, cpu(0.5), settings_, later.state, T0 + 299)
    assert still.replicas == 10
    # At T0 + 300 the recommendation of T0 is exactly 300 s old and leaves the window (strictly).
    after = decide(10, cpu(0.5), settings_, still.state, T0 + 300)
    assert (after.replicas, after.limited_by) == (5, None)


def test_the_scale_down_goes_to_the_highest_recommendation_in_the_window() -> None:
    history = HorizontalState(
        (Recommendation(T0, 10), Recommendation(T0 + 100, 8), Recommendation(T0 + 200, 6))
    )
    decision = decide(10, cpu(0.4), hpa(), history, T0 + 350)  # window (T0 + 50, T0 + 350]: 8, 6, 4
    assert (decision.replicas, decision.desired) == (8, 4)


def test_a_scale_up_window_takes_the_lowest_recommendation() -> None:
    slow_up = replace(DEFAULT_SCALE_UP, stabilization_window_seconds=120)
    history = HorizontalState((Recommendation(T0, 4), Recommendation(T0 + 60, 7)))
    decision = decide(4, cpu(3.0), hpa(scale_up=slow_up), history, T0 + 100)  # asks for 12
    assert (decision.replicas, decision.limited_by) == (4, "scaleUp stabilization window")
    decision = decide(4, cpu(3.0), hpa(scale_up=slow_up), history, T0 + 150)  # T0 has left: min(7, 12)
    assert (decision.replicas, decision.limited_by) == (7, "scaleUp stabilization window")


# ----- rate policies -----


def test_default_scale_up_from_one_replica_is_at_most_five() -> None:
    # max(1 + 100% = 2, 1 + 4 pods = 5) per 15 s.
    decision = decide(1, cpu(10.0), hpa(), EMPTY, T0)
    assert (decision.replicas, decision.desired) == (5, 10)
    assert decision.limited_by == "scaleUp policy Pods 4/15s"
    # From 10: max(20, 14) = 20, the Percent policy allows more.
    decision = decide(10, cpu(3.0), hpa(), EMPTY, T0)
    assert (decision.replicas, decision.limited_by) == (20, "scaleUp policy Percent 100/15s")


def test_rate_policies_count_the_changes_within_their_period() -> None:
    first = decide(1, cpu(10.0), hpa(), EMPTY, T0)
    assert first.state.events == (ScaleEvent(T0, 1, 5),)
    # 10 s later the period started at 1 replica: still at most 5.
    held = decide(5, cpu(8.0), hpa(), first.state, T0 + 10)
    assert (held.replicas, held.limited_by) == (5, "scaleUp policy Pods 4/15s")
    # 15 s later the event has left the period (strictly): max(5 x 2, 5 + 4) = 10.
    assert decide(5, cpu(8.0), hpa(), first.state, T0 + 15).replicas == 10


def test_default_scale_down_may_remove_everything_in_15_s() -> None:
    decision = decide(10, cpu(0.05), hpa(scale_down=NO_DOWN_WINDOW), EMPTY, T0)
    assert (decision.replicas, decision.limited_by) == (1, None)  # ceil(0.5) = 1


def test_a_pods_policy_on_scale_down() -> None:
    two_a_minute = ScalingRules(0, (RatePolicy("Pods", 2, 60),))
    first = decide(10, cpu(0.1), hpa(scale_down=two_a_minute), EMPTY, T0)
    assert (first.replicas, first.limited_by) == (8, "scaleDown policy Pods 2/60s")
    assert decide(8, cpu(0.1), hpa(scale_down=two_a_minute), first.state, T0 + 30).replicas == 8
    assert decide(8, cpu(0.1), hpa(scale_down=two_a_minute), first.state, T0 + 60).replicas == 6


def test_percentages_are_exact() -> None:
    # 10 + 10% = 11 exactly (float64 would give 11.000000000000002 and round up to 12).
    ten_percent = ScalingRules(0, (RatePolicy("Percent", 10, 60),))
    assert decide(10, cpu(3.0), hpa(scale_up=ten_percent), EMPTY, T0).replicas == 11
    # Down: 10 - 25% = 7.5, the limit is 7 (floor), as the HPA truncates.
    quarter = ScalingRules(0, (RatePolicy("Percent", 25, 60),))
    assert decide(10, cpu(0.1), hpa(scale_down=quarter), EMPTY, T0).replicas == 7


def test_select_policy_min_allows_the_smaller_change() -> None:
    up_min = replace(DEFAULT_SCALE_UP, select_policy="Min")
    assert decide(10, cpu(3.0), hpa(scale_up=up_min), EMPTY, T0).replicas == 14  # min(20, 14)
    policies = (RatePolicy("Percent", 50, 60), RatePolicy("Pods", 2, 60))
    down_max = ScalingRules(0, policies, "Max")
    down_min = ScalingRules(0, policies, "Min")
    assert decide(10, cpu(0.1), hpa(scale_down=down_max), EMPTY, T0).replicas == 5  # min(5, 8)
    assert decide(10, cpu(0.1), hpa(scale_down=down_min), EMPTY, T0).replicas == 8  # max(5, 8)


def test_select_policy_disabled_forbids_that_direction_only() -> None:
    no_up = replace(DEFAULT_SCALE_UP, select_policy="Disabled")
    decision = decide(4, cpu(2.0), hpa(scale_up=no_up), EMPTY, T0)
    assert (decision.replicas, decision.limited_by) == (4, "scaleUp selectPolicy Disabled")
    no_down = ScalingRules(0, (), "Disabled")
    assert decide(4, cpu(0.5), hpa(scale_down=no_down), EMPTY, T0).replicas == 4
    assert decide(4, cpu(2.0), hpa(scale_down=no_down), EMPTY, T0).replicas == 8


# ----- bounds and schedules -----


def test_min_and_max_replicas_bound_the_result() -> None:
    decision = decide(6, cpu(5.0), hpa(max_replicas=8), EMPTY, T0)  # asks 30, policy allows 12
    assert (decision.replicas, decision.limited_by) == (8, "maxReplicas")
    decision = decide(4, cpu(0.1), hpa(min_replicas=2, scale_down=NO_DOWN_WINDOW), EMPTY, T0)
    assert (decision.replicas, decision.limited_by) == (2, "minReplicas")


def test_replicas_outside_the_bounds_move_to_them_at_once() -> None:
    # Like the HPA: no stabilization, rate policy or cooldown, even without metrics.
    slow = ScalingRules(300, (RatePolicy("Pods", 1, 600),), cooldown_seconds=3600)
    recent = HorizontalState(events=(ScaleEvent(T0 - 10, 20, 19),))
    decision = decide(19, cpu(None), hpa(max_replicas=10, scale_down=slow), recent, T0)
    assert (decision.replicas, decision.limited_by) == (10, "maxReplicas")
    assert (
        decision.reason
        == "all metrics are missing; scaling from 19 to 10 replicas, to stay within maxReplicas"
    )
    assert decide(0, cpu(1.0), hpa(min_replicas=2), EMPTY, T0).replicas == 2


def test_a_schedule_floor_and_cap() -> None:
    floor = decide(2, cpu(0.5), hpa(), EMPTY, T0, floor=3, schedule_names=["business"])
    assert (floor.replicas, floor.limited_by) == (3, "schedule business (floor 3)")
    capped = decide(2, cpu(5.0), hpa(), EMPTY, T0, cap=4, schedule_names=["night"])
    assert (capped.replicas, capped.limited_by) == (4, "schedule night (cap 4)")
    assert capped.reason.endswith("scaling from 2 to 4 replicas, limited by schedule night (cap 4)")
    night = decide(10, cpu(1.0), hpa(), EMPTY, T0, cap=2, schedule_names=["night"])
    assert night.replicas == 2  # the cap applies at once, like maxReplicas


def test_a_cap_never_goes_below_min_replicas_nor_the_floor() -> None:
    assert decide(5, cpu(1.0), hpa(min_replicas=3), EMPTY, T0, cap=1).replicas == 3
    assert decide(5, cpu(1.0), hpa(), EMPTY, T0, floor=4, cap=2).replicas == 4
    # A floor above maxReplicas stops at maxReplicas.
    assert decide(5, cpu(1.0), hpa(max_replicas=6), EMPTY, T0, floor=9).replicas == 6


# ----- cooldown -----


def test_cooldown_holds_a_second_change_in_the_same_direction() -> None:
    cautious = hpa(scale_up=replace(DEFAULT_SCALE_UP, cooldown_seconds=60))
    first = decide(2, cpu(2.0), cautious, EMPTY, T0)
    assert first.replicas == 4
    held = decide(4, cpu(2.0), cautious, first.state, T0 + 59)
    assert (held.replicas, held.limited_by) == (4, "cooldown")
    assert held.reason.endswith("keeping 4 replicas, limited by cooldown")
    assert decide(4, cpu(2.0), cautious, first.state, T0 + 60).replicas == 8


def test_cooldown_of_one_direction_does_not_hold_the_other() -> None:
    cautious = hpa(
        scale_up=replace(DEFAULT_SCALE_UP, cooldown_seconds=600),
        scale_down=replace(NO_DOWN_WINDOW, cooldown_seconds=600),
    )
    up = HorizontalState(events=(ScaleEvent(T0 - 10, 2, 4),))
    assert decide(4, cpu(0.5), cautious, up, T0).replicas == 2
    down = HorizontalState(events=(ScaleEvent(T0 - 10, 8, 4),))
    assert decide(4, cpu(2.0), cautious, down, T0).replicas == 8


# ----- state -----


def test_state_keeps_only_what_a_later_decision_can_use() -> None:
    old = HorizontalState(
        recommendations=(Recommendation(T0 - 400, 9), Recommendation(T0 - 100, 7)),
        events=(ScaleEvent(T0 - 20, 3, 5), ScaleEvent(T0 - 5, 5, 7)),
    )
    decision = decide(7, cpu(1.0), hpa(), old, T0)
    # Longest window 300 s; longest period 15 s (no cooldowns); of equal counts the newest stays.
    assert decision.state.recommendations == (Recommendation(T0, 7),)
    assert decision.state.events == (ScaleEvent(T0 - 5, 5, 7),)


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="min_replicas"):
        HorizontalSettings(5, 3)
    with pytest.raises(ValueError, match="at least 1"):
        RatePolicy("Pods", 0, 15)
    with pytest.raises(ValueError, match="at least one rate policy"):
        ScalingRules(0, ())
    with pytest.raises(ValueError, match="non-negative"):
        decide(-1, cpu(1.0), hpa(), EMPTY, T0)


# ----- invariants -----

policies = st.lists(
    st.builds(
        RatePolicy,
        st.sampled_from(["Pods", "Percent"]),
        st.integers(1, 200),
        st.integers(1, 120),
    ),
    min_size=1,
    max_size=3,
).map(tuple)
rules = st.builds(
    ScalingRules,
    st.integers(0, 600),
    policies,
    st.sampled_from(["Max", "Min", "Disabled"]),
    st.integers(0, 300),
)


@st.composite
def horizontal_settings(draw: st.DrawFn) -> HorizontalSettings:
    low = draw(st.integers(0, 10))
    high = draw(st.integers(max(low, 1), 40))
    tolerance = draw(st.sampled_from([0.0, 0.05, 0.1, 0.3]))
    return HorizontalSettings(low, high, tolerance, draw(rules), draw(rules))


ratios = st.one_of(st.none(), st.floats(0, 20, allow_nan=False), st.just(float("nan")))
readings = st.lists(st.builds(MetricReading, st.sampled_from(["cpu", "memory", "rps"]), ratios), max_size=3)
past = st.floats(T0 - 900, T0)
states = st.builds(
    HorizontalState,
    st.lists(st.builds(Recommendation, past, st.integers(0, 50)), max_size=8).map(tuple),
    st.lists(st.builds(ScaleEvent, past, st.integers(0, 50), st.integers(0, 50)), max_size=6).map(
        lambda events: tuple(sorted(events, key=lambda e: e.time))
    ),
)
optional_bound = st.one_of(st.none(), st.integers(0, 45))


def bounds(config: HorizontalSettings, floor: int | None, cap: int | None) -> tuple[int, int]:
    """The documented bounds: floor raises min (up to max); cap lowers max, never below that."""
    lower = (
        config.min_replicas if floor is None else min(max(floor, config.min_replicas), config.max_replicas)
    )
    upper = config.max_replicas if cap is None else max(min(cap, config.max_replicas), lower)
    return lower, upper


def run(
    current: int,
    metrics: list[MetricReading],
    config: HorizontalSettings,
    state: HorizontalState,
    floor: int | None,
    cap: int | None,
) -> HorizontalDecision:
    return decide(current, metrics, config, state, T0, floor=floor, cap=cap)


@settings(max_examples=400)
@given(st.integers(0, 50), readings, horizontal_settings(), states, optional_bound, optional_bound)
def test_never_outside_min_max_floor_or_cap(
    current: int,
    metrics: list[MetricReading],
    config: HorizontalSettings,
    state: HorizontalState,
    floor: int | None,
    cap: int | None,
) -> None:
    replicas = run(current, metrics, config, state, floor, cap).replicas
    lower, upper = bounds(config, floor, cap)
    assert config.min_replicas <= lower <= replicas <= upper <= config.max_replicas
    assert replicas > 0 or config.min_replicas == 0


@settings(max_examples=400)
@given(st.integers(0, 50), readings, horizontal_settings(), states, optional_bound, optional_bound)
def test_in_bounds_a_decision_moves_towards_desired_never_past_it(
    current: int,
    metrics: list[MetricReading],
    config: HorizontalSettings,
    state: HorizontalState,
    floor: int | None,
    cap: int | None,
) -> None:
    lower, upper = bounds(config, floor, cap)
    decision = run(current, metrics, config, state, floor, cap)
    if lower <= current <= upper:
        assert min(current, decision.desired) <= decision.replicas <= max(current, decision.desired)


@settings(max_examples=400)
@given(st.integers(0, 50), readings, horizontal_settings(), states, optional_bound, optional_bound)
def test_no_scale_down_while_a_reading_is_missing(
    current: int,
    metrics: list[MetricReading],
    config: HorizontalSettings,
    state: HorizontalState,
    floor: int | None,
    cap: int | None,
) -> None:
    lower, upper = bounds(config, floor, cap)
    missing = not metrics or any(m.usage_ratio is None or math.isnan(m.usage_ratio) for m in metrics)
    if missing and lower <= current <= upper:
        assert run(current, metrics, config, state, floor, cap).replicas >= current


@settings(max_examples=400)
@given(st.integers(0, 50), readings, horizontal_settings(), states, optional_bound, optional_bound)
def test_a_scale_down_stays_at_or_above_every_recommendation_in_the_window(
    current: int,
    metrics: list[MetricReading],
    config: HorizontalSettings,
    state: HorizontalState,
    floor: int | None,
    cap: int | None,
) -> None:
    lower, upper = bounds(config, floor, cap)
    decision = run(current, metrics, config, state, floor, cap)
    if lower <= current <= upper and decision.replicas < current:
        cutoff = T0 - config.scale_down.stabilization_window_seconds
        window = [r.replicas for r in state.recommendations if r.time > cutoff] + [decision.desired]
        assert decision.replicas >= max(window)


@settings(max_examples=400)
@given(st.integers(0, 50), readings, horizontal_settings(), states, optional_bound, optional_bound)
def test_no_change_in_a_direction_within_its_cooldown(
    current: int,
    metrics: list[MetricReading],
    config: HorizontalSettings,
    state: HorizontalState,
    floor: int | None,
    cap: int | None,
) -> None:
    lower, upper = bounds(config, floor, cap)
    replicas = run(current, metrics, config, state, floor, cap).replicas
    if not lower <= current <= upper:
        return
    for up, rules_ in ((True, config.scale_up), (False, config.scale_down)):
        recent = [e for e in state.events if (e.to_replicas > e.from_replicas) == up]
        recent = [e for e in recent if e.to_replicas != e.from_replicas]
        if recent and T0 - max(e.time for e in recent) < rules_.cooldown_seconds:
            assert (replicas <= current) if up else (replicas >= current)


@settings(max_examples=100)
@given(
    horizontal_settings(),
    st.lists(
        st.lists(st.one_of(st.none(), st.floats(0, 6)), min_size=2, max_size=2), min_size=5, max_size=60
    ),
    st.integers(5, 60),
)
def test_a_run_respects_cooldowns_and_bounds(
    config: HorizontalSettings, loads: list[list[float | None]], step: int
) -> None:
    """Feed each decision's replicas and state into the next, every ``step`` seconds."""
    replicas, state, now = config.min_replicas, HorizontalState(), T0
    last_change: dict[bool, float] = {}
    for cpu_ratio, memory_ratio in loads:
        metrics = [MetricReading("cpu", cpu_ratio), MetricReading("memory", memory_ratio)]
        decision = decide(replicas, metrics, config, state, now)
        assert config.min_replicas <= decision.replicas <= config.max_replicas
        if decision.replicas != replicas:
            up = decision.replicas > replicas
            cooldown = (config.scale_up if up else config.scale_down).cooldown_seconds
            if up in last_change:
                assert now - last_change[up] >= cooldown
            last_change[up] = now
            if None in (cpu_ratio, memory_ratio):
                assert up
        replicas, state, now = decision.replicas, decision.state, now + step


@settings(max_examples=300)
@given(st.integers(0, 50), readings, horizontal_settings(), states, optional_bound, optional_bound)
def test_keeping_only_the_newest_of_equal_recommendations_decides_the_same(
    current: int,
    metrics: list[MetricReading],
    config: HorizontalSettings,
    state: HorizontalState,
    floor: int | None,
    cap: int | None,
) -> None:
    newest: dict[int, Recommendation] = {}
    for recommendation in sorted(state.recommendations, key=lambda r: r.time):
        newest[recommendation.replicas] = recommendation
    compact = HorizontalState(tuple(newest.values()), state.events)
    assert (
        run(current, metrics, config, compact, floor, cap).replicas
        == run(current, metrics, config, state, floor, cap).replicas
    )
