"""ScalingPolicy: check the target, then its horizontal and vertical halves; everything it concludes
goes to status."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import kopf

from thrifty import GROUP, VERSION
from thrifty.api.common import rfc3339
from thrifty.api.conditions import Observation
from thrifty.api.scaling_policy import Recommendation, ScalingPolicySpec, ScalingPolicyStatus
from thrifty.handlers.budgets import budget_cap
from thrifty.handlers.config import RESYNC_SECONDS
from thrifty.handlers.part import Part, combined
from thrifty.handlers.prices import current_price_book
from thrifty.handlers.scaling_horizontal import horizontal_part
from thrifty.handlers.scaling_vertical import vertical_part
from thrifty.handlers.status import publish
from thrifty.handlers.workloads import autoscalers_of, find_workload
from thrifty.sources.workloads import Workload

RESOURCE = (GROUP, VERSION, "scalingpolicies")


@kopf.on.resume(*RESOURCE)
@kopf.on.create(*RESOURCE)
@kopf.on.update(*RESOURCE, field="spec")
@kopf.timer(*RESOURCE, interval=RESYNC_SECONDS, initial_delay=RESYNC_SECONDS)
def reconcile_scaling_policy(
    body: kopf.Body, spec: kopf.Spec, namespace: str | None, patch: kopf.Patch, **kwargs: Any
) -> None:
    namespace = namespace or ""  # ScalingPolicy is namespaced
    policy = ScalingPolicySpec.model_validate(dict(spec))
    status = ScalingPolicyStatus.model_validate(body.get("status") or {})
    target = policy.target_ref
    # kopf passes each index as a keyword named after its indexing function.
    workload = find_workload(
        [kwargs["deployments"], kwargs["statefulsets"]], target.kind, namespace, target.name
    )
    parts = [Part(prerequisites=[_target_found(target.kind, namespace, target.name, workload)])]
    if workload is not None:
        named = policy.vertical.containers if policy.vertical is not None else []
        parts.append(Part(prerequisites=[_containers_found(named, workload)]))
        others = autoscalers_of(
            [kwargs["horizontal_autoscalers"], kwargs["vertical_autoscalers"]],
            target.kind,
            namespace,
            target.name,
        )
        if policy.horizontal is not None:
            cap, limited = budget_cap(kwargs["budgets"], workload)
            horizontal = horizontal_part(body, policy, policy.horizontal, status, workload, others, cap)
            horizontal.informational.append(limited)
            parts.append(horizontal)
        if policy.vertical is not None:
            book = current_price_book(kwargs["cost_policies"])
            parts.append(vertical_part(body, policy, policy.vertical, status, workload, others, book))
    prerequisites, informational = _conditions(parts)
    fields = _status_fields(parts, status, workload)
    publish(
        body,
        patch,
        ScalingPolicyStatus,
        prerequisites,
        ready=("Evaluated", f"{target.kind} {namespace}/{target.name} is managed in {policy.mode} mode"),
        fields=fields,
        informational=informational,
        not_ready=next((p.not_ready for p in parts if p.not_ready is not None), None),
    )


def _conditions(parts: list[Part]) -> tuple[list[Observation], list[Observation]]:
    """Each condition type once: the halves' observations of one type are combined."""

    def merged(observations: list[Observation]) -> list[Observation]:
        types = list(dict.fromkeys(o.type for o in observations))
        return [c for t in types if (c := combined(t, [o for o in observations if o.type == t]))]

    return (
        merged([o for p in parts for o in p.prerequisites]),
        merged([o for p in parts for o in p.informational]),
    )


def _status_fields(
    parts: list[Part], status: ScalingPolicyStatus, workload: Workload | None
) -> dict[str, Any]:
    found: dict[str, Any] = {k: v for p in parts for k, v in p.fields.items()}
    fields = {k: v for k, v in found.items() if k not in ("replicas", "replicas_reason", "containers")}
    if workload is not None:
        fields["current_replicas"] = workload.desired_replicas
    previous = status.recommendation or Recommendation()
    updated = previous.model_copy(
        update={
            "replicas": found.get("replicas", previous.replicas),
            "reason": found.get("replicas_reason", previous.reason),
            "containers": found.get("containers", previous.containers),
        }
    )
    changed = (updated.replicas, updated.containers) != (previous.replicas, previous.containers)
    if changed or previous.generated_at is None:
        updated = updated.model_copy(update={"generated_at": rfc3339(datetime.now(UTC))})
    if {"replicas", "containers"} & found.keys():
        fields["recommendation"] = updated
    return fields


def _target_found(kind: str, namespace: str, name: str, workload: Workload | None) -> Observation:
    if workload is None:
        return Observation(
            "TargetFound",
            "False",
            "TargetNotFound",
            f"{kind} {namespace}/{name} does not exist; the policy waits for it",
        )
    return Observation("TargetFound", "True", "TargetFound", f"{kind} {namespace}/{name} exists")


def _containers_found(names: list[str], workload: Workload) -> Observation:
    missing = sorted(set(names) - set(workload.container_names))
    if missing:
        return Observation(
            "ContainersFound",
            "False",
            "ContainerNotFound",
            f"spec.vertical.containers names {', '.join(missing)}, which the pod template of "
            f"{workload.kind} {workload.namespace}/{workload.name} does not have "
            f"(it has {', '.join(workload.container_names) or 'none'})",
        )
    return Observation("ContainersFound", "True", "ContainersFound", "every named container exists")
