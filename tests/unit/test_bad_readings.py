"""Data that is partial, non-finite or of the wrong shape never drives a decision, and each kind says
so with its own reason in MetricsAvailable."""

from __future__ import annotations

import math

import pytest

from thrifty.api.scaling_policy import Horizontal
from thrifty.engine.horizontal import HorizontalState
from thrifty.engine.policy_replicas import decide_replicas, metrics_observation, readings_for
from thrifty.engine.query_answers import ResultType, judge_query_answer, rejected_query
from thrifty.engine.workload_records import QueryAnswer, TemplateContainer, Workload, WorkloadLoad

T0 = 1_767_225_600.0
QUERY_POLICY = Horizontal.model_validate(
    {
        "minReplicas": 1,
        "maxReplicas": 20,
        "metrics": [
            {"type": "Prometheus", "query": "sum(rate(http_requests_total[1m]))", "targetPerReplica": 10}
        ],
    }
)
CPU_POLICY = Horizontal.model_validate(
    {"minReplicas": 1, "maxReplicas": 40, "metrics": [{"type": "CPU", "targetUtilization": 50}]}
)


def workload(replicas: int) -> Workload:
    return Workload(
        "Deployment",
        "demo",
        "web",
        "uid",
        replicas,
        replicas,
        (TemplateContainer("web", 0.5, None, None, None),),
    )


@pytest.mark.parametrize(
    ("result_type", "values", "reason"),
    [
        ("vector", [], "QueryReturnedNothing"),
        ("vector", [0.5, 0.5], "QueryReturnedSeveralSeries"),
        ("vector", [math.nan], "QueryReturnedNaN"),
        ("vector", [math.inf], "QueryReturnedInfinity"),
        ("vector", [-5.0], "QueryReturnedNegative"),
        ("scalar", [3.0], "QueryReturnedScalar"),
        ("string", [], "QueryReturnedString"),
        ("matrix", [], "QueryReturnedRangeVector"),
    ],
)
def test_each_unusable_answer_scales_nothing_and_has_its_own_reason(
    result_type: ResultType, values: list[float], reason: str
) -> None:
    answer = judge_query_answer(result_type, values)
    assert (answer.value, answer.problem) == (None, reason)
    readings = readings_for(QUERY_POLICY, workload(4), None, {"query": answer})
    outcome = decide_replicas(QUERY_POLICY, 4, readings.readings, HorizontalState(), T0)
    assert outcome.decision.replicas == 4
    observation = metrics_observation(readings)
    assert (observation.status, observation.reason) == ("False", reason)
    assert "every metric has a value" not in observation.message


def test_one_finite_series_is_a_reading() -> None:
    answer = judge_query_answer("vector", [60.0])
    readings = readings_for(QUERY_POLICY, workload(4), None, {"query": answer})
    assert decide_replicas(QUERY_POLICY, 4, readings.readings, HorizontalState(), T0).decision.replicas == 6
    assert metrics_observation(readings).reason == "MetricsRead"


def test_a_query_prometheus_refuses_is_the_users_to_fix_not_an_outage() -> None:
    answer = rejected_query('parse error: unexpected "}"')
    observation = metrics_observation(readings_for(QUERY_POLICY, workload(4), None, {"query": answer}))
    assert (observation.reason, observation.status) == ("InvalidQuery", "False")
    assert "parse error" in observation.message


def test_cpu_from_fewer_pods_than_it_is_divided_by_never_scales_down() -> None:
    # After a Prometheus restart only 20 of 32 pods have a rate yet: 0.74x of target, really about 1.07x.
    load = WorkloadLoad(cpu_cores=5.92, cpu_pods=20, memory_bytes=math.nan, memory_pods=0)
    readings = readings_for(CPU_POLICY, workload(32), load, {})
    outcome = decide_replicas(CPU_POLICY, 32, readings.readings, HorizontalState(), T0)
    assert outcome.decision.replicas == 32
    observation = metrics_observation(readings)
    assert (observation.status, observation.reason) == ("True", "PartialData")
    assert "samples from 20 of 32 pods" in observation.message


def test_a_partial_cpu_reading_may_still_scale_up() -> None:
    # New pods without samples count as 0%, as the HPA counts them: the known load alone asks for more.
    load = WorkloadLoad(cpu_cores=6.0, cpu_pods=4, memory_bytes=math.nan, memory_pods=0)
    readings = readings_for(CPU_POLICY, workload(6), load, {})
    decision = decide_replicas(CPU_POLICY, 6, readings.readings, HorizontalState(), T0).decision
    # 6 cores over 6 pods x 500m = 200%, four times the 50% target; the default rate policy doubles.
    assert (decision.desired, decision.replicas) == (24, 12)


def test_an_answer_never_given_counts_as_nothing() -> None:
    readings = readings_for(QUERY_POLICY, workload(4), None, {})
    assert readings.missing[0].reason == "QueryReturnedNothing"
    assert readings.readings[0].usage_ratio is None
    assert QueryAnswer(1.0).problem is None


def test_a_rate_window_short_of_samples_never_scales_down() -> None:
    # Prometheus restarted inside the window: 2 of 4 samples, so rate() reads low (0.70x of target).
    load = WorkloadLoad(
        cpu_cores=1.05, cpu_pods=6, memory_bytes=math.nan, memory_pods=0, cpu_window_samples=2,
        cpu_window_samples_expected=4,
    )  # fmt: skip
    readings = readings_for(CPU_POLICY, workload(6), load, {})
    assert decide_replicas(CPU_POLICY, 6, readings.readings, HorizontalState(), T0).decision.replicas == 6
    observation = metrics_observation(readings)
    assert (observation.status, observation.reason) == ("True", "PartialData")
    assert "2 of 4 samples over the last two rate windows" in observation.message
    full = WorkloadLoad(
        cpu_cores=1.05, cpu_pods=6, memory_bytes=math.nan, memory_pods=0, cpu_window_samples=4,
        cpu_window_samples_expected=4,
    )  # fmt: skip
    assert decide_replicas(CPU_POLICY, 6, readings_for(CPU_POLICY, workload(6), full, {}).readings,
                           HorizontalState(), T0).decision.replicas == 5  # fmt: skip
