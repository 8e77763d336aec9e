"""Time one horizontal evaluation round for thousands of workloads; prints JSON.
``python tests/benchmarks/horizontal_round.py [--workloads 5000]``

A script, not a test: it reports numbers and asserts none. It times what the operator does per
policy after Prometheus has answered (the namespace's two queries are shared by all its policies):
readings from the load, decide() with schedules and state, and the state written back to status;
and, separately, fitting and using the forecast of one workload's 14 days of demand at 120 s.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from thrifty.api.scaling_policy import Horizontal
from thrifty.engine.forecast import fit_forecast, recent_error
from thrifty.engine.horizontal import HorizontalState, Recommendation
from thrifty.engine.policy_replicas import decide_replicas, readings_for
from thrifty.engine.predictive import forecast_floor
from thrifty.engine.scaling_history import history_from, state_from
from thrifty.engine.workload_records import TemplateContainer, Workload, WorkloadLoad

NOW = 1_767_268_800.0  # 2026-01-01T12:00:00Z, outside the night window


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", type=int, default=5000)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    spec = Horizontal.model_validate(
        {
            "minReplicas": 2,
            "maxReplicas": 50,
            "metrics": [
                {"type": "CPU", "targetUtilization": 70},
                {"type": "Memory", "targetUtilization": 80},
            ],
            "schedules": [{"name": "night", "start": "22:00", "end": "06:00", "maxReplicas": 4}],
        }
    )
    workloads = []
    for i in range(args.workloads):
        replicas = int(rng.integers(2, 40))
        containers = (TemplateContainer("app", 0.5, None, 512 * 2**20, None),)
        load = WorkloadLoad(
            float(rng.uniform(0.1, 1.2) * replicas * 0.5), replicas, float(replicas * 400 * 2**20), replicas
        )
        state = HorizontalState(
            (Recommendation(NOW - 100, replicas + 2), Recommendation(NOW - 30, replicas)), ()
        )
        workloads.append(
            (Workload("Deployment", "bench", f"w{i}", "", replicas, replicas, containers), load, state)
        )
    started = time.perf_counter()
    changed = 0
    for workload, load, state in workloads:
        readings = readings_for(spec, workload, load, {})
        history = history_from(state)
        outcome = decide_replicas(
            spec, workload.desired_replicas, readings.readings, state_from(history), NOW
        )
        history_from(outcome.decision.state).to_wire()
        changed += outcome.decision.replicas != workload.desired_replicas
    round_seconds = time.perf_counter() - started

    step = 120.0
    times = NOW - 14 * 86_400 + step * np.arange(14 * 86_400 // int(step), dtype=np.float64)
    demand = 2 + np.sin(2 * np.pi * times / 86_400) + rng.normal(0, 0.1, len(times))
    started = time.perf_counter()
    model = fit_forecast(times, demand, lead_seconds=300, now=float(times[-1]))
    error = recent_error(model, times, demand, max_error=0.25, now=float(times[-1]))
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    floor = forecast_floor(model, times, demand, float(times[-1]), 300, 0.5)
    floor_seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "workloads": args.workloads,
                "round_seconds": round(round_seconds, 3),
                "per_workload_ms": round(1000 * round_seconds / args.workloads, 3),
                "scaled": changed,
                "forecast_points": len(times),
                "forecast_fit_and_error_seconds": round(fit_seconds, 3),
                "forecast_floor_seconds": round(floor_seconds, 4),
                "seasonality": model.seasonality,
                "steering": error.steering,
                "floor_replicas": None if floor is None else floor.replicas,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
