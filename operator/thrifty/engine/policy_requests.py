"""Requests for one ScalingPolicy's workload: API spec -> right-sizing settings, usage history ->
recommendation per container, its cost, its conditions, and whether Apply mode may resize now.

The operator and `thrifty recommend` share it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from thrifty.api.common import ResourceList, ResourceRequirements
from thrifty.api.condition_types import PolicyCondition, PolicyReason
from thrifty.api.conditions import Observation
from thrifty.api.scaling_policy import ContainerRecommendation, Cost, LastAction, Summary, Vertical
from thrifty.engine.cost import monthly_request_cost
from thrifty.engine.paired_requests import PairedRequests, Pairing, pair_requests
from thrifty.engine.pending_actions import RESIZE_ACTION
from thrifty.engine.quantities import format_cpu, format_memory, parse_quantity
from thrifty.engine.rightsizing import ContainerUsage, VerticalRecommendation, VerticalSettings, recommend
from thrifty.engine.workload_prices import Prices
from thrifty.engine.workload_records import ContainerHistory, TemplateContainer, Workload

__all__ = [
    "ContainerResources",
    "VerticalOutcome",
    "history_observation",
    "priced_at",
    "recommend_requests",
    "resize_due",
    "resize_summary",
    "settings_from",
    "with_requests",
]


@dataclass(frozen=True)
class ContainerResources:
    """Quantities to set in one container; a resource absent from a mapping is left as it is."""

    requests: Mapping[str, str]
    limits: Mapping[str, str]


@dataclass(frozen=True)
class VerticalOutcome:
    containers: tuple[ContainerRecommendation, ...]
    changes: dict[str, ContainerResources]  # what Apply mode would write; empty when nothing changes
    observation: Observation  # the Recommendation condition
    cost: Cost | None
    summary: Summary
    oom_bump: bool
    # CPU requests chosen with the replicas the horizontal target needs at them; None: on their own.
    paired: PairedRequests | None = None
    # What the cost and summary were computed from, to price them at other replicas (``priced_at``).
    decisions: tuple[tuple[ContainerHistory, VerticalRecommendation], ...] = ()


def settings_from(vertical: Vertical) -> VerticalSettings:
    def quantity(value: int | str | None) -> float | None:
        return None if value is None else parse_quantity(value)

    low = vertical.min_allowed or ResourceList()
    high = vertical.max_allowed or ResourceList()
    return VerticalSettings(
        cpu_percentile=vertical.cpu.percentile,
        cpu_buffer=vertical.cpu.buffer_percent / 100,
        memory_percentile=vertical.memory.percentile,
        memory_buffer=vertical.memory.buffer_percent / 100,
        min_cpu_cores=quantity(low.cpu),
        max_cpu_cores=quantity(high.cpu),
        min_memory_bytes=quantity(low.memory),
        max_memory_bytes=quantity(high.memory),
        controlled_values=vertical.controlled_values,
        min_change=vertical.min_change_percent / 100,
        oom_min_increase_bytes=parse_quantity(vertical.oom_bump.min_increase),
        oom_multiplier=vertical.oom_bump.multiplier,
    )


def recommend_requests(
    histories: Sequence[ContainerHistory],
    step_seconds: float,
    vertical: Vertical,
    workload: Workload,
    prices: Prices,
    pairing: Pairing | None = None,
) -> VerticalOutcome:
    """Recommend requests for each container with history (all of them, or those the spec names).

    What the pod template requests now is the baseline, not what Prometheus last saw: after a
    change the old pods' series linger, and comparing against them would patch again and again.
    With ``pairing`` (the policy also scales on CPU utilization) the CPU requests are chosen with
    the replicas they need (``paired_requests``), and the recommended cost is at those replicas.
    """
    settings = settings_from(vertical)
    template = {c.name: c for c in workload.containers}
    chosen = [
        _with_template(h, template[h.container])
        for h in histories
        if h.container in template and (not vertical.containers or h.container in vertical.containers)
    ]
    replicas = workload.desired_replicas
    decided = [(h, recommend(_usage(h, step_seconds), settings)) for h in chosen]
    paired = None
    if pairing is not None:
        rates = prices.planned or prices.rates
        found = pair_requests(
            decided, workload, pairing, settings, rates, prices.hours_per_month, prices.currency
        )
        if found is not None:
            decided, paired = found
    cost = _cost(decided, replicas, replicas if paired is None else paired.replicas, prices)
    containers = tuple(_status_entry(h, r) for h, r in decided)
    changes = {h.container: _change(r) for h, r in decided if r.cpu_changed or r.memory_changed}
    observation = _observation(decided)
    if paired is not None:
        observation = replace(observation, message=f"{paired.message}; {observation.message}")
    return VerticalOutcome(
        containers=containers,
        changes=changes,
        observation=observation,
        cost=cost,
        summary=_summary(decided, cost),
        oom_bump=any(r.oom_bumped for _, r in decided),
        paired=paired,
        decisions=tuple(decided),
    )


def priced_at(
    outcome: VerticalOutcome, replicas_now: int, replicas_then: int, prices: Prices
) -> VerticalOutcome:
    """``outcome`` with its cost (and the summary that shows it) for ``replicas_now`` pods at today's
    requests against ``replicas_then`` at the recommended ones: the pair status shows."""
    cost = _cost(outcome.decisions, replicas_now, replicas_then, prices)
    return replace(outcome, cost=cost, summary=_summary(outcome.decisions, cost))


def _with_template(history: ContainerHistory, container: TemplateContainer) -> ContainerHistory:
    return replace(
        history,
        cpu_request=container.cpu_request,
        cpu_limit=container.cpu_limit,
        memory_request=container.memory_request,
        memory_limit=container.memory_limit,
    )


def _usage(history: ContainerHistory, step_seconds: float) -> ContainerUsage:
    return ContainerUsage(
        cpu_cores=history.cpu_cores,
        memory_bytes=history.memory_bytes,
        step_seconds=step_seconds,
        cpu_request=history.cpu_request,
        cpu_limit=history.cpu_limit,
        memory_request=history.memory_request,
        memory_limit=history.memory_limit,
        oom_killed=history.oom_killed,
        # cAdvisor samples miss the spike that killed the container: the limit is what it reached.
        oom_memory_bytes=history.memory_limit if history.oom_killed else None,
    )


def _requirements(
    cpu_req: float | None, cpu_lim: float | None, mem_req: float | None, mem_lim: float | None
) -> ResourceRequirements:
    def listed(cpu: float | None, memory: float | None) -> ResourceList | None:
        if cpu is None and memory is None:
            return None
        return ResourceList(
            cpu=None if cpu is None else format_cpu(cpu),
            memory=None if memory is None else format_memory(memory),
        )

    return ResourceRequirements(requests=listed(cpu_req, mem_req), limits=listed(cpu_lim, mem_lim))


def _status_entry(history: ContainerHistory, rec: VerticalRecommendation) -> ContainerRecommendation:
    current = _requirements(
        history.cpu_request, history.cpu_limit, history.memory_request, history.memory_limit
    )
    recommended = None
    if rec.status != "InsufficientHistory":
        recommended = _requirements(rec.cpu_request, rec.cpu_limit, rec.memory_request, rec.memory_limit)
    return ContainerRecommendation(
        name=history.container, current=current, recommended=recommended, reason=rec.reason
    )


def _change(rec: VerticalRecommendation) -> ContainerResources:
    requests: dict[str, str] = {}
    limits: dict[str, str] = {}
    if rec.cpu_changed and rec.cpu_request is not None:
        requests["cpu"] = format_cpu(rec.cpu_request)
        if rec.cpu_limit is not None:
            limits["cpu"] = format_cpu(rec.cpu_limit)
    if rec.memory_changed and rec.memory_request is not None:
        requests["memory"] = format_memory(rec.memory_request)
        if rec.memory_limit is not None:
            limits["memory"] = format_memory(rec.memory_limit)
    return ContainerResources(requests=requests, limits=limits)


def _observation(decided: Sequence[tuple[ContainerHistory, VerticalRecommendation]]) -> Observation:
    kind = PolicyCondition.RECOMMENDATION
    if not decided:
        return Observation(
            kind, "False", PolicyReason.NO_DATA, "no container of the workload has usage history"
        )
    short = [(h, r) for h, r in decided if r.status == "InsufficientHistory"]
    if short:
        history, rec = short[0]
        return Observation(
            kind,
            "False",
            PolicyReason.INSUFFICIENT_HISTORY,
            f"container {history.container}: {rec.samples} samples over {rec.hours:.1f} h; "
            "at least 100 samples and 3 h are needed",
        )
    at_limit = [(h, r) for h, r in decided if r.memory_limit_needed is not None]
    if at_limit:
        return Observation(
            kind,
            "True",
            PolicyReason.LIMIT_CAUSES_OOM,
            "; ".join(
                f"{h.container}: OOM-killed at its memory limit {format_memory(h.memory_limit or 0.0)}; "
                f"Thrifty would set the limit to {format_memory(r.memory_limit_needed or 0.0)} "
                "(controlledValues RequestsOnly leaves limits alone, so set it yourself or use "
                "RequestsAndLimits)"
                for h, r in at_limit
            ),
        )
    if all(r.status == "Unchanged" for _, r in decided):
        return Observation(kind, "True", PolicyReason.UNCHANGED, "requests already match usage")
    return Observation(
        kind, "True", PolicyReason.RECOMMENDED, "; ".join(f"{h.container}: {r.reason}" for h, r in decided)
    )


def _totals(
    decided: Sequence[tuple[ContainerHistory, VerticalRecommendation]], recommended: bool
) -> tuple[float, float]:
    cpu = memory = 0.0
    for history, rec in decided:
        use = recommended and rec.status != "InsufficientHistory"
        cpu += (rec.cpu_request if use else history.cpu_request) or 0.0
        memory += (rec.memory_request if use else history.memory_request) or 0.0
    return cpu, memory


def _cost(
    decided: Sequence[tuple[ContainerHistory, VerticalRecommendation]],
    replicas_now: int,
    replicas_then: int,
    prices: Prices,
) -> Cost | None:
    if not decided:
        return None
    now = monthly_request_cost(
        *_totals(decided, False), prices.rates, replicas=replicas_now, hours_per_month=prices.hours_per_month
    ).total
    recommended = _totals(decided, True)
    then = monthly_request_cost(
        *recommended,
        prices.planned or prices.rates,
        replicas=replicas_then,
        hours_per_month=prices.hours_per_month,
    ).total
    cost = Cost(
        monthly_current=round(now, 2),
        monthly_recommended=round(then, 2),
        monthly_savings=round(now - then, 2),
        currency=prices.currency,
    )
    if prices.spot_plan is None:
        return cost
    spot = prices.spot_plan.savings(*recommended, hours_per_month=prices.hours_per_month)
    weighted = None if spot.risk_weighted is None else round(spot.risk_weighted, 2)
    return cost.model_copy(
        update={
            "monthly_spot_savings": round(spot.monthly, 2),
            "monthly_spot_savings_risk_weighted": weighted,
            "spot_risk": spot.note,
        }
    )


def _summary(
    decided: Sequence[tuple[ContainerHistory, VerticalRecommendation]], cost: Cost | None
) -> Summary:
    if not decided:
        return Summary()
    cpu_now, memory_now = _totals(decided, False)
    cpu_then, memory_then = _totals(decided, True)
    savings = (
        f"{cost.monthly_savings:.2f} {cost.currency}" if cost and cost.monthly_savings is not None else None
    )
    return Summary(
        cpu=f"{format_cpu(cpu_now)}→{format_cpu(cpu_then)}",
        memory=f"{format_memory(memory_now)}→{format_memory(memory_then)}",
        savings=savings,
    )


def resize_summary(workload: Workload, outcome: VerticalOutcome) -> tuple[str, str]:
    """("web cpu 500m memory 1Gi", "web cpu 250m memory 347Mi") for Events and lastAction."""
    template = {c.name: c for c in workload.containers}
    before, after = [], []
    for name, change in sorted(outcome.changes.items()):
        current = template[name]
        was = {
            "cpu": "unset" if current.cpu_request is None else format_cpu(current.cpu_request),
            "memory": "unset" if current.memory_request is None else format_memory(current.memory_request),
        }
        before.append(" ".join([name, *(f"{resource} {was[resource]}" for resource in change.requests)]))
        after.append(" ".join([name, *(f"{resource} {q}" for resource, q in change.requests.items())]))
    return ", ".join(before), ", ".join(after)


def with_requests(workload: Workload, changes: Mapping[str, ContainerResources]) -> Workload:
    """``workload`` as its pods will be once ``changes`` are written: what the replicas are decided
    at when requests and replicas change together."""

    def changed(container: TemplateContainer) -> TemplateContainer:
        requests = changes[container.name].requests if container.name in changes else {}
        return replace(
            container,
            cpu_request=parse_quantity(requests["cpu"]) if "cpu" in requests else container.cpu_request,
            memory_request=(
                parse_quantity(requests["memory"]) if "memory" in requests else container.memory_request
            ),
        )

    return replace(workload, containers=tuple(changed(c) for c in workload.containers))


def resize_due(last_action: LastAction | None, now: datetime, cooldown_seconds: int, oom_bump: bool) -> bool:
    """Whether Apply mode may resize now: ``cooldown_seconds`` after the last resize, at once after an
    OOM kill (a container that keeps dying must not wait hours)."""
    if oom_bump or last_action is None or last_action.action != RESIZE_ACTION or not last_action.time:
        return True
    return (now - datetime.fromisoformat(last_action.time)).total_seconds() >= cooldown_seconds


def history_observation(histories: Sequence[ContainerHistory], notes: Sequence[str]) -> Observation:
    """MetricsAvailable for right-sizing: whether Prometheus has usage history for the workload."""
    kind = PolicyCondition.METRICS_AVAILABLE
    if not histories:
        why = "; ".join(notes) or "Prometheus has no usage series for this workload"
        return Observation(kind, "False", PolicyReason.NO_DATA, why)
    return Observation(kind, "True", PolicyReason.HISTORY_READ, "usage history read from Prometheus")
