"""Benchmark: one operator with N ScalingPolicies on the sandbox. Prints JSON, asserts nothing.

    python tests/benchmarks/operator_scale.py --policies 1000 --namespaces 10 --minutes 10
    python tests/benchmarks/operator_scale.py --policies 1000 --soak-minutes 60

Starts its own sandbox in a temporary directory, N one-replica Deployments with a live CPU load and
N Recommend-mode policies (CPU 70% and right-sizing), then `thrifty run`, and reports (small
requests, so a hundred pods fit a fake node):
- seconds until every policy is Ready;
- over the measured minutes: status PATCHes of ScalingPolicies and Events created per minute (the
  API server's own request counters, every component's Events), the Events Thrifty itself posted or
  counted again (``reportingComponent=thrifty``), the policies whose status changed as a user reads it (a
  recommendation, a condition's reason, an action: what makes the operator write), Prometheus queries
  per minute and per evaluation round, round time (p50, p99), the operator's CPU seconds per minute
  and per round, its RSS at the end, and the policies left with NoData;
- with --soak-minutes, its RSS every minute after the measured minutes, and the growth over them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from operator_launch import Operator

from thrifty.engine.status_changes import policy_status_unchanged
from thrifty.sandbox import cluster
from thrifty.sandbox.cluster import SandboxEnv

PODS_PER_NODE = 100


def manifests(policies: int, namespaces: int) -> str:
    docs = [f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: bench-{n}}}" for n in range(namespaces)]
    for i in range(policies):
        ns = f"bench-{i % namespaces}"
        docs.append(f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: w{i}
  namespace: {ns}
  annotations: {{sandbox.thrifty.dev/cpu: "{6 + i % 5}m", sandbox.thrifty.dev/memory: 24Mi}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: w{i}}}}}
  template:
    metadata: {{labels: {{app: w{i}}}}}
    spec:
      containers:
      - name: app
        image: registry.example/app:1
        resources: {{requests: {{cpu: 10m, memory: 32Mi}}}}""")
        docs.append(f"""apiVersion: thrifty.dev/v1alpha1
kind: ScalingPolicy
metadata: {{name: w{i}, namespace: {ns}}}
spec:
  targetRef: {{kind: Deployment, name: w{i}}}
  horizontal:
    maxReplicas: 4
    metrics: [{{type: CPU, targetUtilization: 70}}]
  vertical: {{}}""")
    return "\n---\n".join(docs)


def apiserver_counts(env: SandboxEnv) -> dict[str, float]:
    text = cluster.kubectl(env, "get", "--raw", "/metrics").stdout
    counts = {"status_patches": 0.0, "event_creates": 0.0}
    for line in text.splitlines():
        if not line.startswith("apiserver_request_total{"):
            continue
        value = float(line.rsplit(" ", 1)[1])
        if 'resource="scalingpolicies"' in line and 'subresource="status"' in line and 'verb="PATCH"' in line:
            counts["status_patches"] += value
        if 'resource="events"' in line and 'verb="POST"' in line:
            counts["event_creates"] += value
    return counts


def thrifty_events(env: SandboxEnv) -> tuple[int, int]:
    """The Events Thrifty reported, and the sum of their counts (an aggregated repeat raises the count
    of the Event already posted instead of posting another)."""
    items = json.loads(
        cluster.kubectl(
            env, "get", "events", "-A", "--field-selector", "reportingComponent=thrifty", "-o", "json"
        ).stdout
    )["items"]
    return len(items), sum(int(i.get("count") or 1) for i in items)


def operator_queries(metrics_port: int) -> float:
    import urllib.request

    text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).read().decode()
    return sum(
        float(m.group(1))
        for m in re.finditer(r"^thrifty_prometheus_queries_total\{[^}]*\} (\S+)$", text, re.M)
    )


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def ready_count(env: SandboxEnv) -> int:
    items = json.loads(cluster.kubectl(env, "get", "scalingpolicies", "-A", "-o", "json").stdout)["items"]
    return sum(
        any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in (i.get("status") or {}).get("conditions", [])
        )
        for i in items
    )


