"""Horizontal scaling: the replica count of one workload, by the HPA's algorithm, one sync per call.

``decide`` follows Kubernetes' pkg/controller/podautoscaler (horizontal.go, replica_calculator.go).
In this order:

1. Bounds. lower = minReplicas raised to the schedule floor, upper = maxReplicas lowered to the
   schedule cap, both kept within [minReplicas, maxReplicas]. A cap below the floor gives way to the
   floor (a floor promises capacity; a cap only saves money), so a cap never goes below minReplicas
   either. Current replicas outside [lower, upper] are set to the nearest bound at once, with no
   stabilization, rate policy or cooldown, as the HPA does for minReplicas/maxReplicas; that is what
   makes "never below min (floor), never above max (cap)" hold unconditionally. One deviation: the
   HPA leaves a workload scaled to 0 alone when minReplicas > 0; here 0 is raised to minReplicas.
2. Desired, per metric: current when |ratio - 1| <= tolerance, else ceil(current x ratio); at zero
   replicas ceil(ratio) (the HPA's scale from zero). The highest wins; on a tie, the first metric.
   Missing readings (None, NaN, infinite or negative ratio) as the HPA's computeReplicasForMetrics
   treats a metric it could not fetch: the others still decide, but if the result would scale down,
   nothing changes, because the missing metric may be the one holding replicas up; a scale-up goes
   ahead. With no reading at all, nothing changes. A sync stopped here records no recommendation.
3. Stabilization (stabilizeRecommendationWithBehaviors): the result is current, raised to the lowest
   recommendation within the scale-up window and lowered to the highest within the scale-down window,
   each including the new desired count; a recommendation is in a window while it is younger than the
   window, strictly. The new desired count is recorded.
4. Rate policies (convertDesiredReplicasWithBehaviorRate): each policy allows a change relative to
   the replicas at its period's start (current minus the net change of the events within the period);
   selectPolicy Max takes the largest allowed change, Min the smallest, Disabled none. The result is
   also held within [lower, upper]. Percentages use exact integer arithmetic (up: ceiling, down:
   floor) where the HPA's float64 sometimes rounds a pod more (10 +10% is 11 here, 12 there).
5. Cooldown (Thrifty's): no scale-up while the last scale-up event is younger than
   scale_up.cooldown_seconds; likewise down. Corrections into the bounds (1.) are not held back, but
   they are events and so start a cooldown.

Steps 3-5 only hold the count back towards current, so within the bounds the result lies between
current and desired; ``limited_by`` names the last step that held it. When replicas change, the new
state records the change as an event at ``now``: it assumes the decision is applied, so a caller
that only recommends keeps its old ``events``. Entries no later decision can use are pruned.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Direction = Literal["scaleUp", "scaleDown"]


@dataclass(frozen=True)
class RatePolicy:
    """At most ``value`` pods, or ``value`` percent of the replicas at the period's start, per period."""

    kind: Literal["Pods", "Percent"]
    value: int
    period_seconds: int

    def __post_init__(self) -> None:
        if self.kind not in ("Pods", "Percent"):
            raise ValueError(f"rate policy kind must be Pods or Percent, not {self.kind!r}")
        if self.value < 1 or self.period_seconds < 1:
            raise ValueError("rate policy value and period_seconds must be at least 1")


@dataclass(frozen=True)
class ScalingRules:
    """Limits for one direction, as the HPA's HPAScalingRules, plus a cooldown."""

    stabilization_window_seconds: int
    policies: tuple[RatePolicy, ...]
    select_policy: Literal["Max", "Min", "Disabled"] = "Max"
    cooldown_seconds: int = 0  # Thrifty's addition: least time after a change in this direction

    def __post_init__(self) -> None:
        if self.stabilization_window_seconds < 0 or self.cooldown_seconds < 0:
            raise ValueError("stabilization window and cooldown must be non-negative")
        if self.select_policy not in ("Max", "Min", "Disabled"):
            raise ValueError(f"select_policy must be Max, Min or Disabled, not {self.select_policy!r}")
        if not self.policies and self.select_policy != "Disabled":
            raise ValueError("at least one rate policy is needed unless select_policy is Disabled")


DEFAULT_SCALE_UP = ScalingRules(0, (RatePolicy("Percent", 100, 15), RatePolicy("Pods", 4, 15)), "Max")
DEFAULT_SCALE_DOWN = ScalingRules(300, (RatePolicy("Percent", 100, 15),), "Max")


