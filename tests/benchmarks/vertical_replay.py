"""Replay real traces through three right-sizers; prints JSON. ``python tests/benchmarks/vertical_replay.py``

A script, not a test (pytest collects only test_*.py): it reports numbers and asserts none.

Each real trace (alibaba2018, azure_v2, google2019; 300 s samples) is read as one container's usage:
CPU cores = cpu fraction x 4 cores, memory = memory fraction x 8 GiB. The recommenders learn from the
first half and are judged on the second half (``learn_days`` of history each). Two original requests,
the baselines for savings: ``first_half_max``, the first half's maximum of each resource (sized from a
dashboard's peak; hard to beat, since memory max x 1.15 is above it by design), and ``capacity``,
4 cores / 8 GiB (sized to the machine, the usual over-provisioned request). The baseline is also the
container's current request, which matters to Thrifty's 10% small-change rule.

- thrifty: the engine with default settings (CPU p95, memory max x 1.15, floors, rounding, 10% rule).
- krr_simple: CPU p95, memory max x 1.15, no floors, no rounding.
- vpa: p90 x 1.15, at least 25m / 250 MiB, with VPA's exponential decay (half-life 24 h) of sample
  weights; CPU from every sample, memory from per-day peaks (VPA's 24 h memory aggregation). Exact
  weighted percentiles stand in for VPA's 5%-wide histogram buckets.

Savings are in percent of the monthly request cost at OpenCost's on-demand rates, and in percent of
OpenCost's allocation cost (max(request, usage) per sample) over the second half. ``cpu_over_frac``:
share of second-half samples with CPU usage above the CPU request; ``mem_over_n``: samples with
memory above the memory request.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from thrifty.engine.cost import OPENCOST_ON_DEMAND, allocation_cost, monthly_request_cost
from thrifty.engine.quantities import GiB, MiB, describe_cpu, describe_memory
from thrifty.engine.rightsizing import ContainerUsage, recommend, recommend_batch
from thrifty.sandbox.traces import TRACE_NAMES, TraceName, load_trace

FloatArray = npt.NDArray[np.float64]
CORES = 4.0
MEMORY_BYTES = 8.0 * GiB
HALF_LIFE_SECONDS = 24 * 3600.0
DAY_SECONDS = 24 * 3600.0

# A recommender: (cpu cores, memory bytes, step seconds, original cpu, original memory) -> requests.
Recommender = Callable[[FloatArray, FloatArray, float, float, float], tuple[float, float]]


def thrifty(
    cpu: FloatArray, memory: FloatArray, step: float, cpu_now: float, memory_now: float
) -> tuple[float, float]:
    result = recommend(ContainerUsage(cpu, memory, step, cpu_request=cpu_now, memory_request=memory_now))
    assert result.cpu_request is not None
    assert result.memory_request is not None
    return result.cpu_request, result.memory_request


def krr_simple(
    cpu: FloatArray, memory: FloatArray, step: float, _cpu: float, _memory: float
) -> tuple[float, float]:
    return float(np.percentile(cpu, 95)), float(memory.max()) * 1.15


def vpa(cpu: FloatArray, memory: FloatArray, step: float, _cpu: float, _memory: float) -> tuple[float, float]:
    seconds: FloatArray = np.arange(len(cpu), dtype=np.float64) * step
    per_day = int(DAY_SECONDS // step)
    days = np.arange(0, len(memory), per_day)
    peaks = np.maximum.reduceat(memory, days)
    peak_seconds: FloatArray = (
        np.minimum(days + per_day - 1, len(memory) - 1) * step
    )  # a day counts from its end
    cpu_target = _weighted_percentile(cpu, _decay(seconds, seconds[-1]), 90) * 1.15
    memory_target = _weighted_percentile(peaks, _decay(peak_seconds, seconds[-1]), 90) * 1.15
    return max(cpu_target, 0.025), max(memory_target, 250 * MiB)


def _decay(seconds: FloatArray, now: float) -> FloatArray:
    return np.asarray(np.exp2((seconds - now) / HALF_LIFE_SECONDS), dtype=np.float64)


def _weighted_percentile(values: FloatArray, weights: FloatArray, q: float) -> float:
    """The smallest value whose cumulative weight reaches q% of the total, as VPA's histogram reads."""
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order])
    index = int(np.searchsorted(cumulative, q / 100 * cumulative[-1]))
    return float(values[order][min(index, len(values) - 1)])