ROUND = re.compile(
    r"evaluation round \d+: (\d+) policies \((\d+) status writes, (\d+) busy, (\d+) failed\), "
    r"(\d+) Prometheus queries, ([\d.]+) s"
)


def rounds_between(log: Path, start: int, end: int) -> list[tuple[int, int, int, int, int, float]]:
    """(policies, status writes, busy, failed, queries, seconds) of each round the log holds between
    offsets."""
    with log.open("rb") as text:
        text.seek(start)
        chunk = text.read(end - start).decode(errors="replace")
    return [
        (int(m[1]), int(m[2]), int(m[3]), int(m[4]), int(m[5]), float(m[6])) for m in ROUND.finditer(chunk)
    ]


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


def statuses(env: SandboxEnv) -> dict[str, Any]:
    items = json.loads(cluster.kubectl(env, "get", "scalingpolicies", "-A", "-o", "json").stdout)["items"]
    return {f"{i['metadata']['namespace']}/{i['metadata']['name']}": i.get("status") or {} for i in items}


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    """What a user would see change between two statuses of one policy: top-level fields, and each
    condition whose status or reason moved (as ``Type:OldReason->NewReason``)."""
    if policy_status_unchanged(before, after):
        return set()
    fields = {k for k in set(before) | set(after) if k not in ("conditions", "currentUtilization")}
    fields = {k for k in fields if before.get(k) != after.get(k)}
    old = {c["type"]: (c["status"], c.get("reason")) for c in before.get("conditions") or []}
    new = {c["type"]: (c["status"], c.get("reason")) for c in after.get("conditions") or []}
    for kind in set(old) | set(new):
        if old.get(kind) != new.get(kind):
            fields.add(f"{kind}:{(old.get(kind) or ('', None))[1]}->{(new.get(kind) or ('', None))[1]}")
    return fields


