"""One workload's placement decision in a round: the settings that apply to it (the CostPolicy's spot
section under the policy's own ``spec.placement``), whether it is eligible, the target mix, the
fallback state, the SpotPlacement condition and the one move toward the target."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from thrifty.api.condition_types import PolicyReason
from thrifty.api.cost_policy import SpotPolicy
from thrifty.api.scaling_policy import Placement
from thrifty.engine.cost import SpotLabel
from thrifty.engine.pod_placement import MixCounts, Move, PodRecord, count_mix, move_waits_for, next_move
from thrifty.engine.spot_fallback import (
    FallbackSettings,
    PlacementState,
    SpotObservation,
    next_placement_state,
)
from thrifty.engine.spot_mix import ReplicaSplit, split_replicas

__all__ = ["PlacementOutcome", "SpotSettings", "WorkloadFacts", "decide_placement", "spot_settings"]


@dataclass(frozen=True)
class SpotSettings:
    base: int
    percent: int
    min_replicas: int
    require_pdb: bool
    allow_stateful_sets: bool
    fallback: FallbackSettings
    labels: tuple[SpotLabel, ...]


def spot_settings(
    cost_policy: SpotPolicy | None, override: Placement | None, labels: Sequence[SpotLabel]
) -> SpotSettings | None:
    """The settings for one workload, or None when nothing asks for placement: no spot section in the
    CostPolicy and no ``spec.placement`` numbers, or ``spec.placement.enabled: false``."""
    if override is not None and not override.enabled:
        return None
    if cost_policy is None and (override is None or override.target_percent is None):
        return None
    spot = cost_policy or SpotPolicy(target_percent=0)
    return SpotSettings(
        base=spot.on_demand_base
        if override is None or override.on_demand_base is None
        else override.on_demand_base,
        percent=spot.target_percent
        if override is None or override.target_percent is None
        else override.target_percent,
        min_replicas=spot.eligibility.min_replicas,
        require_pdb=spot.eligibility.require_pod_disruption_budget,
        allow_stateful_sets=spot.eligibility.allow_stateful_sets,
        fallback=FallbackSettings(
            spot.fallback.enabled, spot.fallback.pending_seconds, spot.fallback.return_after_seconds
        ),
        labels=tuple(labels),
    )


@dataclass(frozen=True)
class WorkloadFacts:
    kind: str
    replicas: int  # the workload's desired replicas
    has_pdb: bool
    in_scope: bool  # the CostPolicy's namespace and workload selectors choose it
    spot_schedulable: bool  # some spot node is Ready and not cordoned


@dataclass(frozen=True)
class PlacementOutcome:
    eligible: bool
    reason: str  # SpotPlacement's reason
    message: str
    target: ReplicaSplit
    counts: MixCounts
    state: PlacementState
    move: Move | None  # only in Apply mode

    @property
    def placed(self) -> bool:
        return self.reason == PolicyReason.PLACED

    @property
    def spot_percent(self) -> int | None:
        placed = self.counts.on_demand + self.counts.spot
        return None if placed == 0 else round(100 * self.counts.spot / placed)


def _ineligible(settings: SpotSettings, facts: WorkloadFacts) -> str | None:
    if not facts.in_scope:
        return "the CostPolicy's spot namespaceSelector or workloadSelector does not choose it"
    if facts.kind == "StatefulSet" and not settings.allow_stateful_sets:
        return "it is a StatefulSet and spot.eligibility.allowStatefulSets is false"
    if facts.replicas < settings.min_replicas:
        return (
            f"it has {facts.replicas} replicas, fewer than spot.eligibility.minReplicas "
            f"({settings.min_replicas})"
        )
    if settings.require_pdb and not facts.has_pdb:
        return (
            "no PodDisruptionBudget covers its pods and spot.eligibility.requirePodDisruptionBudget is true"
        )
    return None


def decide_placement(
    settings: SpotSettings,
    facts: WorkloadFacts,
    pods: Sequence[PodRecord],
    state: PlacementState,
    now: float,
    applying: bool,
    moving: Collection[str] = (),
) -> PlacementOutcome:
    """``moving``: the pods the last moves evicted or deleted, which the view may still show."""
    counts = count_mix(pods)
    problem = _ineligible(settings, facts)
    if problem is not None:
        everything = ReplicaSplit(on_demand=facts.replicas, spot=0)
        return PlacementOutcome(
            False,
            PolicyReason.NOT_ELIGIBLE,
            f"not placed on spot: {problem}",
            everything,
            counts,
            PlacementState(),
            None,
        )
    mix = split_replicas(facts.replicas, settings.base, settings.percent)
    seen = SpotObservation(counts.pending_spot_since, facts.spot_schedulable)
    decision = next_placement_state(state, seen, settings.fallback, now)
    fallback = decision.reason == PolicyReason.FALLBACK
    wording = (
        f"target {mix.on_demand} on-demand and {mix.spot} spot "
        f"(onDemandBase {settings.base}, {settings.percent}% spot above it)"
    )
    now_running = f"{counts.on_demand} on-demand and {counts.spot} spot now"
    if not applying:
        return PlacementOutcome(
            True,
            PolicyReason.RECOMMENDED,
            f"{wording}, {now_running}; Recommend mode places nothing",
            mix,
            counts,
            decision.state,
            None,
        )
    move = next_move(pods, mix, fallback, moving)  # in a fallback, mix is what it returns to
    if fallback:
        return PlacementOutcome(
            True,
            PolicyReason.FALLBACK,
            f"{decision.message}; {now_running}",
            mix,
            counts,
            decision.state,
            move,
        )
    at_target = (counts.on_demand, counts.spot) == (mix.on_demand, mix.spot) and not counts.unplaced
    reason = PolicyReason.PLACED if at_target else PolicyReason.PLACING
    waits = None if at_target or move is not None else move_waits_for(pods, mix, moving)
    detail = (
        decision.message
        if at_target
        else f"{now_running}: pods move one at a time" + (f"; the next waits: {waits}" if waits else "")
    )
    return PlacementOutcome(True, reason, f"{wording}; {detail}", mix, counts, decision.state, move)
