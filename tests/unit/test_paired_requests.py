"""Right-sizing paired with the replicas a CPU target needs: one consistent pair in status, priced
against today's, and the replicas decided at the requests the pods are to have."""

from __future__ import annotations

import math

import numpy as np
import pytest

from thrifty.api.common import ResourceList
from thrifty.api.scaling_policy import ContainerRecommendation, Horizontal, Vertical
from thrifty.engine.cost import HOURS_PER_MONTH, Rates
from thrifty.engine.horizontal import HorizontalState
from thrifty.engine.paired_requests import Pairing
from thrifty.engine.policy_replicas import decide_replicas, pairing_for, readings_for
from thrifty.engine.policy_requests import recommend_requests, with_requests
from thrifty.engine.quantities import GiB, parse_quantity
from thrifty.engine.workload_prices import Prices
from thrifty.engine.workload_records import ContainerHistory, TemplateContainer, Workload, WorkloadLoad

STEP = 60
MEMORY = 512 * 2**20
# A pod of 500m and 512Mi costs 10.29 a month at these rates, as in the demo's figures.
RATES = Rates(cpu_per_core_hour=18.14 / HOURS_PER_MONTH, memory_per_gib_hour=2.44 / HOURS_PER_MONTH)
PRICES = Prices(rates=RATES, hours_per_month=HOURS_PER_MONTH, currency="USD")
HORIZONTAL = Horizontal.model_validate(
    {"minReplicas": 2, "maxReplicas": 10, "metrics": [{"type": "CPU", "targetUtilization": 70}]}
)
NOW_LOAD = WorkloadLoad(cpu_cores=1.2, cpu_pods=3, memory_bytes=3 * 400 * 2**20, memory_pods=3)


def web(cpu: float = 0.5, replicas: int = 3) -> Workload:
    container = TemplateContainer("web", cpu, None, MEMORY, None)
    return Workload("Deployment", "demo", "web", "uid-web", replicas, replicas, (container,))


def history(per_pod_cpu: float, pods: int = 3, hours: int = 24) -> ContainerHistory:
    steps = hours * 3600 // STEP
    rng = np.random.default_rng(7)
    # Memory that does not follow the load: 400Mi a pod, give or take.
    memory = 400 * 2**20 + rng.uniform(-1, 1, (pods, steps)) * 2**20
    return ContainerHistory(
        "Deployment", "web", "web", tuple(f"web-{i}" for i in range(pods)),
        np.full((pods, steps), per_pod_cpu), memory, 0.5, None, MEMORY, None, False,
    )  # fmt: skip


def recommended_requests(container: ContainerRecommendation) -> ResourceList:
    assert container.recommended is not None
    assert container.recommended.requests is not None
    return container.recommended.requests


def pod_month(cpu: float, memory: float = MEMORY) -> float:
    return (cpu * RATES.cpu_per_core_hour + memory / GiB * RATES.memory_per_gib_hour) * HOURS_PER_MONTH


def test_the_demo_shows_one_pair_priced_against_today() -> None:
    # 1.2 cores on 3 pods of 500m at a 70% target. Right-sizing alone: p95 400m, which would need
    # 5 replicas; 4 of 430m meet the target for less.
    pairing = pairing_for(HORIZONTAL, NOW_LOAD, 3)
    assert pairing == Pairing(0.7, (2, 10), 1.2, 3, 0.1)
    outcome = recommend_requests([history(0.4)], STEP, Vertical(), web(), PRICES, pairing)
    assert outcome.paired is not None
    (container,) = outcome.containers
    requests = recommended_requests(container)
    cpu = parse_quantity(requests.cpu or "0")
    assert cpu == 0.43
    assert outcome.paired.replicas == 4 == math.ceil(1.2 / (cpu * 0.7))
    # The memory that stays with every pod is right-sized on its own, as before.
    memory = parse_quantity(requests.memory or "0")
    assert outcome.cost is not None
    assert outcome.cost.monthly_current == pytest.approx(3 * pod_month(0.5), abs=0.01)
    assert outcome.cost.monthly_recommended == pytest.approx(4 * pod_month(0.43, memory), abs=0.01)
    assert outcome.cost.monthly_savings == pytest.approx(
        outcome.cost.monthly_current - outcome.cost.monthly_recommended, abs=0.01
    )
    assert outcome.paired.message.startswith("400m would need 5 replicas (+")
    assert outcome.paired.message.endswith("/mo); 430m at 4 replicas")
    assert "paired with 4 replicas at the 70% target" in container.reason


