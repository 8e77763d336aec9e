"""The vertical half of a ScalingPolicy: read usage history, recommend requests, resize in Apply mode."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import kopf
from kubernetes.client import ApiException

from thrifty.actuators.workload_resources import patch_container_resources
from thrifty.api.common import rfc3339
from thrifty.api.conditions import Observation
from thrifty.api.scaling_policy import LastAction, ScalingPolicySpec, ScalingPolicyStatus, Vertical
from thrifty.engine.conflicts import OtherAutoscaler, vertical_conflicts
from thrifty.engine.cost import PriceBook
from thrifty.handlers.part import Part, record_change
from thrifty.handlers.prometheus_reads import namespace_usage, pod_nodes
from thrifty.handlers.vertical import Prices, VerticalOutcome, evaluate, resize_summary
from thrifty.sources.prometheus_http import MetricsUnavailableError
from thrifty.sources.usage import ContainerHistory
from thrifty.sources.workloads import Workload


def vertical_part(
    body: kopf.Body,
    policy: ScalingPolicySpec,
    vertical: Vertical,
    status: ScalingPolicyStatus,
    workload: Workload,
    others: list[OtherAutoscaler],
    book: PriceBook,
) -> Part:
    conflicts = vertical_conflicts(others)
    part = part_with_conflicts(conflicts, policy.mode)
    try:
        usage = namespace_usage(workload.namespace, vertical.history_hours)
    except MetricsUnavailableError as err:
        part.prerequisites.append(
            Observation(
                "MetricsAvailable",
                "False",
                "PrometheusUnavailable",
                f"{err}; the last recommendation is kept and nothing is changed",
            )
        )
        return part
    histories = list(usage.workload(workload.kind, workload.name))
    part.prerequisites.append(_history_available(histories, usage.notes))
    if not histories:
        return part
    outcome = evaluate(histories, usage.step_seconds, vertical, workload, _prices(book, workload, histories))
    part.informational.append(outcome.observation)
    part.fields.update(
        {"containers": list(outcome.containers), "cost": outcome.cost, "summary": outcome.summary}
    )
    if policy.mode == "Apply" and not conflicts:
        part.fields.update(_resize(body, workload, outcome, status, vertical.cooldown_seconds))
    return part


def _prices(book: PriceBook, workload: Workload, histories: list[ContainerHistory]) -> Prices:
    """The rates of the nodes the workload's pods run on, as budgets price them (on-demand when the
    nodes are unknown): the monthly cost in status is the budget's model, projected."""
    pods = {pod for history in histories for pod in history.pods}
    try:
        nodes = pod_nodes(workload.namespace)
    except MetricsUnavailableError:
        nodes = {}
    return Prices.on_nodes(book, [labels for pod, labels in sorted(nodes.items()) if pod in pods])


def part_with_conflicts(conflicts: list[str], mode: str) -> Part:
    """A half's start: the Conflict condition, and in Apply mode Ready=False while there is one."""
    part = Part()
    if not conflicts:
        part.informational.append(
            Observation("Conflict", "False", "NoConflict", "no other autoscaler manages this workload")
        )
        return part
    part.informational.append(Observation("Conflict", "True", "Conflict", "; ".join(conflicts)))
    if mode == "Apply":
        part.not_ready = Observation(
            "Ready", "False", "Conflict", f"nothing is applied: {'; '.join(conflicts)}"
        )
    return part


def _history_available(histories: list[ContainerHistory], notes: tuple[str, ...]) -> Observation:
    if not histories:
        why = "; ".join(notes) or "Prometheus has no usage series for this workload"
        return Observation("MetricsAvailable", "False", "NoData", why)
    return Observation("MetricsAvailable", "True", "HistoryRead", "usage history read from Prometheus")


def _resize(
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
    record_change(body, workload, "Resized", message, f"{before} -> {after} ({reason})")
    return {
        "last_action": LastAction(time=rfc3339(now), action="Resize", from_=before, to=after, reason=reason)
    }
