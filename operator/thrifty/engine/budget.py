"""ResourceBudget decisions: the period, the forecast of its end, thresholds, state, anomalies, enforcement.

Spend itself is priced by ``thrifty.engine.cost``; this module takes its per-step totals and decides.

Periods begin at local midnight in the budget's time zone (daily; on a weekday for Weekly; on a day
of the month, 1-28, for Monthly), so their length in seconds follows daylight-saving changes. A
midnight that a change skips means the moment the clocks jump, a repeated one its first occurrence,
as ``thrifty.engine.schedules`` reads wall-clock times.

State, one word for ``kubectl get``, by precedence (the most severe true statement wins):
``Exceeded`` (spent has reached the amount) > ``ForecastOverrun`` (the period is forecast to end above
it) > ``Warning`` (a threshold fired this period) > ``OK``; ``Unknown`` when spend is not known.

Enforcement (``enforcement_decision``): ``Alert`` never acts. ``BlockScaleUp`` holds every workload
in scope at its current replicas once the forecast or the spend reaches the amount. ``ScaleDown`` does
the same and, once the spend has reached the amount ("past 100%"), also sheds replicas. How much:
enough that the hourly run rate fits what is left of the budget over what is left of the period
(``scale_down_target``). Past 100% nothing is left, so every workload in scope goes down to its
minReplicas; the order (lowest priority first; ties: dearest replica first, then name) is the order
the plan lists and applies them in, and it decides who is spared whenever the caller asks for a
smaller, finite reduction (``scale_down_plan`` takes any target).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

Period = Literal["Daily", "Weekly", "Monthly"]
Enforcement = Literal["Alert", "BlockScaleUp", "ScaleDown"]
ForecastMethod = Literal["DailySeasonal", "Linear", "None"]
BudgetState = Literal["OK", "Warning", "ForecastOverrun", "Exceeded", "Unknown"]

WEEKDAYS: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # in datetime.weekday() order
HOUR: Final = 3600.0
DAY: Final = 86_400.0

# Forecast settings. The daily profile has one slot per UTC hour; a time zone moves every slot alike,
# so the shape repeats just the same (only a daylight-saving change shifts it by an hour).
SLOTS: Final = 24
MIN_DAYS_PER_SLOT: Final = 2  # "two full days": every hour of the day seen on two different days
RUN_RATE_SECONDS: Final = 6 * HOUR  # the window of the linear run rate and of the seasonal trend
TREND_LIMITS: Final = (0.25, 4.0)  # a few noisy hours must not multiply a month's forecast without bound

# Anomaly settings: a day is anomalous beyond k robust standard deviations of the previous days.
MAD_TO_SIGMA: Final = 1.4826  # MAD x 1.4826 estimates the standard deviation of normal data
ANOMALY_K: Final = 3.5
ANOMALY_WINDOW_DAYS: Final = 14
ANOMALY_MIN_DAYS: Final = 5
# With perfectly flat spend MAD is 0 and any change would be "infinitely" anomalous; sigma is at least
# this fraction of the median (3.5 x 0.1: a 35% change on flat spend) and at least ANOMALY_MIN_SIGMA.
ANOMALY_RELATIVE_FLOOR: Final = 0.1
ANOMALY_MIN_SIGMA: Final = 1e-6

PRIORITY_ANNOTATION: Final = "thrifty.dev/priority"


# ----- period -----


def _zone(time_zone: str) -> ZoneInfo:
    try:
        return ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown time zone {time_zone!r}") from error


def _midnight(day: date, zone: ZoneInfo) -> float:
    """Unix time of local midnight starting ``day``: fold=0 gives the first of a repeated midnight and,
    for a skipped one, the offset before the change, i.e. the moment the clocks jump."""
    return datetime.combine(day, time(0), tzinfo=zone).timestamp()


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return day.replace(year=index // 12, month=index % 12 + 1)  # day <= 28: valid in every month


def _period_first_day(local: date, period: Period, day_of_month: int, weekday: int) -> date:
    if period == "Daily":
        return local
    if period == "Weekly":
        return local - timedelta(days=(local.weekday() - weekday) % 7)
    first = local.replace(day=day_of_month)
    return first if local.day >= day_of_month else _add_months(first, -1)


def _next_first_day(first: date, period: Period) -> date:
    if period == "Daily":
        return first + timedelta(days=1)
    if period == "Weekly":
        return first + timedelta(days=7)
    return _add_months(first, 1)


def period_bounds(
    now: float,
    period: Period,
    time_zone: str = "UTC",
    day_of_month: int = 1,
    day_of_week: str = "Mon",
) -> tuple[float, float]:
    """(start, end) in unix seconds of the period holding ``now``: start <= now < end.

    Boundaries are local midnights in ``time_zone``: every day (Daily), on ``day_of_week`` (Weekly), on
    ``day_of_month`` (Monthly, 1-28 so every month has it). A Monthly budget starting on the 1st in
    Europe/Berlin runs from 1 March 00:00 CET to 1 April 00:00 CEST: 743 hours, not 744.
    """
    if period not in ("Daily", "Weekly", "Monthly"):
        raise ValueError(f"period must be Daily, Weekly or Monthly, got {period!r}")
    if not 1 <= day_of_month <= 28:
        raise ValueError(f"day_of_month must be 1-28, got {day_of_month}")
    if day_of_week not in WEEKDAYS:
        raise ValueError(f"day_of_week must be one of {', '.join(WEEKDAYS)}, got {day_of_week!r}")
    if not math.isfinite(now):
        raise ValueError("now must be a finite unix time")
    zone = _zone(time_zone)
    local = datetime.fromtimestamp(now, zone).date()
    first = _period_first_day(local, period, day_of_month, WEEKDAYS.index(day_of_week))
    start, end = _midnight(first, zone), _midnight(_next_first_day(first, period), zone)
    # Where a change repeats the hour before midnight, a local date can name a period that has not
    # begun or already ended in absolute time; step to the period that holds ``now``.
    for _ in range(2):
        if now >= end:
            first = _next_first_day(first, period)
        elif now < start:
            first = _period_first_day(
                first - timedelta(days=1), period, day_of_month, WEEKDAYS.index(day_of_week)
            )
        else:
            break
        start, end = _midnight(first, zone), _midnight(_next_first_day(first, period), zone)
    return start, end


# ----- forecast -----


@dataclass(frozen=True)
class SpendForecast:
    """Spend at the period's end: ``spent`` so far plus ``projected`` for the rest, and how."""

    total: float
    spent: float
    projected: float
    method: ForecastMethod
    reason: str


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _duration(seconds: float) -> str:
    if seconds >= 2 * DAY:
        return f"{seconds / DAY:.1f} days"
    if seconds >= HOUR:
        return f"{seconds / HOUR:.1f} h"
    return f"{seconds / 60:.0f} min"