def no_data(env: SandboxEnv) -> int:
    items = json.loads(cluster.kubectl(env, "get", "scalingpolicies", "-A", "-o", "json").stdout)["items"]
    return sum(
        any(c.get("reason") == "NoData" for c in (i.get("status") or {}).get("conditions", [])) for i in items
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", type=int, default=1000)
    parser.add_argument("--namespaces", type=int, default=10)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--soak-minutes", type=float, default=0.0, help="then sample RSS this long")
    parser.add_argument("--ready-timeout", type=float, default=1800.0)
    parser.add_argument(
        "--trace-memory",
        type=Path,
        help="run the operator under tracemalloc, its largest holders to this file",
    )
    parser.add_argument(
        "--sample-stacks",
        type=Path,
        help="run the operator under a stack sampler, where its evaluation threads spend time to this file",
    )
    args = parser.parse_args()
    repo = Path(__file__).resolve().parents[2]
    with tempfile.TemporaryDirectory(prefix="thrifty-scale-") as scratch:
        state = Path(scratch) / "sandbox"
        nodes = max(2, -(-args.policies // PODS_PER_NODE) + 1)
        env = cluster.up(
            state, spot_nodes=0, on_demand_nodes=nodes, progress=lambda m: print(m, file=sys.stderr)
        )
        operator: Operator | None = None
        try:
            cluster.kubectl(env, "apply", "-f", str(repo / "crds"))
            cluster.kubectl(env, "wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
            cluster.kubectl(env, "apply", "-f", "-", input=manifests(args.policies, args.namespaces))
            log_path = Path(scratch) / "operator.log"
            diagnosis = (
                ("memory", args.trace_memory)
                if args.trace_memory
                else ("stacks", args.sample_stacks)
                if args.sample_stacks
                else None
            )
            operator = Operator(env, log_path, diagnosis=diagnosis)
            operator.start()
            started = time.monotonic()
            metrics_port = operator.metrics_port
            ready_after = None
            while time.monotonic() - started < args.ready_timeout:
                if ready_count(env) >= args.policies:
                    ready_after = time.monotonic() - started
                    break
                time.sleep(5)
            before = apiserver_counts(env), operator_queries(metrics_port), cpu_seconds(operator.pid)
            events_before = thrifty_events(env)
            status_before, log_start = statuses(env), log_path.stat().st_size
            # A status read every minute: what changed between two reads, field by field, explains
            # the writes (a change and its undoing within one minute are not seen).
            seen_changes: Counter[str] = Counter()
            sample, measured_until = status_before, time.monotonic() + args.minutes * 60
            while (left := measured_until - time.monotonic()) > 0:
                time.sleep(min(60.0, left))
                later = statuses(env)
                for key, status in later.items():
                    seen_changes.update(changed_fields(sample.get(key, {}), status))
                sample = later
            after = apiserver_counts(env), operator_queries(metrics_port), cpu_seconds(operator.pid)
            events_after = thrifty_events(env)
            posted = events_after[0] - events_before[0]
            status_after, log_end = statuses(env), log_path.stat().st_size
            rounds = rounds_between(log_path, log_start, log_end)
            # Read as the operator reads a change (a recommendation, a condition's reason, an action):
            # a policy that changed and changed back within the window is not counted.
            changed = sum(
                not policy_status_unchanged(before, status_after.get(key, {}))
                for key, before in status_before.items()
            )
            result: dict[str, Any] = {
                "policies": args.policies,
                "namespaces": args.namespaces,
                "seconds_until_all_ready": None if ready_after is None else round(ready_after, 1),
                "ready_at_end": ready_count(env),
                "no_data_at_end": no_data(env),
                "minutes_measured": args.minutes,
                "status_patches_per_minute": round(
                    (after[0]["status_patches"] - before[0]["status_patches"]) / args.minutes, 1
                ),
                "policies_whose_status_changed": changed,
                "status_changes_seen_minute_to_minute": dict(seen_changes.most_common()),
                "events_per_minute": round(
                    (after[0]["event_creates"] - before[0]["event_creates"]) / args.minutes, 1
                ),
                "thrifty_events_posted_per_minute": round(posted / args.minutes, 1),
                "thrifty_event_counts_raised_per_minute": round(
                    (events_after[1] - events_before[1] - posted) / args.minutes, 1
                ),
                "prometheus_queries_per_minute": round((after[1] - before[1]) / args.minutes, 1),
                "rounds": len(rounds),
                "failed_status_writes": sum(r[3] for r in rounds),
                "prometheus_queries_per_round_max": max((r[4] for r in rounds), default=None),
                "round_seconds_p50": percentile([r[5] for r in rounds], 0.5),
                "round_seconds_p99": percentile([r[5] for r in rounds], 0.99),
                "round_interval_seconds": float(os.environ.get("THRIFTY_RESYNC_SECONDS", "15")),
                "operator_cpu_seconds_per_minute": round((after[2] - before[2]) / args.minutes, 2),
                "operator_cpu_seconds_per_round": round((after[2] - before[2]) / max(len(rounds), 1), 2),
                "operator_rss_mb": round(rss_mb(operator.pid), 1),
                "status_refresh_seconds": os.environ.get("THRIFTY_STATUS_REFRESH_SECONDS", "never"),
            }
            if args.soak_minutes:
                samples = [rss_mb(operator.pid)]
                for _ in range(int(args.soak_minutes)):
                    time.sleep(60)
                    samples.append(rss_mb(operator.pid))
                result["soak_minutes"] = args.soak_minutes
                result["soak_rss_mb_every_minute"] = [round(v, 1) for v in samples]
                result["soak_rss_growth_percent"] = round(100 * (samples[-1] - samples[0]) / samples[0], 1)
        finally:
            if operator is not None:
                operator.kill()
            cluster.down(state, progress=lambda _: None)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
