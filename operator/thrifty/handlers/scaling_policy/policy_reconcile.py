"""ScalingPolicy: the one reconcile of a policy, in the order its steps run.

1. find the target workload (TargetFound), check what the schema cannot (Stalled, InvalidSpec) and
   the containers the spec names (ContainersFound);
2. the horizontal step: replicas, within schedules, the forecast and any budget's cap;
3. the vertical step: requests, priced at the rates of the nodes the pods run on;
4. publish status: the recommendation both steps made, conditions, and Ready.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import kopf

from thrifty import GROUP, VERSION
from thrifty.api.common import rfc3339
from thrifty.api.condition_types import INVALID_SPEC, SCALING_POLICY_CONDITIONS, PolicyCondition, PolicyReason
from thrifty.api.conditions import Observation
from thrifty.api.scaling_policy import Recommendation, ScalingPolicySpec, ScalingPolicyStatus
from thrifty.engine.budget_caps import budget_cap
from thrifty.engine.spec_checks import policy_spec_problems
from thrifty.engine.workload_prices import active_price_book
from thrifty.engine.workload_records import Workload
from thrifty.handlers.cluster_indexes import autoscalers_of, budget_views, cost_policy_specs, find_workload
from thrifty.handlers.scaling_policy.horizontal_step import HorizontalResult, horizontal_step
from thrifty.handlers.scaling_policy.vertical_step import VerticalResult, vertical_step
from thrifty.handlers.status_writer import Conclusions, publish, reconcile_guard, stalled
from thrifty.settings import RESYNC_SECONDS

__all__ = ["reconcile_scaling_policy"]

RESOURCE = (GROUP, VERSION, "scalingpolicies")


@kopf.on.resume(*RESOURCE)
@kopf.on.create(*RESOURCE)
@kopf.on.update(*RESOURCE, field="spec")
@kopf.timer(*RESOURCE, interval=RESYNC_SECONDS, initial_delay=RESYNC_SECONDS)
@reconcile_guard(SCALING_POLICY_CONDITIONS, ScalingPolicyStatus)
def reconcile_scaling_policy(
    body: kopf.Body, spec: kopf.Spec, namespace: str | None, patch: kopf.Patch, **indexes: Any
) -> None:
    now = datetime.now(UTC)
    namespace = namespace or ""  # ScalingPolicy is namespaced
    policy = ScalingPolicySpec.model_validate(dict(spec))
    status = ScalingPolicyStatus.model_validate(body.get("status") or {})
    target = policy.target_ref
    workload = find_workload(indexes, target.kind, namespace, target.name)
    conclusions = Conclusions(prerequisites=[_target_found(target.kind, namespace, target.name, workload)])
    horizontal, vertical = HorizontalResult(), VerticalResult()
    problems = policy_spec_problems(policy)
    if problems:
        # Nothing is decided on a spec that cannot be read; what status showed stays until it is fixed.
        conclusions.add(stalled(INVALID_SPEC, "; ".join(problems)))
        conclusions.kept |= set(SCALING_POLICY_CONDITIONS.types)
    elif workload is not None:
        named = policy.vertical.containers if policy.vertical is not None else []
        conclusions.prerequisites.append(_containers_found(named, workload))
        others = autoscalers_of(indexes, target.kind, namespace, target.name)
        if policy.horizontal is not None:
            cap, limited = budget_cap(budget_views(indexes), workload)
            horizontal = horizontal_step(body, policy, policy.horizontal, status, workload, others, cap, now)
            horizontal.conditions.informational.append(limited)
        if policy.vertical is not None:
            book = active_price_book(cost_policy_specs(indexes))
            vertical = vertical_step(body, policy, policy.vertical, status, workload, others, book, now)
    conclusions.add(horizontal.conditions)
    conclusions.add(vertical.conditions)
    publish(
        body,
        patch,
        SCALING_POLICY_CONDITIONS,
        _desired_status(status, workload, horizontal, vertical, now),
        conclusions,
        ready=(
            PolicyReason.EVALUATED,
            f"{target.kind} {namespace}/{target.name} is managed in {policy.mode} mode",
        ),
    )


def _desired_status(
    status: ScalingPolicyStatus,
    workload: Workload | None,
    horizontal: HorizontalResult,
    vertical: VerticalResult,
    now: datetime,
) -> ScalingPolicyStatus:
    """Status after this round: what a step decided replaces what it decided before; what no step
    decided this round (Prometheus down, target gone) stays as it was."""
    recommended = status.recommendation
    if horizontal.replicas is not None or vertical.containers is not None:
        previous = status.recommendation or Recommendation()
        recommended = Recommendation(
            replicas=previous.replicas if horizontal.replicas is None else horizontal.replicas,
            reason=horizontal.reason or previous.reason,
            containers=previous.containers if vertical.containers is None else vertical.containers,
            generated_at=previous.generated_at,
        )
        changed = (recommended.replicas, recommended.containers) != (previous.replicas, previous.containers)
        if changed or previous.generated_at is None:
            recommended = recommended.model_copy(update={"generated_at": rfc3339(now)})
    return ScalingPolicyStatus(
        observed_generation=status.observed_generation,
        conditions=status.conditions,
        current_replicas=status.current_replicas if workload is None else workload.desired_replicas,
        current_utilization=horizontal.utilization or status.current_utilization,
        recommendation=recommended,
        forecast=horizontal.forecast or status.forecast,
        cost=vertical.cost or status.cost,
        last_action=vertical.last_action or horizontal.last_action or status.last_action,
        scaling_history=horizontal.scaling_history or status.scaling_history,
        summary=vertical.summary or status.summary,
    )


def _target_found(kind: str, namespace: str, name: str, workload: Workload | None) -> Observation:
    if workload is None:
        return Observation(
            PolicyCondition.TARGET_FOUND,
            "False",
            PolicyReason.TARGET_NOT_FOUND,
            f"{kind} {namespace}/{name} does not exist; the policy waits for it",
        )
    return Observation(
        PolicyCondition.TARGET_FOUND, "True", PolicyReason.TARGET_FOUND, f"{kind} {namespace}/{name} exists"
    )


def _containers_found(names: list[str], workload: Workload) -> Observation:
    missing = sorted(set(names) - set(workload.container_names))
    if missing:
        return Observation(
            PolicyCondition.CONTAINERS_FOUND,
            "False",
            PolicyReason.CONTAINER_NOT_FOUND,
            f"spec.vertical.containers names {', '.join(missing)}, which the pod template of "
            f"{workload.kind} {workload.namespace}/{workload.name} does not have "
            f"(it has {', '.join(workload.container_names) or 'none'})",
        )
    return Observation(
        PolicyCondition.CONTAINERS_FOUND,
        "True",
        PolicyReason.CONTAINERS_FOUND,
        "every named container exists",
    )