def _step_of(times: FloatArray, step_seconds: float | None) -> float | None:
    if step_seconds is not None:
        if not step_seconds > 0:
            raise ValueError(f"step_seconds must be positive, got {step_seconds}")
        return float(step_seconds)
    gaps = np.diff(times)
    gaps = gaps[gaps > 0]
    return float(np.median(gaps)) if len(gaps) else None


def _daily_profile(times: FloatArray, spend: FloatArray, step: float) -> FloatArray | None:
    """Mean spend per second in each UTC hour of the day, or None unless every hour was seen on at
    least MIN_DAYS_PER_SLOT different days."""
    middle = times - step / 2  # each sample stands for the step that ends at its time
    slot = (np.floor(np.mod(middle, DAY) / (DAY / SLOTS))).astype(np.int64)
    day = np.floor(middle / DAY).astype(np.int64)
    days_seen = np.bincount(np.unique(day * SLOTS + slot) % SLOTS, minlength=SLOTS)
    if days_seen.min() < MIN_DAYS_PER_SLOT:
        return None
    total = np.bincount(slot, weights=spend, minlength=SLOTS)
    count = np.bincount(slot, minlength=SLOTS)
    profile: FloatArray = total / (count * step)
    return profile


def _profile_integral(profile: FloatArray, start: float, end: float) -> float:
    """Spend the per-second ``profile`` (one rate per UTC hour) adds up to over (start, end]."""
    knots = np.linspace(0.0, DAY, SLOTS + 1)
    cumulative = np.concatenate(([0.0], np.cumsum(profile * (DAY / SLOTS))))

    def spent_by(moment: float) -> float:
        days, offset = divmod(moment, DAY)
        return float(days * cumulative[-1] + np.interp(offset, knots, cumulative))

    return spent_by(end) - spent_by(start)


