"""The periods of the ResourceBudget integration test, chosen from an injected ``now`` so that they hold
on any day at any hour (tests/unit/test_budget_periods.py checks them against the engine).

The test backfills HISTORY_HOURS of flat spend ending now, priced at SPENT_OF_AMOUNT of the budget's
amount. Its first period must hold all of that history (50 and 80 fire, 100 does not); its new period
must begin inside it, so that only part of the spend is in the new period (50 fires again, 80 does not).

Periods begin at local midnight (``thrifty.engine.budget.period_bounds``), so neither obvious choice
works every day:
- a Monthly ``dayOfMonth`` stops at 28, so in the first days of a month "the day two days ago" and
  "the day four days ago" can both become the 28th: the new period is the first one;
- the UTC midnight two days ago lies anywhere from 48 to 72 hours back, with the hour of the day, and
  after about 19:45 UTC a period from then holds more than 80% of the amount.

A Weekly period fixes the day (every weekday comes every week), and the time zone fixes the hour: the
``Etc/GMT±h`` zones (UTC-12 to UTC+11 here) put local midnight on any whole UTC hour, so the period
begins within the hour before the moment asked for.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any, Final

from thrifty.engine.budget import WEEKDAYS

HOUR: Final = 3600
WEEK_HOURS: Final = 7 * 24

HISTORY_HOURS: Final = 72
SPENT_OF_AMOUNT: Final = 0.85  # all the history's spend against the amount: 50 and 80 fire, 100 does not
FIRST_PERIOD_HOURS: Final = 96  # holds the whole history, with a day to spare
# Three quarters of the history (up to one more hour of it): 64-65% of the amount, well clear of 50 and
# 80 however long the test takes to get there.
NEW_PERIOD_HOURS: Final = 54


def period_began(now: float, hours_ago: float) -> dict[str, Any]:
    """The spec fields ``period`` and ``periodStart`` of a Weekly period that began between
    ``hours_ago`` and ``hours_ago + 1`` hours before ``now`` (unix seconds), so it still holds ``now``
    while ``hours_ago`` is below a week less an hour."""
    if not 0 <= hours_ago < WEEK_HOURS - 1:
        raise ValueError(f"hours_ago must be 0 to {WEEK_HOURS - 1} (excluded), got {hours_ago}")
    start = math.floor(now / HOUR - hours_ago) * HOUR  # a whole UTC hour
    hour = datetime.fromtimestamp(start, UTC).hour
    offset = -hour if hour <= 12 else 24 - hour  # hours east of UTC where ``start`` is midnight
    # POSIX signs: Etc/GMT+5 is five hours behind UTC.
    zone = "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"
    local_day = datetime.fromtimestamp(start + offset * HOUR, UTC).date()
    return {"period": "Weekly", "periodStart": {"timeZone": zone, "dayOfWeek": WEEKDAYS[local_day.weekday()]}}


def first_period(now: float) -> dict[str, Any]:
    """The period of the test's first budgets, chosen when the history ending at ``now`` is written."""
    return period_began(now, FIRST_PERIOD_HOURS)


def new_period(now: float) -> dict[str, Any]:
    """The period the test moves its budget to, chosen at ``now``, a little after the history's end."""
    return period_began(now, NEW_PERIOD_HOURS)