@dataclass(frozen=True)
class HorizontalSettings:
    """ScalingPolicy.spec.horizontal without metrics and schedules, which arrive as readings and bounds."""

    min_replicas: int
    max_replicas: int
    tolerance: float = 0.1
    scale_up: ScalingRules = DEFAULT_SCALE_UP
    scale_down: ScalingRules = DEFAULT_SCALE_DOWN

    def __post_init__(self) -> None:
        if not 0 <= self.min_replicas <= self.max_replicas:
            raise ValueError(
                f"need 0 <= min_replicas <= max_replicas, got {self.min_replicas} and {self.max_replicas}"
            )
        if not self.tolerance >= 0:
            raise ValueError("tolerance must be non-negative")


@dataclass(frozen=True)
class MetricReading:
    """One metric now. usage_ratio = current / target (utilization 140% of a 70% target: 2.0); for a
    per-replica PromQL metric, (total / ready replicas) / targetPerReplica. None = missing."""

    name: str
    usage_ratio: float | None


@dataclass(frozen=True)
class ScaleEvent:
    """A change of replicas at unix time ``time``."""

    time: float
    from_replicas: int
    to_replicas: int


@dataclass(frozen=True)
class Recommendation:
    """A desired replica count (before stabilization) at unix time ``time``."""

    time: float
    replicas: int


@dataclass(frozen=True)
class HorizontalState:
    """Everything the decision needs from the past; the operator keeps it in status."""

    recommendations: tuple[Recommendation, ...] = ()  # raw desired replicas, newest last
    events: tuple[ScaleEvent, ...] = ()  # actual scale changes, newest last


@dataclass(frozen=True)
class HorizontalDecision:
    """What to set now, the raw desired count, what drove and what limited it, and the next state."""

    replicas: int
    desired: int
    metric: str | None
    limited_by: str | None
    reason: str
    state: HorizontalState


def decide(
    current_replicas: int,
    readings: Sequence[MetricReading],
    settings: HorizontalSettings,
    state: HorizontalState,
    now: float,
    *,
    floor: int | None = None,
    cap: int | None = None,
    schedule_names: Sequence[str] = (),
    floor_label: str | None = None,
    cap_label: str | None = None,
) -> HorizontalDecision:
    """One HPA sync at unix time ``now`` (see the module's docstring for the rules, in order).

    ``floor`` and ``cap`` come from the active schedule windows (``schedules.active_bounds``) or any
    other source (a forecast's floor, a budget's cap); ``schedule_names`` names the windows, for
    ``limited_by`` and the reason only ("schedule night (cap 2)"; without names: "cap 2"), and
    ``floor_label``/``cap_label``, when given, name the bound instead ("budget demo (cap 4)").
    """
    if current_replicas < 0:
        raise ValueError("current_replicas must be non-negative")
    bounds = _Bounds.of(settings, floor, cap, schedule_names, floor_label, cap_label)
    proposal = _propose(current_replicas, readings, settings.tolerance)

    if current_replicas < bounds.lower or current_replicas > bounds.upper:
        below = current_replicas < bounds.lower
        bound, label = (bounds.lower, bounds.lower_label) if below else (bounds.upper, bounds.upper_label)
        return _decision(_Step(current_replicas, bound, label), proposal, settings, state, now, record=False)
    if proposal.blocked:
        kept = _Step(current_replicas, current_replicas, "missing metrics")
        return _decision(kept, proposal, settings, state, now, record=False)

    step = _Step(current_replicas, proposal.desired, None)
    step = step.then(*_stabilize(current_replicas, proposal.desired, state.recommendations, settings, now))
    step = step.then(*_limit_rate(current_replicas, step.replicas, state.events, settings, bounds, now))
    step = step.then(*_cool_down(current_replicas, step.replicas, state.events, settings, now))
    if step.limited_by is None and proposal.held_by_tolerance:
        step = _Step(current_replicas, step.replicas, "tolerance")
    return _decision(step, proposal, settings, state, now, record=True)


# ----- bounds and desired replicas -----


@dataclass(frozen=True)
class _Bounds:
    lower: int
    upper: int
    lower_label: str
    upper_label: str

    @classmethod
    def of(
        cls,
        settings: HorizontalSettings,
        floor: int | None,
        cap: int | None,
        names: Sequence[str],
        floor_label: str | None,
        cap_label: str | None,
    ) -> _Bounds:
        low, high = settings.min_replicas, settings.max_replicas
        lower, lower_label = low, "minReplicas"
        if floor is not None and floor > low:
            lower, lower_label = min(floor, high), _bound_label(names, floor_label, "floor", floor)
        upper, upper_label = high, "maxReplicas"
        if cap is not None and cap < high:
            upper, upper_label = max(cap, lower), _bound_label(names, cap_label, "cap", cap)
        return cls(lower, upper, lower_label, upper_label)