def forecast_end_of_period(
    step_times: npt.ArrayLike,
    step_spend: npt.ArrayLike,
    period_start: float,
    period_end: float,
    now: float,
    *,
    step_seconds: float | None = None,
) -> SpendForecast:
    """Forecast of the spend at ``period_end``: what was spent in the period so far plus a projection of
    the rest.

    ``step_times``/``step_spend``: spend per step (``SpendBreakdown.per_step``), each sample standing
    for the ``step_seconds`` ending at its time (inferred from the spacing when not given); NaN: no
    data. History before ``period_start`` may be included, and should be (a week suits): a period that
    just began then still has a daily shape and a run rate to project with. Spent counts samples in
    (period_start, now]. The projection covers (as_of, period_end], where as_of is the newest sample
    in the period (the period's start when there is none), so data lagging behind ``now`` is
    projected rather than counted as zero.

    Methods, the first that the data allows:
    - ``DailySeasonal``: every hour of the day seen on two different days. The mean spend per hour of
      the day, times a trend factor (the last 6 h of data against what the profile expected for them,
      kept within 0.25-4), integrated over the rest of the period.
    - ``Linear``: the run rate of the last 6 h of data (all of it when shorter) times the time left.
    - ``None``: no data: the forecast is the spend so far.
    """
    times = np.asarray(step_times, dtype=np.float64).ravel()
    values = np.asarray(step_spend, dtype=np.float64).ravel()
    if times.shape != values.shape:
        raise ValueError(f"step_times has {times.size} values, step_spend {values.size}")
    if not period_start < period_end:
        raise ValueError("period_start must be before period_end")
    known = np.isfinite(values) & np.isfinite(times) & (times <= now)
    times, values = times[known], values[known]
    order = np.argsort(times, kind="stable")
    times, values = times[order], values[order]
    in_period = (times > period_start) & (times <= period_end)
    spent = float(values[in_period].sum())
    as_of = float(times[in_period][-1]) if in_period.any() else period_start
    left = max(0.0, period_end - max(as_of, period_start))
    so_far = f"{_money(spent)} spent so far"
    step = _step_of(times, step_seconds)
    if left == 0.0:
        return SpendForecast(spent, spent, 0.0, "None", f"{so_far}; the period's data is complete")
    if not len(times) or step is None:
        why = "no spend data yet" if not len(times) else "a single sample and no step length"
        return SpendForecast(spent, spent, 0.0, "None", f"{so_far}; {why}: the forecast is the spend so far")

    recent = times > times[-1] - RUN_RATE_SECONDS
    recent_seconds = float(recent.sum()) * step
    profile = _daily_profile(times, values, step)
    if profile is not None:
        history = float(times[-1] - times[0]) + step
        slot = (np.floor(np.mod(times[recent] - step / 2, DAY) / (DAY / SLOTS))).astype(np.int64)
        expected = float(profile[slot].sum()) * step
        actual = float(values[recent].sum())
        trend = 1.0 if expected <= 0 else min(max(actual / expected, TREND_LIMITS[0]), TREND_LIMITS[1])
        projected = trend * _profile_integral(profile, as_of, period_end)
        reason = (
            f"{so_far}; the remaining {_duration(left)} follow the daily profile of "
            f"{_duration(history)} of spend x trend {trend:.2f} "
            f"(the last {_duration(recent_seconds)} against the profile): "
            f"{_money(spent + projected)} at the period's end"
        )
        return SpendForecast(spent + projected, spent, projected, "DailySeasonal", reason)

    rate = float(values[recent].sum()) / recent_seconds  # per second
    projected = rate * left
    reason = (
        f"{so_far}; the remaining {_duration(left)} at the run rate of the last {_duration(recent_seconds)} "
        f"({_money(rate * HOUR)}/h): {_money(spent + projected)} at the period's end"
    )
    return SpendForecast(spent + projected, spent, projected, "Linear", reason)


# ----- thresholds and state -----


