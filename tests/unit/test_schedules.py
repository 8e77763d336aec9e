"""Schedules: which windows are active when, across midnight and daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thrifty.engine.schedules import WEEKDAYS, ScheduleWindow, active_bounds, bounds_over

BERLIN = ZoneInfo("Europe/Berlin")
WEEKNIGHTS = ScheduleWindow(
    "night", "Europe/Berlin", ("Mon", "Tue", "Wed", "Thu", "Fri"), "22:00", "06:00", None, 3
)
EVERY_NIGHT = ScheduleWindow("night", "Europe/Berlin", WEEKDAYS, "22:00", "06:00", None, 2)


def berlin(year: int, month: int, day: int, hour: int, minute: int = 0, fold: int = 0) -> float:
    return datetime(year, month, day, hour, minute, fold=fold, tzinfo=BERLIN).timestamp()


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()


def active(window: ScheduleWindow, now: float) -> bool:
    return active_bounds([window], now)[2] == [window.name]


# 2024-06-07 is a Friday.
@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (berlin(2024, 6, 7, 23), True),  # Friday night
        (berlin(2024, 6, 8, 5), True),  # Saturday morning: the window started on Friday
        (berlin(2024, 6, 8, 12), False),  # Saturday noon
        (berlin(2024, 6, 7, 12), False),  # Friday noon
        (berlin(2024, 6, 8, 23), False),  # Saturday night: Saturday is not a start day
        (berlin(2024, 6, 10, 5), False),  # Monday morning: would have started on Sunday
        (berlin(2024, 6, 7, 22), True),  # the start is inside
        (berlin(2024, 6, 8, 6), False),  # the end is outside
        (berlin(2024, 6, 8, 5, 59), True),
        (berlin(2024, 6, 7, 21, 59), False),
    ],
)
def test_a_weeknight_window_across_midnight(moment: float, expected: bool) -> None:
    assert active(WEEKNIGHTS, moment) is expected


def test_a_daytime_window() -> None:
    office = ScheduleWindow(
        "office", "America/New_York", ("Mon", "Tue", "Wed", "Thu", "Fri"), "09:00", "17:00", 4
    )
    new_york = ZoneInfo("America/New_York")
    assert active(office, datetime(2024, 6, 7, 9, tzinfo=new_york).timestamp())
    assert not active(office, datetime(2024, 6, 7, 17, tzinfo=new_york).timestamp())
    assert not active(office, datetime(2024, 6, 8, 10, tzinfo=new_york).timestamp())  # Saturday


def test_start_equal_to_end_is_a_whole_day() -> None:
    sunday = ScheduleWindow("sunday", "UTC", ("Sun",), "06:00", "06:00", None, 1)
    assert active(sunday, utc(2024, 6, 9, 6))
    assert active(sunday, utc(2024, 6, 10, 5, 59))
    assert not active(sunday, utc(2024, 6, 10, 6))


def test_overlapping_windows_take_the_highest_floor_and_the_lowest_cap() -> None:
    windows = [
        ScheduleWindow("weekend", "UTC", ("Sat", "Sun"), "00:00", "00:00", 2, 6),
        ScheduleWindow("sale", "UTC", ("Sat",), "10:00", "14:00", 5, None),
        ScheduleWindow("maintenance", "UTC", ("Sat",), "12:00", "13:00", None, 4),
    ]
    assert active_bounds(windows, utc(2024, 6, 8, 12, 30)) == (5, 4, ["weekend", "sale", "maintenance"])
    assert active_bounds(windows, utc(2024, 6, 8, 9)) == (2, 6, ["weekend"])
    assert active_bounds(windows, utc(2024, 6, 7, 9)) == (None, None, [])
    assert active_bounds([], utc(2024, 6, 7, 9)) == (None, None, [])


def test_spring_forward_night_is_an_hour_shorter() -> None:
    # 2024-03-31 (Sunday) in Berlin: 02:00 CET jumps to 03:00 CEST. Saturday 22:00 CET is 21:00 UTC;
    # Sunday 06:00 CEST is 04:00 UTC: the window lasts 7 h.
    assert not active(EVERY_NIGHT, utc(2024, 3, 30, 20, 59))
    assert active(EVERY_NIGHT, utc(2024, 3, 30, 21))
    assert active(EVERY_NIGHT, utc(2024, 3, 31, 3, 59))
    assert not active(EVERY_NIGHT, utc(2024, 3, 31, 4))  # 06:00 CEST; a fixed +1 h offset says 05:00


def test_fall_back_night_is_an_hour_longer() -> None:
    # 2024-10-27 (Sunday): 03:00 CEST falls back to 02:00 CET. Saturday 22:00 CEST is 20:00 UTC;
    # Sunday 06:00 CET is 05:00 UTC: the window lasts 9 h.
    assert active(EVERY_NIGHT, utc(2024, 10, 26, 20))
    assert active(EVERY_NIGHT, utc(2024, 10, 27, 4, 30))  # 05:30 CET; a fixed +2 h offset has ended
    assert not active(EVERY_NIGHT, utc(2024, 10, 27, 5))


def test_a_skipped_start_time_starts_when_the_clocks_jump() -> None:
    backup = ScheduleWindow("backup", "Europe/Berlin", ("Sun",), "02:30", "04:00", 1, None)
    jump = utc(2024, 3, 31, 1)  # 02:00 CET = 03:00 CEST
    assert not active(backup, jump - 1)
    assert active(backup, jump)
    assert not active(backup, berlin(2024, 3, 31, 4))


def test_a_repeated_time_means_its_first_occurrence() -> None:
    backup = ScheduleWindow("backup", "Europe/Berlin", ("Sun",), "02:30", "04:00", 1, None)
    first = berlin(2024, 10, 27, 2, 30, fold=0)
    assert first == utc(2024, 10, 27, 0, 30)
    assert not active(backup, first - 1)
    assert active(backup, first)
    assert active(backup, berlin(2024, 10, 27, 2, 30, fold=1))  # still inside, an hour later


def test_bounds_over_times() -> None:
    windows = [WEEKNIGHTS, ScheduleWindow("weekend", "UTC", ("Sat", "Sun"), "00:00", "00:00", 1, None)]
    times = np.array(
        [berlin(2024, 6, 7, 12), berlin(2024, 6, 7, 23), berlin(2024, 6, 8, 5), berlin(2024, 6, 8, 12)]
    )
    floor, cap = bounds_over(windows, times)
    np.testing.assert_array_equal(floor, [np.nan, np.nan, 1, 1])  # Sat 05:00 Berlin is 03:00 UTC
    np.testing.assert_array_equal(cap, [np.nan, 3, 3, np.nan])
    empty_floor, empty_cap = bounds_over(windows, np.array([]))
    assert empty_floor.shape == empty_cap.shape == (0,)
    nan_floor, _ = bounds_over(windows, np.array([np.nan]))
    assert np.isnan(nan_floor[0])


zones = st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"])
clocks = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.sampled_from([0, 15, 30, 59]))
windows = st.builds(
    ScheduleWindow,
    st.sampled_from(["a", "b", "c"]),
    zones,
    st.sets(st.sampled_from(WEEKDAYS), min_size=1).map(tuple),
    clocks,
    clocks,
    st.one_of(st.none(), st.integers(0, 5)),
    st.one_of(st.none(), st.integers(5, 10)),
)
# Two years around DST changes in both hemispheres, at whole and odd seconds.
instants = st.floats(utc(2024, 1, 1, 0), utc(2025, 12, 31, 0), allow_nan=False)


@settings(max_examples=200)
@given(st.lists(windows, max_size=4), st.lists(instants, min_size=1, max_size=20))
def test_bounds_over_agrees_with_active_bounds(chosen: list[ScheduleWindow], moments: list[float]) -> None:
    floor, cap = bounds_over(chosen, np.array(moments))
    for i, moment in enumerate(moments):
        low, high, _ = active_bounds(chosen, moment)
        assert (np.nan if low is None else low) == pytest.approx(floor[i], nan_ok=True)
        assert (np.nan if high is None else high) == pytest.approx(cap[i], nan_ok=True)


@settings(max_examples=200)
@given(windows, instants)
def test_a_window_is_active_only_between_a_start_and_its_end(window: ScheduleWindow, moment: float) -> None:
    """Check against a direct reading of local time, away from DST changes where that reading is
    ambiguous: the weekday and clock the window started on and the time since."""
    zone = ZoneInfo(window.time_zone)
    local = datetime.fromtimestamp(moment, zone)
    offsets = {datetime.fromtimestamp(moment + days * 86400, zone).utcoffset() for days in (-2, 0, 2)}
    if len(offsets) > 1:
        return  # a DST change within two days: covered by the hand-worked tests
    minute = local.hour * 60 + local.minute
    start = int(window.start[:2]) * 60 + int(window.start[3:])
    end = int(window.end[:2]) * 60 + int(window.end[3:])
    weekday = local.weekday()
    if end > start:
        expected = WEEKDAYS[weekday] in window.days and start <= minute < end
    else:
        today = WEEKDAYS[weekday] in window.days and minute >= start
        yesterday = WEEKDAYS[(weekday - 1) % 7] in window.days and minute < end
        expected = today or yesterday
    assert active(window, moment) is expected


def test_invalid_windows_are_refused() -> None:
    with pytest.raises(ValueError, match="HH:MM"):
        ScheduleWindow("x", "UTC", ("Mon",), "24:00", "06:00")
    with pytest.raises(ValueError, match="unknown days"):
        ScheduleWindow("x", "UTC", ("Monday",), "22:00", "06:00")
    with pytest.raises(ValueError, match="time zone"):
        ScheduleWindow("x", "Mars/Olympus", ("Mon",), "22:00", "06:00")
    with pytest.raises(ValueError, match="above max_replicas"):
        ScheduleWindow("x", "UTC", ("Mon",), "22:00", "06:00", 5, 2)
