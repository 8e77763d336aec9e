"""The ResourceBudget integration test's periods (tests/budget_periods.py) through the engine's
period_bounds, on the days of the month and hours of the day where day numbers and midnights trip a
choice made from the date: the 1st, 2nd, 15th, 28th and 31st, and 29 February."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from budget_periods import (
    HISTORY_HOURS,
    NEW_PERIOD_HOURS,
    SPENT_OF_AMOUNT,
    first_period,
    new_period,
    period_began,
)
from thrifty.engine.budget import period_bounds, thresholds_to_fire

HOUR = 3600.0
THRESHOLDS = (50, 80, 100)  # the integration test's budgets
# The new budget is applied minutes after the history is written (operator restart, several rounds).
LATER = (0.0, 60.0, 900.0)

DAYS = [
    (2026, 12, 1),
    (2026, 12, 2),
    (2026, 12, 15),
    (2026, 2, 28),
    (2026, 3, 1),  # the day after the 28th in a common year
    (2026, 12, 28),
    (2026, 12, 31),
    (2028, 2, 29),
    (2028, 3, 1),
]
TIMES = [(0, 0, 0), (0, 30, 0), (11, 59, 59), (19, 50, 0), (23, 59, 59)]
MOMENTS = [datetime(*day, *clock, tzinfo=UTC) for day in DAYS for clock in TIMES]


def bounds(fields: dict[str, Any], now: float) -> tuple[float, float]:
    start = fields.get("periodStart", {})
    return period_bounds(
        now,
        fields["period"],
        time_zone=start.get("timeZone", "UTC"),
        day_of_month=start.get("dayOfMonth", 1),
        day_of_week=start.get("dayOfWeek", "Mon"),
    )


def check_the_plan(history_end: float) -> None:
    """What the integration test relies on, for a history of flat spend ending at ``history_end``."""
    history_start = history_end - HISTORY_HOURS * HOUR
    first_start, first_end = bounds(first_period(history_end), history_end)
    # (a) The first period holds the whole history, and the rest of the test.
    assert first_start <= history_start
    assert first_end > history_end + 2 * 86400
    assert thresholds_to_fire(THRESHOLDS, 100 * SPENT_OF_AMOUNT, []) == [50, 80]
    for later in LATER:
        now = history_end + later
        start, end = bounds(new_period(now), now)
        # (b) The new period began NEW_PERIOD_HOURS ago (within the hour), is another period than the
        # first, and holds three quarters of the history: 50 fires in it again, 80 does not.
        assert now - (NEW_PERIOD_HOURS + 1) * HOUR < start <= now - NEW_PERIOD_HOURS * HOUR
        assert start < now < end
        assert start != first_start
        share = (history_end - start) / (HISTORY_HOURS * HOUR)
        assert share == pytest.approx(NEW_PERIOD_HOURS / HISTORY_HOURS, abs=1.5 / HISTORY_HOURS)
        assert thresholds_to_fire(THRESHOLDS, 100 * SPENT_OF_AMOUNT * share, []) == [50]


@pytest.mark.parametrize("moment", MOMENTS, ids=lambda m: m.strftime("%Y-%m-%dT%H:%M:%S"))
def test_the_budget_test_periods_hold_on_any_day(moment: datetime) -> None:
    check_the_plan(moment.timestamp())


@given(st.floats(min_value=datetime(2020, 1, 1, tzinfo=UTC).timestamp(), max_value=4102444800.0))
def test_the_budget_test_periods_hold_at_any_moment(history_end: float) -> None:
    check_the_plan(history_end)


@pytest.mark.parametrize("hours_ago", [0, 1, 5, 12, 13, 23, 24, 54, 96, 166.5])
@pytest.mark.parametrize("moment", MOMENTS[::4], ids=lambda m: m.strftime("%Y-%m-%dT%H:%M:%S"))
def test_a_period_begins_within_the_hour_before_the_one_asked_for(moment: datetime, hours_ago: float) -> None:
    now = moment.timestamp()
    fields = period_began(now, hours_ago)
    start, end = bounds(fields, now)
    assert now - (hours_ago + 1) * HOUR < start <= now - hours_ago * HOUR
    assert start <= now < end == start + 7 * 86400  # Etc/GMT zones keep no daylight saving
    assert fields["period"] == "Weekly"
    assert set(fields["periodStart"]) == {"timeZone", "dayOfWeek"}  # no dayOfMonth to run out of


def test_a_period_that_would_not_hold_now_is_refused() -> None:
    with pytest.raises(ValueError, match="hours_ago"):
        period_began(0.0, 167)
    with pytest.raises(ValueError, match="hours_ago"):
        period_began(0.0, -1)