def test_the_replicas_are_decided_at_the_paired_request() -> None:
    pairing = pairing_for(HORIZONTAL, NOW_LOAD, 3)
    outcome = recommend_requests([history(0.4)], STEP, Vertical(), web(), PRICES, pairing)
    assert outcome.paired is not None
    paired = with_requests(web(), outcome.changes)
    assert paired.pod_request("cpu") == 0.43
    readings = readings_for(HORIZONTAL, paired, NOW_LOAD, {})
    decision = decide_replicas(HORIZONTAL, 3, readings.readings, HorizontalState(), 0.0)
    assert decision.decision.replicas == outcome.paired.replicas == 4
    # At today's 500m the target asks for 4 too, and at right-sizing's own 400m for 5.
    today = readings_for(HORIZONTAL, web(), NOW_LOAD, {})
    assert decide_replicas(HORIZONTAL, 3, today.readings, HorizontalState(), 0.0).decision.replicas == 4
    alone = readings_for(HORIZONTAL, web(0.4), NOW_LOAD, {})
    assert decide_replicas(HORIZONTAL, 3, alone.readings, HorizontalState(), 0.0).decision.replicas == 5


def test_a_policy_that_does_not_scale_on_cpu_is_right_sized_alone() -> None:
    on_memory = Horizontal.model_validate(
        {"minReplicas": 1, "maxReplicas": 5, "metrics": [{"type": "Memory", "targetUtilization": 80}]}
    )
    assert pairing_for(on_memory, NOW_LOAD, 3) is None
    assert pairing_for(HORIZONTAL, None, 3) is None
    outcome = recommend_requests([history(0.4)], STEP, Vertical(), web(), PRICES, None)
    assert outcome.paired is None
    (container,) = outcome.containers
    assert recommended_requests(container).cpu == "400m"


def test_too_little_history_pairs_nothing() -> None:
    pairing = pairing_for(HORIZONTAL, NOW_LOAD, 3)
    outcome = recommend_requests([history(0.4, hours=1)], STEP, Vertical(), web(), PRICES, pairing)
    assert outcome.paired is None
    assert outcome.changes == {}


def test_a_change_under_min_change_keeps_todays_request() -> None:
    # 1.2 cores: 4 pods of 430m; today 450m is within 10% of it, so nothing is patched.
    pairing = pairing_for(HORIZONTAL, NOW_LOAD, 3)
    workload = web(0.45)
    outcome = recommend_requests([history(0.4)], STEP, Vertical(), workload, PRICES, pairing)
    assert outcome.paired is not None
    change = outcome.changes.get("web")
    assert change is None or "cpu" not in change.requests
    (container,) = outcome.containers
    assert "keeps 450m (change under 10%)" in container.reason


def test_the_pair_counts_replicas_as_the_horizontal_step_does_inside_the_tolerance() -> None:
    # 4 pods of 410m at 1.17 cores run at 71%: within the 10% tolerance of the 70% target, so the
    # horizontal step keeps 4, and the pair says 4 too (not ceil(1.17 / (0.41 x 0.7)) = 5).
    load = WorkloadLoad(cpu_cores=1.17, cpu_pods=4, memory_bytes=4 * 400 * 2**20, memory_pods=4)
    workload = web(0.41, replicas=4)
    pairing = pairing_for(HORIZONTAL, load, 4)
    outcome = recommend_requests([history(0.27, pods=4)], STEP, Vertical(), workload, PRICES, pairing)
    assert outcome.paired is not None
    decide_at = with_requests(workload, outcome.changes)
    readings = readings_for(HORIZONTAL, decide_at, load, {})
    decision = decide_replicas(HORIZONTAL, 4, readings.readings, HorizontalState(), 0.0)
    assert outcome.paired.replicas == decision.decision.replicas
    assert outcome.paired.message.endswith("keeping today's request, 410m at 4 replicas")
    (container,) = outcome.containers
    assert "paired with 4 replicas at the 70% target" in container.reason


def test_while_a_forecast_steers_the_pair_is_at_full_capacity() -> None:
    # 1.2 cores: at full capacity 3 pods of 400m serve it, where the 70% target asked for 4 of 430m.
    pairing = pairing_for(HORIZONTAL, NOW_LOAD, 3, steering=True)
    assert pairing == Pairing(1.0, (2, 10), 1.2, 3, 0.0, steering=True)
    outcome = recommend_requests([history(0.4)], STEP, Vertical(), web(), PRICES, pairing)
    assert outcome.paired is not None
    (container,) = outcome.containers
    cpu = parse_quantity(recommended_requests(container).cpu or "0")
    assert outcome.paired.replicas == math.ceil(1.2 / cpu - 1e-9)
    assert "at full capacity, as the forecast steers" in container.reason
