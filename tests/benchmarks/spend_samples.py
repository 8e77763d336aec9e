"""Time the spend source's answer-to-array work; prints JSON. ``python tests/benchmarks/spend_samples.py``

A script, not a test: it reports numbers and asserts none. Prometheus is left out on purpose (its own
time and JSON decoding depend on the server): the answers ``read_spend_samples`` would get for a
month at the 300 s step are built in memory, already decoded, in the shape Prometheus' JSON API
gives them, and handed over by a runner that returns them instead of sending queries. What is timed
is everything after decoding: flattening points, row lookup, the (containers, points) arrays, node
placement, owners and node labels.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from typing import Any

import numpy as np

from thrifty.settings import PrometheusSettings
from thrifty.sources.prometheus_http import QueryRunner, RawSeries
from thrifty.sources.spend import read_spend_samples

MONTH_SECONDS = 31 * 86_400
STEP = 300


class CannedRunner(QueryRunner):
    """Hands back prepared answers by metric label, in the order ``read_spend_samples`` asks."""

    def __init__(self, answers: dict[str, list[RawSeries]]) -> None:
        super().__init__(client=None, timeout_seconds=1.0)  # type: ignore[arg-type]
        self.answers = answers

    def range(self, metric: str, query: str, start: int, end: int, step: int) -> list[RawSeries]:
        del query, start, end, step
        self.sent += 1
        return self.answers[metric]


def answers(containers: int, nodes: int, start: int, points: int) -> dict[str, list[RawSeries]]:
    rng = np.random.default_rng(7)
    stamps = (start + STEP * np.arange(1, points + 1)).tolist()

    def series(labels: dict[str, str], values: Any) -> RawSeries:
        return {"metric": labels, "values": [[t, v] for t, v in zip(stamps, values, strict=True)]}

    cpu, memory, requests, placement, owners = [], [], [], [], []
    for i in range(containers):
        pod = {"namespace": f"team-{i // 2 % 20}", "pod": f"app-{i // 2}-x"}
        labels = {**pod, "container": f"c{i % 2}"}
        usage = rng.gamma(2.0, 0.1, points)
        cpu.append(series(labels, [repr(v) for v in usage.tolist()]))
        memory.append(series(labels, [repr(v) for v in (usage * 2**30).round().tolist()]))
        requests.append(series({**labels, "resource": "cpu"}, ["0.5"] * points))
        requests.append(series({**labels, "resource": "memory"}, ["1073741824"] * points))
        if i % 2 == 0:
            placement.append(series({**pod, "node": f"node-{i % nodes}"}, ["1"] * points))
            owners.append(
                series({**pod, "owner_kind": "Deployment", "owner_name": f"app-{i // 2}"}, ["1"] * points)
            )
    node_labels = [
        series({"node": f"node-{n}", "label_karpenter_sh_capacity_type": "spot"}, ["1"] * points)
        for n in range(nodes)
    ]
    return {
        "spend_cpu_usage": cpu,
        "spend_memory_working_set": memory,
        "spend_resource_requests": requests,
        "spend_pod_info": placement,
        "spend_pod_owner": owners,
        "spend_node_labels": node_labels,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=500)
    parser.add_argument("--nodes", type=int, default=40)
    parser.add_argument("--days", type=float, default=31.0)
    args = parser.parse_args()
    start = 1_700_000_000 // STEP * STEP
    end = start + int(args.days * 86_400)
    points = (end - start) // STEP
    canned = answers(args.containers, args.nodes, start, points)
    settings = PrometheusSettings(url="http://prometheus.invalid")
    began = time.perf_counter()
    samples = read_spend_samples(
        CannedRunner(canned), settings, [f"team-{i}" for i in range(20)], start, end, step_seconds=STEP
    )
    seconds = time.perf_counter() - began
    result = {
        "containers": samples.containers,
        "points": len(samples.times),
        "nodes": len(samples.nodes),
        "samples_in": int(sum(len(s["values"]) for answer in canned.values() for s in answer)),
        "seconds": round(seconds, 3),
        "microseconds_per_sample": round(
            1e6 * seconds / sum(len(s["values"]) for answer in canned.values() for s in answer), 3
        ),
        "array_megabytes": round(
            sum(
                a.nbytes
                for a in (
                    samples.cpu_request_cores,
                    samples.cpu_usage_cores,
                    samples.memory_request_bytes,
                    samples.memory_usage_bytes,
                    samples.gpu_request,
                    samples.node_index,
                )
            )
            / 2**20,
            1,
        ),
        "max_rss_megabytes": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "node_index_known": float(np.mean(samples.node_index >= 0)),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