RECOMMENDERS: dict[str, Recommender] = {"thrifty": thrifty, "krr_simple": krr_simple, "vpa": vpa}


def replay(name: TraceName) -> list[dict[str, Any]]:
    """One row per (baseline, recommender): requests, savings and how often the replay exceeds them."""
    trace = load_trace(name)
    step = trace.step_seconds
    cpu, memory = np.asarray(trace.cpu) * CORES, np.asarray(trace.memory) * MEMORY_BYTES
    half = len(cpu) // 2
    learn_cpu, learn_memory, test_cpu, test_memory = cpu[:half], memory[:half], cpu[half:], memory[half:]
    baselines = {
        "first_half_max": (float(learn_cpu.max()), float(learn_memory.max())),
        "capacity": (CORES, MEMORY_BYTES),
    }

    def month(cpu_cores: float, memory_bytes: float) -> float:
        return monthly_request_cost(cpu_cores, memory_bytes, OPENCOST_ON_DEMAND).total

    def allocated(cpu_cores: float, memory_bytes: float) -> float:
        return allocation_cost(cpu_cores, memory_bytes, test_cpu, test_memory, step, OPENCOST_ON_DEMAND).total

    rows = []
    for baseline, (cpu_now, memory_now) in baselines.items():
        for label, recommender in RECOMMENDERS.items():
            cpu_request, memory_request = recommender(learn_cpu, learn_memory, step, cpu_now, memory_now)
            rows.append(
                {
                    "trace": name,
                    "baseline": f"{baseline} {describe_cpu(cpu_now)}/{describe_memory(memory_now)}",
                    "recommender": label,
                    "request": f"{describe_cpu(cpu_request)}/{describe_memory(memory_request)}",
                    "savings_pct": _percent(
                        1 - month(cpu_request, memory_request) / month(cpu_now, memory_now)
                    ),
                    "alloc_savings_pct": _percent(
                        1 - allocated(cpu_request, memory_request) / allocated(cpu_now, memory_now)
                    ),
                    "cpu_over_frac": round(float(np.mean(test_cpu > cpu_request)), 4),
                    "mem_over_n": int(np.count_nonzero(test_memory > memory_request)),
                }
            )
    return rows


def _percent(fraction: float) -> float:
    return round(100 * fraction, 2)


def time_engine(containers: int, samples: int, repeats: int) -> dict[str, Any]:
    """Throughput on random usage (the values only need to look like usage; only time is measured)."""
    rng = np.random.default_rng(0)
    cpu = rng.gamma(2.0, 0.1, (containers, samples))
    memory = rng.uniform(100, 2000, (containers, samples)) * MiB
    cpu[rng.random((containers, samples)) < 0.02] = np.nan  # scrape gaps
    requests = rng.uniform(0.1, 2.0, containers)
    durations = []
    for _ in range(repeats):
        start = time.perf_counter()
        recommend_batch(cpu, memory, 300.0, cpu_request=requests, memory_request=requests * GiB)
        durations.append(time.perf_counter() - start)
    best = min(durations)
    return {
        "containers": containers,
        "samples_per_container": samples,
        "best_of": repeats,
        "seconds": round(best, 3),
        "containers_per_second": round(containers / best),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=5000)
    parser.add_argument("--samples", type=int, default=4032, help="per container; 4032 = 14 days at 300 s")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = [row for name in TRACE_NAMES for row in replay(name)]
    timing = time_engine(args.containers, args.samples, args.repeats)
    # One row per line: compact enough to paste, still valid JSON.
    lines = ",\n".join(f"    {json.dumps(row)}" for row in rows)
    print(f'{{\n  "replay": [\n{lines}\n  ],\n  "timing": {json.dumps(timing)}\n}}')


if __name__ == "__main__":
    main()
