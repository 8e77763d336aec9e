"""What a usage read costs when workloads have days of history: the whole lookback, against what is
new since the last read.

    python tests/benchmarks/usage_history_reads.py --pods 200 --days 14

Starts the sandbox, runs one Deployment of N pods on KWOK, backfills D days of the google2019 trace
for them into the sandbox's Prometheus, then reads the namespace's usage over a 14-day lookback as
the operator does (``KeptUsage``): a first read over the whole lookback, then one a minute later,
which asks only for what is new. For each it prints the wall time, the peak of Python's allocations
during the read (tracemalloc, numpy's arrays included) and the arrays kept. It also sends the CPU
range query over the whole lookback both ways, parsed whole by ``json`` and as it streams in, to
show what parsing costs. Prints JSON; numbers, not assertions.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import requests

from thrifty.engine.workload_records import NamespaceUsage
from thrifty.sandbox import cluster
from thrifty.sandbox.demo_data import load_trace_history
from thrifty.sandbox.inventory import read_inventory
from thrifty.sandbox.nodes import PODS_PER_NODE
from thrifty.settings import PrometheusSettings
from thrifty.sources.kept_usage import KeptUsage
from thrifty.sources.prometheus_http import QueryRunner, connect
from thrifty.sources.promql import NamespaceQueries, choose_step
from thrifty.sources.usage import TimeGrid

T = TypeVar("T")
NAMESPACE = "history"
LOOKBACK = timedelta(days=14)


def deployment(pods: int) -> str:
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: {NAMESPACE}}}
spec:
  replicas: {pods}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
        - name: app
          image: nginx
          resources: {{requests: {{cpu: 100m, memory: 128Mi}}}}
"""


def measured(what: Callable[[], T]) -> tuple[T, dict[str, float]]:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        result = what()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, {"seconds": round(time.perf_counter() - started, 2), "peak_mb": round(peak / 1e6, 1)}


def kept_mb(usages: dict[str, NamespaceUsage]) -> float:
    return round(
        sum(c.cpu_cores.nbytes + c.memory_bytes.nbytes for u in usages.values() for c in u.containers) / 1e6,
        1,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=200)
    parser.add_argument("--days", type=float, default=14.0)
    args = parser.parse_args()

    def progress(message: str) -> None:
        print(message, file=sys.stderr)

    with tempfile.TemporaryDirectory(prefix="thrifty-history-") as scratch:
        state = Path(scratch) / "sandbox"
        nodes = max(2, -(-args.pods // PODS_PER_NODE) + 1)
        env = cluster.up(state, spot_nodes=0, on_demand_nodes=nodes, progress=progress)
        try:
            cluster.kubectl(env, "create", "namespace", NAMESPACE)
            cluster.kubectl(env, "apply", "-f", "-", input=deployment(args.pods))
            deadline = time.monotonic() + 600
            while len(read_inventory(env.kubeconfig, NAMESPACE).pods) < args.pods:
                if time.monotonic() > deadline:
                    raise SystemExit(f"{args.pods} pods were not Running within 10 minutes")
                time.sleep(5)
            started = time.monotonic()
            summary = load_trace_history(state, NAMESPACE, "google2019", args.days, progress)
            backfill_seconds = time.monotonic() - started
            settings = PrometheusSettings(url=env.prometheus_url, retries=0, timeout_seconds=120)
            client, scope, end = connect(settings), (NAMESPACE,), datetime.now(UTC)
            kept = KeptUsage()
            first, first_cost = measured(lambda: kept.read(client, settings, scope, end, LOOKBACK))
            later = end + timedelta(seconds=60)
            second, second_cost = measured(lambda: kept.read(client, settings, scope, later, LOOKBACK))
            step = choose_step(LOOKBACK.total_seconds(), settings.scrape_interval_seconds)
            grid = TimeGrid.ending_at(later, LOOKBACK.total_seconds(), step)
            cpu = NamespaceQueries(
                settings.metrics, scope, step, settings.scrape_interval_seconds, int(LOOKBACK.total_seconds())
            ).cpu_usage()
            runner = QueryRunner(client, settings.timeout_seconds)
            stats = requests.get(
                f"{env.prometheus_url}/api/v1/query_range",
                params={
                    "query": cpu,
                    "start": str(grid.start),
                    "end": str(grid.end),
                    "step": str(step),
                    "stats": "all",
                },
                timeout=600,
            ).json()["data"]["stats"]["samples"]
            _, parsed_whole = measured(lambda: runner.range("cpu_usage", cpu, grid.start, grid.end, step))
            _, streamed = measured(lambda: runner.range_points("cpu_usage", cpu, grid.start, grid.end, step))
            containers = first.usages[NAMESPACE].containers
            print(
                json.dumps(
                    {
                        "pods": args.pods,
                        "history_days": round(summary.window_seconds / 86400, 1),
                        "backfilled_samples": summary.samples,
                        "backfill_seconds": round(backfill_seconds, 1),
                        "step_seconds": step,
                        "points_per_series": grid.points,
                        "containers": len(containers),
                        "pods_read": sum(len(c.pods) for c in containers),
                        "first_read": {
                            **first_cost,
                            "whole_lookback": first.whole_lookback_reads,
                            "kept_mb": kept_mb(first.usages),
                        },
                        "read_a_minute_later": {
                            **second_cost,
                            "whole_lookback": second.whole_lookback_reads,
                            "kept_mb": kept_mb(second.usages),
                        },
                        # What --query.max-samples (50 million by default) is compared with.
                        "cpu_range_query_peak_samples": stats["peakSamples"],
                        "cpu_range_answer_parsed_whole": parsed_whole,
                        "cpu_range_answer_streamed": streamed,
                    },
                    indent=2,
                )
            )
        finally:
            cluster.down(state, progress=lambda _: None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
