"""How both steps of a ScalingPolicy start and how they stop when Prometheus cannot answer."""

from __future__ import annotations

from thrifty.api.condition_types import PolicyCondition, PolicyReason
from thrifty.api.conditions import Observation
from thrifty.engine.conflicts import conflict_conditions
from thrifty.handlers.status_writer import Conclusions
from thrifty.sources.prometheus_http import MetricsUnavailableError

__all__ = ["metrics_unavailable", "step_start"]


def step_start(conflicts: list[str], mode: str) -> Conclusions:
    """The Conflict condition, and in Apply mode Ready=False while another autoscaler owns the field."""
    conflict, not_ready = conflict_conditions(conflicts, mode)
    return Conclusions(informational=[conflict], not_ready=not_ready)


def metrics_unavailable(
    conclusions: Conclusions, err: MetricsUnavailableError, consequence: str, kept: str
) -> None:
    """MetricsAvailable=False, and the step's own condition ``kept`` as it was: nothing was decided."""
    conclusions.prerequisites.append(
        Observation(
            PolicyCondition.METRICS_AVAILABLE,
            "False",
            PolicyReason.PROMETHEUS_UNAVAILABLE,
            f"{err}; {consequence}",
        )
    )
    conclusions.kept.add(kept)
