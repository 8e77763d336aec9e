"""Whether a new status says anything a user would read differently: when it does not, the status is
not written, so writes follow decisions and not the clock.

Values that move a little every round by themselves (utilization within a few points, the sentence
of a reason, how many samples a recommendation rests on, the time a desired count was last seen, a
condition's message) are not a change; the writer still sends them at least every refresh interval.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

__all__ = ["UTILIZATION_POINTS", "policy_status_unchanged"]

# Utilization moving less than this many percentage points is not news; a decision that follows from
# a larger move is (replicas, requests), and is written at once.
UTILIZATION_POINTS: Final = 5.0


def policy_status_unchanged(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """Whether a ScalingPolicy's status ``after`` (wire form) reads like ``before`` to a user."""
    if _policy_view(before) != _policy_view(after):
        return False
    return _utilization_close(before.get("currentUtilization") or {}, after.get("currentUtilization") or {})


def _policy_view(status: Mapping[str, Any]) -> dict[str, Any]:
    view = {k: v for k, v in status.items() if k not in ("currentUtilization", "conditions")}
    view["conditions"] = sorted(
        (c.get("type"), c.get("status"), c.get("reason"), c.get("observedGeneration"))
        for c in status.get("conditions") or []
    )
    recommendation = dict(status.get("recommendation") or {})
    recommendation.pop("reason", None)
    recommendation["containers"] = [
        {k: v for k, v in c.items() if k != "reason"} for c in recommendation.get("containers") or []
    ]
    view["recommendation"] = recommendation
    forecast = status.get("forecast") or {}
    view["forecast"] = {k: forecast.get(k) for k in ("metric", "peakReplicas", "seasonality", "steering")}
    view["scalingHistory"] = (status.get("scalingHistory") or {}).get("changes") or []
    return view


def _utilization_close(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    for key in set(before) | set(after):
        old, new = before.get(key), after.get(key)
        if (old is None) != (new is None):
            return False
        if old is not None and new is not None and abs(float(old) - float(new)) >= UTILIZATION_POINTS:
            return False
    return True
