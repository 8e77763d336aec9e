"""Schedules: recurring time windows that set a replica floor or cap, e.g. nights and weekends.

A window starts on each of its ``days`` at ``start`` (wall-clock time in its ``time_zone``) and ends at
``end``. When end <= start it ends the next day and still belongs to the day it started: a Friday
22:00-06:00 window covers Saturday 05:00, and a Sunday 05:00 is outside a Mon-Fri one. end == start
is a 24-hour window. Windows are half-open: active from their start, no longer at their end.

Times are wall-clock times under the zone's daylight-saving rules, so a window keeps its local times
across a change and its length in seconds changes instead (22:00-06:00 in Europe/Berlin lasts 7 h on
the spring-forward night, 9 h on the fall-back one). A time the change skips (02:30 on the last Sunday
of March in Berlin) means the moment the clocks jump (03:00), as cron runs a skipped job; a time the
change repeats (02:30 on the last Sunday of October) means its first occurrence.

Where windows overlap, the highest floor and the lowest cap apply. Reconciling a floor above a cap,
and both with minReplicas/maxReplicas, is the horizontal engine's job (``horizontal.decide``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

WEEKDAYS: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # in datetime.weekday() order
_CLOCK: Final = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
_DAY: Final = timedelta(days=1)


@dataclass(frozen=True)
class ScheduleWindow:
    """One recurring window: on ``days`` (Mon..Sun) from ``start`` to ``end`` ("HH:MM", 24-hour) in
    the IANA ``time_zone``; inside it replicas stay within [min_replicas, max_replicas] (None: no bound)."""

    name: str
    time_zone: str
    days: tuple[str, ...]
    start: str
    end: str
    min_replicas: int | None = None
    max_replicas: int | None = None

    def __post_init__(self) -> None:
        for clock in (self.start, self.end):
            if not _CLOCK.match(clock):
                raise ValueError(f"schedule {self.name}: {clock!r} is not a 24-hour HH:MM time")
        unknown = sorted(set(self.days) - set(WEEKDAYS))
        if unknown:
            raise ValueError(f"schedule {self.name}: unknown days {unknown}; use {', '.join(WEEKDAYS)}")
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"schedule {self.name}: unknown time zone {self.time_zone!r}") from error
        for bound in (self.min_replicas, self.max_replicas):
            if bound is not None and bound < 0:
                raise ValueError(f"schedule {self.name}: replicas must be non-negative")
        low, high = self.min_replicas, self.max_replicas
        if low is not None and high is not None and low > high:
            raise ValueError(f"schedule {self.name}: min_replicas is above max_replicas")


def active_bounds(windows: Sequence[ScheduleWindow], now: float) -> tuple[int | None, int | None, list[str]]:
    """(floor, cap, names) at unix time ``now``: the highest minimum and the lowest maximum among the
    active windows (None when no active window sets one) and the active windows' names, in order."""
    active = [window for window in windows if _active_over(window, np.array([now], dtype=np.float64))[0]]
    floors = [window.min_replicas for window in active if window.min_replicas is not None]
    caps = [window.max_replicas for window in active if window.max_replicas is not None]
    return (max(floors) if floors else None, min(caps) if caps else None, [w.name for w in active])


def bounds_over(windows: Sequence[ScheduleWindow], times: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """(floor, cap) at each unix time of ``times``, as ``active_bounds`` gives them one at a time.

    Float arrays of ``times``' shape with NaN where no active window sets a floor (or a cap); NaN times
    give NaN. For simulations: each window's occurrences are listed once and looked up for all times.
    """
    instants = np.asarray(times, dtype=np.float64)
    floor = np.full(instants.shape, np.nan)
    cap = np.full(instants.shape, np.nan)
    for window in windows:
        if window.min_replicas is None and window.max_replicas is None:
            continue
        active = _active_over(window, instants)
        if window.min_replicas is not None:
            floor = np.where(active, np.fmax(floor, window.min_replicas), floor)  # fmax skips NaN
        if window.max_replicas is not None:
            cap = np.where(active, np.fmin(cap, window.max_replicas), cap)
    return floor, cap


# ----- internals -----


def _active_over(window: ScheduleWindow, instants: FloatArray) -> BoolArray:
    known = instants[np.isfinite(instants)]
    if known.size == 0:
        return np.zeros(instants.shape, np.bool_)
    starts, ends = _occurrences(window, float(known.min()), float(known.max()))
    if starts.size == 0:
        return np.zeros(instants.shape, np.bool_)
    # Occurrences of one window never overlap (each lasts at most a day and starts a day after the
    # previous one), so the only candidate is the latest occurrence that started at or before t.
    latest = np.searchsorted(starts, instants, side="right") - 1
    started = latest >= 0
    return started & (instants < ends[np.maximum(latest, 0)])


def _occurrences(window: ScheduleWindow, first: float, last: float) -> tuple[FloatArray, FloatArray]:
    """Start and end instants of every occurrence that may cover [first, last], in start order."""
    zone = ZoneInfo(window.time_zone)
    day = datetime.fromtimestamp(first, zone).date() - _DAY  # yesterday's window may still be open
    final = datetime.fromtimestamp(last, zone).date()
    overnight = window.end <= window.start
    starts: list[float] = []
    ends: list[float] = []
    while day <= final:
        if WEEKDAYS[day.weekday()] in window.days:
            starts.append(_instant(day, window.start, zone))
            ends.append(_instant(day + _DAY if overnight else day, window.end, zone))
        day += _DAY
    return np.array(starts, dtype=np.float64), np.array(ends, dtype=np.float64)


def _instant(day: date, clock: str, zone: ZoneInfo) -> float:
    """Unix time of the wall-clock ``clock`` on ``day`` in ``zone``."""
    wall = datetime(day.year, day.month, day.day, int(clock[:2]), int(clock[3:]), tzinfo=zone)
    instant = wall.timestamp()  # fold=0: the first occurrence of a repeated time
    if datetime.fromtimestamp(instant, zone).replace(tzinfo=None) == wall.replace(tzinfo=None):
        return instant
    # Skipped: fold=0 reads the time with the old offset (after the jump), fold=1 with the new one
    # (before it); the jump lies between the two.
    return _offset_change(wall.replace(fold=1).timestamp(), instant, zone)


def _offset_change(before: float, after: float, zone: ZoneInfo) -> float:
    """The first second in (before, after] at which ``zone``'s UTC offset differs from at ``before``."""

    def offset(at: int) -> timedelta | None:
        return datetime.fromtimestamp(at, zone).utcoffset()

    low, high = int(before), int(np.ceil(after))
    old = offset(low)
    while high - low > 1:
        middle = (low + high) // 2
        if offset(middle) == old:
            low = middle
        else:
            high = middle
    return float(high)