def _bound_label(names: Sequence[str], label: str | None, bound: str, value: int) -> str:
    if label is not None:
        return f"{label} ({bound} {value})"
    return f"schedule {', '.join(names)} ({bound} {value})" if names else f"{bound} {value}"


@dataclass(frozen=True)
class _Proposal:
    desired: int
    metric: str | None
    ratio: float | None  # of the metric that drove it
    missing: tuple[str, ...]
    blocked: bool  # no readings, or a scale-down while a reading is missing
    held_by_tolerance: bool  # desired == current only because readings sat inside the tolerance


def _propose(current: int, readings: Sequence[MetricReading], tolerance: float) -> _Proposal:
    known = [(r.name, ratio) for r in readings if (ratio := _usable(r.usage_ratio)) is not None]
    missing = tuple(r.name for r in readings if _usable(r.usage_ratio) is None)
    if not known:
        return _Proposal(current, None, None, missing, True, False)
    held = [name for name, ratio in known if _held_by_tolerance(current, ratio, tolerance)]
    desired, metric, ratio = current, None, None
    for name, value in known:
        replicas = replicas_for_ratio(current, value, tolerance)
        # The first metric asking for the most drives; on a tie at current, one the tolerance held.
        if metric is None or replicas > desired or (replicas == desired == current and name in held):
            desired, metric, ratio = replicas, name, value
    by_tolerance = desired == current and metric in held
    return _Proposal(desired, metric, ratio, missing, bool(missing) and desired < current, by_tolerance)


def _usable(ratio: float | None) -> float | None:
    """The ratio, or None when missing or unusable (NaN, infinite, negative)."""
    return ratio if ratio is not None and math.isfinite(ratio) and ratio >= 0 else None


def _held_by_tolerance(current: int, ratio: float, tolerance: float) -> bool:
    return current > 0 and abs(1.0 - ratio) <= tolerance and math.ceil(current * ratio) != current


def replicas_for_ratio(current: int, ratio: float, tolerance: float) -> int:
    """The HPA's answer for one metric at usage/target ``ratio``: today's count inside the tolerance."""
    if current == 0:
        return math.ceil(ratio)
    if abs(1.0 - ratio) <= tolerance:
        return current
    return math.ceil(current * ratio)


# ----- stabilization, rate policies, cooldown -----


@dataclass(frozen=True)
class _Step:
    """The count so far and the last step that moved it."""

    current: int
    replicas: int
    limited_by: str | None

    def then(self, replicas: int, label: str | None) -> _Step:
        return _Step(self.current, replicas, label if replicas != self.replicas else self.limited_by)


def _stabilize(
    current: int, desired: int, history: Sequence[Recommendation], settings: HorizontalSettings, now: float
) -> tuple[int, str]:
    up_cutoff = now - settings.scale_up.stabilization_window_seconds
    down_cutoff = now - settings.scale_down.stabilization_window_seconds
    lowest = min([desired, *(r.replicas for r in history if r.time > up_cutoff)])
    highest = max([desired, *(r.replicas for r in history if r.time > down_cutoff)])
    stabilized = min(max(current, lowest), highest)
    direction: Direction = "scaleUp" if desired > current else "scaleDown"
    return stabilized, f"{direction} stabilization window"


def _limit_rate(
    current: int,
    proposed: int,
    events: Sequence[ScaleEvent],
    settings: HorizontalSettings,
    bounds: _Bounds,
    now: float,
) -> tuple[int, str | None]:
    if proposed > current:
        limit, label = _policy_limit(current, events, settings.scale_up, "scaleUp", now)
        limit = max(limit, current)  # earlier changes used the whole allowance: wait, don't reverse
        allowed, label = (limit, label) if bounds.upper > limit else (bounds.upper, bounds.upper_label)
        return min(proposed, allowed), label
    if proposed < current:
        limit, label = _policy_limit(current, events, settings.scale_down, "scaleDown", now)
        limit = min(limit, current)
        allowed, label = (limit, label) if bounds.lower < limit else (bounds.lower, bounds.lower_label)
        return max(proposed, allowed), label
    return proposed, None


