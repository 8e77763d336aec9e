"""``thrifty simulate --policy FILE``: a ScalingPolicy manifest's horizontal settings, replayed.

The manifest is checked by the same models the CRD is generated from, so a file the API server
would refuse is refused here with the field named. What it sets: the replica range, the first
metric's target (a CPU or Memory ``targetUtilization``; a Prometheus metric's ``targetPerReplica``
becomes the capacity per replica at a target of 100%), the tolerance and behavior of Thrifty's
policies, and every predictive setting. ``hpa`` keeps the HPA's defaults at the policy's target.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from thrifty.api.scaling_policy import Horizontal, ScalingPolicy
from thrifty.engine.policy_replicas import named_metrics, settings_from
from thrifty.engine.simulate import SimulationSettings


class PolicyFileError(ValueError):
    pass


def read_policy(path: Path) -> Horizontal:
    try:
        documents: list[Any] = list(yaml.safe_load_all(path.read_text()))
    except yaml.YAMLError as error:
        raise PolicyFileError(f"{path}: not YAML: {error}") from None
    manifest = next((d for d in documents if isinstance(d, dict) and d.get("kind") == "ScalingPolicy"), None)
    if manifest is None:
        raise PolicyFileError(f"{path}: no ScalingPolicy in the file")
    try:
        policy = ScalingPolicy.model_validate(manifest)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise PolicyFileError(f"{path}: {field}: {first['msg']}") from None
    if policy.spec.horizontal is None:
        raise PolicyFileError(f"{path}: spec.horizontal is not set, and simulate replays replica counts")
    return policy.spec.horizontal


def with_policy(settings: SimulationSettings, horizontal: Horizontal) -> SimulationSettings:
    """``settings`` with what the policy sets; minReplicas 0 replays as 1 (a trace has demand)."""
    _, metric = named_metrics(horizontal)[0]
    capacity, target = settings.capacity_per_replica, settings.target_utilization
    if metric.type == "Prometheus" and metric.target_per_replica is not None:
        capacity, target = metric.target_per_replica, 1.0
    elif metric.target_utilization is not None:
        target = metric.target_utilization / 100
    p = horizontal.predictive
    predictive = replace(
        settings.predictive, lookback_hours=float(p.lookback_hours),
        lead_time_seconds=float(p.lead_time_seconds), seasonality=p.seasonality,
        max_forecast_error=p.max_forecast_error,
        target_shortfall=p.target_shortfall_percent / 100,
    )  # fmt: skip
    return replace(
        settings, capacity_per_replica=capacity, target_utilization=target,
        min_replicas=max(1, horizontal.min_replicas), max_replicas=horizontal.max_replicas,
        predictive=predictive, thrifty_rules=settings_from(horizontal),
    )  # fmt: skip