def utilization_percent(spent: float, amount: float) -> float:
    """spent / amount in percent. A zero amount is 0% while nothing is spent and infinite after (write
    None to a status field then: JSON has no infinity)."""
    if amount > 0:
        return 100.0 * spent / amount
    return math.inf if spent > 0 else 0.0


def thresholds_to_fire(
    thresholds: Sequence[int], utilization_percent: float, already_fired: Collection[int]
) -> list[int]:
    """Thresholds (percent of the amount) that fire now, ascending: reached (utilization >= threshold)
    and not fired yet this period. Each fires once per period, so ``already_fired`` is the status's
    list for the current period (emptied when a new one begins); crossing several thresholds between
    two evaluations fires each of them. A NaN utilization (spend unknown) fires none."""
    if math.isnan(utilization_percent):
        return []
    fired = set(already_fired)
    return sorted({t for t in thresholds if utilization_percent >= t and t not in fired})


def budget_state(
    spent: float | None, forecast: float | None, amount: float, fired_thresholds: Collection[int]
) -> BudgetState:
    """One word for kubectl, the most severe that holds: Exceeded (spent has reached the amount; for a
    zero amount, anything spent) > ForecastOverrun (the forecast is above the amount) > Warning (a
    threshold fired this period) > OK. Unknown when spend is not known."""
    if spent is None or math.isnan(spent):
        return "Unknown"
    if spent > 0 and spent >= amount:
        return "Exceeded"
    if forecast is not None and forecast > amount:
        return "ForecastOverrun"
    if fired_thresholds:
        return "Warning"
    return "OK"


# ----- anomalies -----


@dataclass(frozen=True)
class Anomaly:
    """A day whose spend lies far outside the previous days' robust range."""

    value: float
    median: float
    sigma: float  # MAD x 1.4826, floored
    score: float  # (value - median) / sigma: signed, in robust standard deviations
    direction: Literal["High", "Low"]
    days: int  # previous days compared against
    reason: str


def daily_anomaly(
    daily_spend: npt.ArrayLike,
    *,
    window_days: int = ANOMALY_WINDOW_DAYS,
    k: float = ANOMALY_K,
    min_days: int = ANOMALY_MIN_DAYS,
    relative_floor: float = ANOMALY_RELATIVE_FLOOR,
    min_sigma: float = ANOMALY_MIN_SIGMA,
    day_label: str = "the last complete day",
) -> Anomaly | None:
    """Is the last complete day's spend (the last value of ``daily_spend``, oldest first) anomalous?

    It is compared with the median of the previous ``window_days`` days (NaN days skipped), in robust
    standard deviations (MAD x 1.4826): median and MAD ignore the odd spike that mean and standard
    deviation would chase. Flagged when |x - median| > k sigma. Sigma is at least ``relative_floor`` x
    the median (and ``min_sigma``), so perfectly steady spend does not make every cent anomalous.
    None: not anomalous, or fewer than ``min_days`` previous days to judge by (a new budget needs a
    few days before its normal is known).
    """
    values = np.asarray(daily_spend, dtype=np.float64).ravel()
    if not len(values) or not math.isfinite(values[-1]):
        return None
    history = values[:-1][-window_days:]
    history = history[np.isfinite(history)]
    if len(history) < min_days:
        return None
    x = float(values[-1])
    median = float(np.median(history))
    sigma = max(
        MAD_TO_SIGMA * float(np.median(np.abs(history - median))), relative_floor * abs(median), min_sigma
    )
    score = (x - median) / sigma
    if abs(score) <= k:
        return None
    direction: Literal["High", "Low"] = "High" if score > 0 else "Low"
    reason = (
        f"spend of {day_label} ({_money(x)}) is {abs(score):.1f} robust standard deviations "
        f"{'above' if score > 0 else 'below'} the median of the previous {len(history)} days "
        f"({_money(median)}, sigma {_money(sigma)} from the median absolute deviation); the limit is {k:g}"
    )
    return Anomaly(x, median, sigma, score, direction, len(history), reason)


