"""A kept usage answer brought up to date by a read of the newest points holds exactly what a read
over the whole lookback holds: the same containers, pods, samples, requests and first sample."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thrifty.engine.workload_records import ContainerHistory, NamespaceUsage
from thrifty.sources.kept_usage import OVERLAP_STEPS, merge_usage
from thrifty.sources.prometheus_http import SeriesPoints
from thrifty.sources.usage import FloatArray, TimeGrid, _containers

STEP = 60
LOOKBACK_STEPS = 40
BASE = 1_800_000_000 // STEP * STEP


@dataclass(frozen=True)
class Pod:
    workload: str
    name: str
    born: int  # first step with a sample
    died: int  # first step without one, for good
    gaps: frozenset[int]  # steps in between with no sample (a failed scrape)
    killed_at: int | None = None  # a step at which it was OOM-killed and restarted

    def steps(self, first: int, last: int) -> list[int]:
        return [s for s in range(max(first, self.born), min(last + 1, self.died)) if s not in self.gaps]


def _series(pod: Pod, metric: str, first: int, last: int) -> SeriesPoints:
    steps = pod.steps(first, last)
    labels = {"namespace": "ns", "owner_kind": "Deployment", "owner_name": pod.workload}
    return SeriesPoints(
        labels={**labels, "container": "app", "pod": pod.name},
        stamps=np.array([BASE + s * STEP for s in steps], dtype=np.float64),
        values=np.array([_value(pod, metric, s) for s in steps], dtype=np.float64),
    )


def _value(pod: Pod, metric: str, step: int) -> float:
    return (hash((pod.name, metric, step)) % 1000) / 1000.0


def _read(pods: list[Pod], end_step: int, from_step: int | None = None) -> NamespaceUsage:
    """What Prometheus gives a read at ``end_step``, over the lookback or from ``from_step``."""
    grid = TimeGrid(BASE + (end_step - LOOKBACK_STEPS) * STEP, BASE + end_step * STEP, STEP)
    first = end_step - LOOKBACK_STEPS if from_step is None else from_step
    live = [p for p in pods if p.steps(first, end_step)]
    cpu = [_series(p, "cpu", first, end_step) for p in live]
    memory = [_series(p, "memory", first, end_step) for p in live]
    running = {p.workload for p in pods if p.born <= end_step < p.died}
    requests = [
        {
            "metric": {"namespace": "ns", "owner_kind": "Deployment", "owner_name": w, "container": "app"}
            | {"resource": "cpu"},
            "value": [grid.end, "0.25"],
        }
        for w in sorted(running)
    ]
    # The OOM query's window: the lookback's steps, or those from where this read starts.
    oom_first = max(end_step - LOOKBACK_STEPS, end_step - LOOKBACK_STEPS if from_step is None else from_step)
    kills: dict[str, int] = {}
    for p in pods:
        if p.killed_at is not None and oom_first <= p.killed_at <= end_step:
            kills[p.workload] = max(p.killed_at, kills.get(p.workload, p.killed_at))
    oom = [
        {
            "metric": {"namespace": "ns", "owner_kind": "Deployment", "owner_name": w, "container": "app"},
            "value": [grid.end, str(BASE + step * STEP)],
        }
        for w, step in sorted(kills.items())
    ]
    containers = _containers(grid, cpu, memory, requests, [], oom)
    firsts = [c.first_time for c in containers if c.first_time is not None]
    return NamespaceUsage(
        namespace="ns",
        times=grid.times(),
        step_seconds=STEP,
        cpu_window_seconds=2 * STEP,
        containers=containers,
        missing_workloads=frozenset(),
        queries=5,
        notes=(),
        first_sample=min(firsts, default=None),
    )


def _per_step(array: FloatArray) -> list[list[float]]:
    """Each step's samples, sorted: which lane a pod's samples sit in does not matter."""
    return [sorted(column[~np.isnan(column)].tolist()) for column in array.T]


def _assert_same(merged: NamespaceUsage, full: NamespaceUsage) -> None:
    assert np.array_equal(merged.times, full.times)
    assert merged.first_sample == full.first_sample

    def summary(c: ContainerHistory) -> tuple[object, ...]:
        return (
            c.workload,
            c.pods,
            c.pod_last_times,
            c.first_time,
            c.cpu_request,
            c.oom_killed,
            c.last_oom_kill,
        )

    assert [summary(c) for c in merged.containers] == [summary(c) for c in full.containers]
    for got, want in zip(merged.containers, full.containers, strict=True):
        assert got.cpu_cores.shape[1] == want.cpu_cores.shape[1]
        assert _per_step(got.cpu_cores) == _per_step(want.cpu_cores)
        assert _per_step(got.memory_bytes) == _per_step(want.memory_bytes)


pods_strategy = st.lists(
    st.builds(
        lambda workload, index, born, life, gaps, killed: Pod(
            f"w{workload}",
            f"w{workload}-{index}",
            born,
            born + life,
            frozenset(born + g for g in gaps),
            None if killed is None else born + killed % life,
        ),
        st.integers(0, 2),
        st.integers(0, 5),
        st.integers(0, 120),
        st.integers(1, 80),
        st.sets(st.integers(0, 80), max_size=6),
        st.none() | st.integers(0, 80),
    ),
    max_size=8,
    unique_by=lambda p: p.name,
)


@settings(max_examples=300, deadline=None)
@given(pods=pods_strategy, first_end=st.integers(0, 120), later=st.integers(1, 50))
def test_a_merged_read_equals_a_read_over_the_whole_lookback(
    pods: list[Pod], first_end: int, later: int
) -> None:
    second_end = first_end + later
    since = max(second_end - LOOKBACK_STEPS, first_end - OVERLAP_STEPS)
    merged = merge_usage(_read(pods, first_end), _read(pods, second_end, since), float(BASE + since * STEP))
    _assert_same(merged, _read(pods, second_end))


def test_a_pod_gone_before_the_lookback_and_its_workload_are_dropped() -> None:
    old = Pod("w0", "w0-a", born=0, died=10, gaps=frozenset())
    kept = _read([old], 20)
    assert [c.pods for c in kept.containers] == [("w0-a",)]

    merged = merge_usage(kept, _read([old], 60, 58), float(BASE + 58 * STEP))

    assert merged.containers == ()
    assert merged.first_sample is None


def test_a_late_sample_in_the_overlap_replaces_what_was_kept() -> None:
    pod = Pod("w0", "w0-a", born=0, died=100, gaps=frozenset({19}))  # step 19 missing at the first read
    kept = _read([pod], 20)
    assert np.isnan(kept.containers[0].cpu_cores[0, -2])
    arrived = Pod("w0", "w0-a", born=0, died=100, gaps=frozenset())

    merged = merge_usage(kept, _read([arrived], 21, 19), float(BASE + 19 * STEP))

    assert not np.isnan(merged.containers[0].cpu_cores).any()
    assert merged.containers[0].cpu_cores[0, -3] == _value(arrived, "cpu", 19)


def test_the_overlap_is_what_prometheus_answers_now() -> None:
    """A point of the overlap that Prometheus no longer answers (a rate whose window changed) is gone
    from the merged history too, as from a read over the whole lookback."""
    before = Pod("w0", "w0-a", born=0, died=100, gaps=frozenset())
    now = Pod("w0", "w0-a", born=0, died=100, gaps=frozenset({19}))

    merged = merge_usage(_read([before], 20), _read([now], 21, 19), float(BASE + 19 * STEP))

    _assert_same(merged, _read([now], 21))


def test_pods_replaced_one_after_another_share_one_lane() -> None:
    """A pod replaced every 3 steps: 14 pods, one at a time, in one row rather than fourteen."""
    daily = [Pod("w0", f"w0-{day:02}", born=day * 3, died=day * 3 + 3, gaps=frozenset()) for day in range(14)]

    history = _read(daily, LOOKBACK_STEPS).containers[0]

    assert history.pods == tuple(pod.name for pod in daily)
    assert history.cpu_cores.shape == (1, LOOKBACK_STEPS + 1)
    assert not np.isnan(history.cpu_cores).any()


def test_pods_that_overlap_take_a_lane_each() -> None:
    surge = [Pod("w0", "w0-old", born=0, died=10, gaps=frozenset()), Pod("w0", "w0-new", 8, 20, frozenset())]

    history = _read(surge, 19).containers[0]

    assert history.cpu_cores.shape == (2, 20)
    assert [np.count_nonzero(~np.isnan(row)) for row in history.cpu_cores] == [10, 12]


def test_an_oom_kill_counts_until_it_leaves_the_lookback() -> None:
    pod = Pod("w0", "w0-a", born=0, died=200, gaps=frozenset(), killed_at=5)
    kept = _read([pod], 20)
    assert kept.containers[0].oom_killed

    later = merge_usage(kept, _read([pod], 40, 19), float(BASE + 19 * STEP))  # step 5 is still inside
    gone = merge_usage(later, _read([pod], 46, 39), float(BASE + 39 * STEP))  # the lookback starts at 6

    assert later.containers[0].oom_killed
    assert later.containers[0].last_oom_kill == BASE + 5 * STEP
    assert not gone.containers[0].oom_killed


def test_a_workloads_demand_is_its_pods_summed_per_step() -> None:
    """What a forecast learns from: every pod's usage added up at each step, NaN where none ran."""
    pods = [
        Pod("w0", "w0-a", born=0, died=20, gaps=frozenset({3})),
        Pod("w0", "w0-b", born=10, died=30, gaps=frozenset()),
        Pod("w1", "w1-a", born=5, died=8, gaps=frozenset()),
    ]
    usage = _read(pods, 35)

    demand = usage.demand("cpu")

    w0 = demand[("Deployment", "w0")]
    assert np.array_equal(w0.times, usage.times)
    for step in range(36):
        present = [_value(p, "cpu", step) for p in pods[:2] if step in p.steps(step, step)]
        index = step - (35 - LOOKBACK_STEPS)
        if index < 0:
            continue
        if present:
            assert w0.values[index] == pytest.approx(sum(present))
        else:
            assert np.isnan(w0.values[index])
    assert np.count_nonzero(~np.isnan(demand[("Deployment", "w1")].values)) == 3


def test_a_pod_whose_overlap_samples_are_gone_was_last_seen_before_the_overlap() -> None:
    before = Pod("w0", "w0-a", born=0, died=21, gaps=frozenset())  # samples up to step 20
    now = Pod("w0", "w0-a", born=0, died=19, gaps=frozenset())  # those at 19 and 20 no longer answered

    merged = merge_usage(_read([before], 20), _read([now], 21, 19), float(BASE + 19 * STEP))

    _assert_same(merged, _read([now], 21))
    assert merged.containers[0].pod_last_times == (BASE + 18 * STEP,)


def test_a_workload_with_no_memory_sample_has_no_memory_demand() -> None:
    pod = Pod("w0", "w0-a", born=0, died=10, gaps=frozenset())
    usage = _read([pod], 20)
    only_cpu = replace(
        usage,
        containers=tuple(
            replace(c, memory_bytes=np.full_like(c.memory_bytes, np.nan)) for c in usage.containers
        ),
    )

    assert ("Deployment", "w0") in only_cpu.demand("cpu")
    assert only_cpu.demand("memory") == {}
