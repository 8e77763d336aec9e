"""ScalingPolicy: check the target, read its usage (batched per namespace), recommend, and in Apply
mode resize it; everything it concludes goes to status."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import kopf
from kubernetes.client import ApiException

from thrifty import GROUP, VERSION
from thrifty.actuators.workload_resources import patch_container_resources
from thrifty.api.common import rfc3339
from thrifty.api.conditions import Observation
from thrifty.api.scaling_policy import LastAction, Recommendation, ScalingPolicySpec, ScalingPolicyStatus
from thrifty.engine.conflicts import vertical_conflicts
from thrifty.handlers.config import EVALUATION_SECONDS, RESYNC_SECONDS
from thrifty.handlers.prices import current_prices
from thrifty.handlers.status import publish
from thrifty.handlers.usage_cache import NamespaceUsageCache
from thrifty.handlers.vertical import VerticalOutcome, evaluate, resize_summary
from thrifty.handlers.workloads import autoscalers_of, find_workload
from thrifty.sources.prometheus_http import MetricsUnavailableError
from thrifty.sources.workloads import Workload

RESOURCE = (GROUP, VERSION, "scalingpolicies")
USAGE = NamespaceUsageCache(round_seconds=EVALUATION_SECONDS)


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
    prerequisites = [_target_found(target.kind, namespace, target.name, workload)]
    informational: list[Observation] = []
    fields: dict[str, Any] = {}
    not_ready = None
    if workload is not None:
        fields["current_replicas"] = workload.replicas
        named = policy.vertical.containers if policy.vertical is not None else []
        prerequisites.append(_containers_found(named, workload))
    if workload is not None and policy.vertical is not None:
        others = autoscalers_of(
            [kwargs["horizontal_autoscalers"], kwargs["vertical_autoscalers"]],
            target.kind,
            namespace,
            target.name,
        )
        conflicts = vertical_conflicts(others)
        informational.append(_conflict(conflicts))
        if conflicts and policy.mode == "Apply":
            not_ready = Observation(
                "Ready", "False", "Conflict", f"nothing is applied: {'; '.join(conflicts)}"
            )
        try:
            usage = USAGE.usage(namespace, policy.vertical.history_hours)
        except MetricsUnavailableError as err:
            prerequisites.append(
                Observation(
                    "MetricsAvailable",
                    "False",
                    "PrometheusUnavailable",
                    f"{err}; the last recommendation is kept and nothing is changed",
                )
            )
        else:
            histories = [c for c in usage.containers if (c.kind, c.workload) == (target.kind, target.name)]
            prerequisites.append(_metrics_available(histories, usage.notes))
            if histories:
                outcome = evaluate(
                    histories,
                    usage.step_seconds,
                    policy.vertical,
                    workload,
                    current_prices(kwargs["cost_policies"]),
                )
                informational.append(outcome.observation)
                fields.update(_recommendation_fields(outcome, status))
                if policy.mode == "Apply" and not conflicts:
                    fields.update(_apply(body, workload, outcome, status, policy.vertical.cooldown_seconds))
    publish(
        body,
        patch,
        ScalingPolicyStatus,
        prerequisites,
        ready=("Evaluated", f"{target.kind} {namespace}/{target.name} is managed in {policy.mode} mode"),
        fields=fields,
        informational=informational,
        not_ready=not_ready,
    )


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


def _conflict(conflicts: list[str]) -> Observation:
    if conflicts:
        return Observation("Conflict", "True", "Conflict", "; ".join(conflicts))
    return Observation("Conflict", "False", "NoConflict", "no other autoscaler sizes this workload")


def _metrics_available(histories: list[Any], notes: tuple[str, ...]) -> Observation:
    if not histories:
        why = "; ".join(notes) or "Prometheus has no usage series for this workload"
        return Observation("MetricsAvailable", "False", "NoData", why)
    return Observation("MetricsAvailable", "True", "HistoryRead", "usage history read from Prometheus")


def _recommendation_fields(outcome: VerticalOutcome, status: ScalingPolicyStatus) -> dict[str, Any]:
    previous = status.recommendation
    containers = list(outcome.containers)
    unchanged = previous is not None and previous.containers == containers
    generated_at = previous.generated_at if unchanged and previous else rfc3339(datetime.now(UTC))
    replicas = previous.replicas if previous else None
    return {
        "recommendation": Recommendation(replicas=replicas, containers=containers, generated_at=generated_at),
        "cost": outcome.cost,
        "summary": outcome.summary,
    }


def _apply(
    body: kopf.Body, workload: Workload, outcome: VerticalOutcome, status: ScalingPolicyStatus, cooldown: int
) -> dict[str, Any]:
    """Resize the workload if there is a change and the cooldown allows it; return status fields."""
    if not outcome.changes or outcome.observation.reason != "Recommended":
        return {}
    now = datetime.now(UTC)
    last = status.last_action
    if last is not None and last.action == "Resize" and last.time and not outcome.oom_bump:
        elapsed = (now - datetime.fromisoformat(last.time)).total_seconds()
        if elapsed < cooldown:
            return {}
    before, after = resize_summary(workload, outcome)
    try:
        patch_container_resources(workload.kind, workload.namespace, workload.name, outcome.changes)
    except ApiException as err:
        kopf.warn(
            body,
            reason="ResizeFailed",
            message=f"could not patch {workload.kind} {workload.name}: {err.reason}",
        )
        return {}
    reason = "OOM kill: memory raised" if outcome.oom_bump else "requests follow usage history"
    message = f"resized {workload.kind} {workload.namespace}/{workload.name}: {before} -> {after} ({reason})"
    # kopf.event, not kopf.info: info-level Events are dropped at the WARNING posting level we set.
    kopf.event(body, type="Normal", reason="Resized", message=message)
    kopf.event(
        kopf.Body(workload.reference()),  # type: ignore[arg-type]  # kopf builds a Body from any raw dict
        type="Normal",
        reason="Resized",
        message=f"by ScalingPolicy {body.metadata.name}: {before} -> {after} ({reason})",
    )
    return {
        "last_action": LastAction(time=rfc3339(now), action="Resize", from_=before, to=after, reason=reason)
    }