def daily_totals(
    step_times: npt.ArrayLike, step_spend: npt.ArrayLike, time_zone: str, now: float
) -> tuple[FloatArray, FloatArray]:
    """Spend per complete local day, for ``daily_anomaly``: (day starts, totals), oldest first.

    Days are midnight to midnight in ``time_zone`` (23 or 25 h across a daylight-saving change); a
    sample counts for the day its step ends in. Only days that ended by ``now`` are given, from the
    first day with a sample; a day without any sample is NaN (no data, rather than no spend).
    """
    times = np.asarray(step_times, dtype=np.float64).ravel()
    values = np.asarray(step_spend, dtype=np.float64).ravel()
    if times.shape != values.shape:
        raise ValueError(f"step_times has {times.size} values, step_spend {values.size}")
    known = np.isfinite(times) & np.isfinite(values) & (times <= now)
    times, values = times[known], values[known]
    if not len(times):
        return np.empty(0), np.empty(0)
    zone = _zone(time_zone)
    first = (datetime.fromtimestamp(float(times.min()) - 1e-6, zone)).date()
    last = datetime.fromtimestamp(now, zone).date()  # today: not complete
    bounds = np.array([_midnight(first + timedelta(days=i), zone) for i in range((last - first).days + 1)])
    if len(bounds) < 2:
        return np.empty(0), np.empty(0)
    # Samples in (bounds[i], bounds[i + 1]] belong to day i.
    day = np.searchsorted(bounds, times, side="left") - 1
    inside = (day >= 0) & (day < len(bounds) - 1)
    days = len(bounds) - 1
    totals = np.bincount(day[inside], weights=values[inside], minlength=days)
    seen = np.bincount(day[inside], minlength=days)
    daily: FloatArray = np.where(seen > 0, totals, np.nan).astype(np.float64)
    return bounds[:-1].astype(np.float64), daily


# ----- enforcement -----


@dataclass(frozen=True)
class EnforcementDecision:
    """What the budget's enforcement does now: hold replicas, shed them, and why."""

    block_scale_up: bool
    scale_down: bool
    reason: str


def enforcement_decision(
    enforcement: Enforcement, spent: float | None, forecast: float | None, amount: float
) -> EnforcementDecision:
    """Alert: never acts. BlockScaleUp: holds workloads at their replicas once the forecast or the spend
    reaches the amount. ScaleDown: holds them likewise and sheds replicas once the spend itself has
    reached the amount. Unknown spend enforces nothing: acting on no data would be guessing."""
    if enforcement == "Alert":
        return EnforcementDecision(False, False, "enforcement is Alert: notifications only")
    if spent is None or math.isnan(spent):
        return EnforcementDecision(False, False, "spend is unknown: nothing is enforced")
    reached = spent > 0 and spent >= amount
    forecast_reaches = forecast is not None and forecast > 0 and forecast >= amount
    if reached:
        why = f"spent {_money(spent)} of {_money(amount)}"
    elif forecast_reaches:
        assert forecast is not None
        why = f"forecast {_money(forecast)} for the period reaches the amount {_money(amount)}"
    else:
        return EnforcementDecision(
            False, False, f"spent {_money(spent)} of {_money(amount)} and the forecast stays under it"
        )
    if enforcement == "BlockScaleUp":
        return EnforcementDecision(True, False, f"{why}: workloads in scope may not scale up")
    if reached:
        return EnforcementDecision(True, True, f"{why}: scaling down, lowest priority first")
    return EnforcementDecision(True, False, f"{why}: scale-ups blocked; scale-down starts at 100% spent")


def block_scale_up(current_replicas: int, recommended: int) -> tuple[int, bool]:
    """Under BlockScaleUp: (replicas, limited). A workload keeps at most its current replicas, so a
    blocked scale-up can never add spend; scaling down stays allowed. ``limited``: the budget changed
    the answer (the recommendation was above the current replicas)."""
    if current_replicas < 0 or recommended < 0:
        raise ValueError("replicas must be non-negative")
    return min(current_replicas, recommended), recommended > current_replicas


@dataclass(frozen=True)
class BudgetWorkload:
    """A workload in the budget's scope, as ScaleDown sees it. ``key`` identifies it (e.g.
    "namespace/Deployment/name"); ``hourly_cost_per_replica`` is what one replica costs per hour now."""

    key: str
    priority: int
    current_replicas: int
    min_replicas: int
    hourly_cost_per_replica: float

    def __post_init__(self) -> None:
        if self.current_replicas < 0 or self.min_replicas < 0:
            raise ValueError(f"{self.key}: replicas must be non-negative")
        if not math.isfinite(self.hourly_cost_per_replica) or self.hourly_cost_per_replica < 0:
            raise ValueError(f"{self.key}: the hourly cost per replica must be finite and non-negative")


