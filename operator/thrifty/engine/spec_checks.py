"""What the schema cannot check in a spec, checked before anything is decided: a time zone must be
one this machine's tz database knows. A spec that fails stops the reconcile with a message that
names the field, instead of an error on every round."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from thrifty.api.resource_budget import ResourceBudgetSpec
from thrifty.api.scaling_policy import ScalingPolicySpec

__all__ = ["budget_spec_problems", "policy_spec_problems"]


def _zone_problem(field: str, time_zone: str) -> list[str]:
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        return [f"{field}: unknown time zone {time_zone!r} (use an IANA name such as Europe/Berlin or UTC)"]
    return []


def policy_spec_problems(spec: ScalingPolicySpec) -> list[str]:
    if spec.horizontal is None:
        return []
    return [
        problem
        for index, schedule in enumerate(spec.horizontal.schedules)
        for problem in _zone_problem(f"spec.horizontal.schedules[{index}].timeZone", schedule.time_zone)
    ]


def budget_spec_problems(spec: ResourceBudgetSpec) -> list[str]:
    return _zone_problem("spec.periodStart.timeZone", spec.period_start.time_zone)