def _policy_limit(
    current: int, events: Sequence[ScaleEvent], rules: ScalingRules, direction: Direction, now: float
) -> tuple[int, str]:
    """calculateScaleUpLimitWithScalingRules / calculateScaleDownLimitWithBehaviors: the furthest
    count the policies allow, and the policy that allows it."""
    if rules.select_policy == "Disabled":
        return current, f"{direction} selectPolicy Disabled"
    up = direction == "scaleUp"
    limits = [
        (_policy_bound(policy, _period_start(current, events, policy, now), up), policy)
        for policy in rules.policies
    ]
    # Max means the largest change: the highest limit going up, the lowest going down.
    pick = max if (rules.select_policy == "Max") == up else min
    limit, policy = pick(limits, key=lambda pair: pair[0])
    return limit, f"{direction} policy {policy.kind} {policy.value}/{policy.period_seconds}s"


def _period_start(current: int, events: Sequence[ScaleEvent], policy: RatePolicy, now: float) -> int:
    cutoff = now - policy.period_seconds
    return current - sum(e.to_replicas - e.from_replicas for e in events if e.time > cutoff)


def _policy_bound(policy: RatePolicy, start: int, up: bool) -> int:
    if policy.kind == "Pods":
        return start + policy.value if up else start - policy.value
    if up:
        return -(-start * (100 + policy.value) // 100)  # ceiling, so a small count can still grow
    return start * (100 - policy.value) // 100


def _cool_down(
    current: int, proposed: int, events: Sequence[ScaleEvent], settings: HorizontalSettings, now: float
) -> tuple[int, str | None]:
    if proposed == current:
        return proposed, None
    up = proposed > current
    cooldown = (settings.scale_up if up else settings.scale_down).cooldown_seconds
    same_way = [
        e.time for e in events if (e.to_replicas > e.from_replicas if up else e.to_replicas < e.from_replicas)
    ]
    if same_way and now - max(same_way) < cooldown:
        return current, "cooldown"
    return proposed, None


# ----- the decision -----


def _decision(
    step: _Step,
    proposal: _Proposal,
    settings: HorizontalSettings,
    state: HorizontalState,
    now: float,
    *,
    record: bool,
) -> HorizontalDecision:
    recommendations = state.recommendations
    if record:
        recommendations = (*recommendations, Recommendation(now, proposal.desired))
    events = state.events
    if step.replicas != step.current:
        events = (*events, ScaleEvent(now, step.current, step.replicas))
    return HorizontalDecision(
        replicas=step.replicas,
        desired=proposal.desired,
        metric=proposal.metric,
        limited_by=step.limited_by,
        reason=_reason(step, proposal, settings),
        state=_pruned(HorizontalState(recommendations, events), settings, now),
    )


def _pruned(state: HorizontalState, settings: HorizontalSettings, now: float) -> HorizontalState:
    """Drop what no later decision can use: every window and period only looks back from now."""
    window = max(
        settings.scale_up.stabilization_window_seconds, settings.scale_down.stabilization_window_seconds
    )
    rules = (settings.scale_up, settings.scale_down)
    horizon = max([r.cooldown_seconds for r in rules] + [p.period_seconds for r in rules for p in r.policies])
    # Windows only take the lowest and highest recommendation younger than them, so of equal counts
    # the newest stands for all: the state stays a few entries long however often decide() runs.
    newest = {r.replicas: r for r in state.recommendations if r.time > now - window}
    return HorizontalState(
        tuple(sorted(newest.values(), key=lambda r: r.time)),
        tuple(e for e in state.events if e.time > now - horizon),
    )


def _reason(step: _Step, proposal: _Proposal, settings: HorizontalSettings) -> str:
    if proposal.metric is None:
        cause = "all metrics are missing" if proposal.missing else "no metric readings"
    elif proposal.held_by_tolerance:
        cause = (
            f"{proposal.metric} at {proposal.ratio:.2f}x target is within tolerance {settings.tolerance:g}"
        )
    else:
        cause = f"{proposal.metric} at {proposal.ratio:.2f}x target asks for {proposal.desired} replicas"
    if proposal.missing and proposal.metric is not None:
        cause += f" ({', '.join(proposal.missing)} missing)"
    if step.replicas == step.current:
        outcome = f"keeping {step.current} replicas"
    else:
        outcome = f"scaling from {step.current} to {step.replicas} replicas"
    if step.limited_by == "missing metrics" and proposal.metric is not None:
        outcome += ", no scale-down while a metric is missing"
    elif step.limited_by not in (None, "missing metrics", "tolerance"):
        # Only a bound moves replicas past desired (or against it): current was outside the bound.
        beyond = (
            not min(step.current, proposal.desired) <= step.replicas <= max(step.current, proposal.desired)
        )
        outcome += f", {'to stay within' if beyond else 'limited by'} {step.limited_by}"
    return f"{cause}; {outcome}"