@dataclass(frozen=True)
class ScaleDownStep:
    """One workload of a ScaleDown plan: from and to how many replicas, what it saves per hour."""

    key: str
    from_replicas: int
    to_replicas: int
    saving_per_hour: float
    reason: str


@dataclass(frozen=True)
class ScaleDownTarget:
    reduction_per_hour: float  # math.inf: everything in scope to its minimum
    reason: str


def scale_down_target(
    spent: float, amount: float, run_rate_per_hour: float, hours_left: float
) -> ScaleDownTarget:
    """How much hourly spend ScaleDown sheds: the run rate above what the rest of the budget allows
    over the rest of the period ((amount - spent) / hours left). Once spent has reached the amount
    nothing is left, and every workload in scope goes to its minimum (an infinite target)."""
    remaining = amount - spent
    if remaining <= 0:
        return ScaleDownTarget(
            math.inf,
            f"spent {_money(spent)} of {_money(amount)}: nothing left, every workload in scope goes to its "
            "minimum, lowest priority first",
        )
    if hours_left <= 0:
        return ScaleDownTarget(0.0, "the period has ended")
    allowed = remaining / hours_left
    reduction = max(0.0, run_rate_per_hour - allowed)
    return ScaleDownTarget(
        reduction,
        f"run rate {_money(run_rate_per_hour)}/h against {_money(allowed)}/h that the remaining "
        f"{_money(remaining)} allows over {hours_left:.1f} h: shed {_money(reduction)}/h",
    )


def scale_down_plan(
    workloads: Sequence[BudgetWorkload], target_reduction_per_hour: float
) -> list[ScaleDownStep]:
    """Which workloads to scale down, and to how many replicas, to cut hourly spend by the target.

    Lowest priority first; among equals the dearest replica first (fewest pods lost per unit saved),
    then by key for a stable order. Each workload gives up whole replicas until the target is met or it
    reaches its minReplicas; a workload is touched only once every lower-priority one with something to
    save is at its minimum. Replicas are never raised (a workload already at or below its minimum is
    left alone) and workloads that cost nothing are not scaled (no saving). The last workload touched
    may overshoot the target by less than one replica. Only workloads that change are listed.
    """
    if math.isnan(target_reduction_per_hour):
        raise ValueError("the target reduction must be a number")
    left = target_reduction_per_hour
    order = sorted(workloads, key=lambda w: (w.priority, -w.hourly_cost_per_replica, w.key))
    plan: list[ScaleDownStep] = []
    for workload in order:
        if left <= 0:
            break
        spare = workload.current_replicas - workload.min_replicas
        cost = workload.hourly_cost_per_replica
        if spare <= 0 or cost <= 0:
            continue
        wanted = left / cost  # replicas' worth of the target; may be huge or infinite
        shed = spare if wanted >= spare else max(1, math.ceil(wanted - 1e-9))
        target = workload.current_replicas - shed
        floor_note = " (its minReplicas)" if target == workload.min_replicas else ""
        plan.append(
            ScaleDownStep(
                workload.key,
                workload.current_replicas,
                target,
                shed * cost,
                f"priority {workload.priority}: {workload.current_replicas} -> {target} replicas"
                f"{floor_note}, saving {_money(shed * cost)}/h",
            )
        )
        left -= shed * cost
    return plan


def workload_priority(
    annotations: Mapping[str, str], priority_class_value: int | None, default: int = 0
) -> tuple[int, str]:
    """A workload's priority for ScaleDown and where it came from: the ``thrifty.dev/priority``
    annotation when it holds an integer, else its pods' PriorityClass value, else ``default``."""
    raw = annotations.get(PRIORITY_ANNOTATION)
    if raw is not None:
        try:
            return int(raw.strip()), f"annotation {PRIORITY_ANNOTATION}"
        except ValueError:
            pass
    if priority_class_value is not None:
        return priority_class_value, "PriorityClass"
    return default, "default"
