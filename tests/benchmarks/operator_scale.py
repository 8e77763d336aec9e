"""Benchmark: one operator with N ScalingPolicies on the sandbox. Prints JSON, asserts nothing.

    python tests/benchmarks/operator_scale.py --policies 1000 --namespaces 10 --minutes 5

Starts its own sandbox in a temporary directory, N one-replica Deployments with a live CPU load and
N Recommend-mode policies (CPU 70% and right-sizing), then `thrifty run`, and reports (small
requests, so a hundred pods fit a fake node):
- seconds until every policy is Ready;
- over the measured minutes: status PATCHes of ScalingPolicies and Events created per minute (the
  API server's own request counters), Prometheus queries per minute, the operator's CPU seconds per
  minute and its RSS at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from thrifty.sandbox import cluster
from thrifty.sandbox.cluster import SandboxEnv
from thrifty.sandbox.readiness import free_ports, http_ok

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", type=int, default=1000)
    parser.add_argument("--namespaces", type=int, default=10)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--ready-timeout", type=float, default=1800.0)
    args = parser.parse_args()
    repo = Path(__file__).resolve().parents[2]
    with tempfile.TemporaryDirectory(prefix="thrifty-scale-") as scratch:
        state = Path(scratch) / "sandbox"
        nodes = max(2, -(-args.policies // PODS_PER_NODE) + 1)
        env = cluster.up(
            state, spot_nodes=0, on_demand_nodes=nodes, progress=lambda m: print(m, file=sys.stderr)
        )
        try:
            cluster.kubectl(env, "apply", "-f", str(repo / "crds"))
            cluster.kubectl(env, "wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
            cluster.kubectl(env, "apply", "-f", "-", input=manifests(args.policies, args.namespaces))
            liveness, metrics_port = free_ports(2)
            environ = {**os.environ, "KUBECONFIG": str(env.kubeconfig), "PROMETHEUS_URL": env.prometheus_url,
                       "THRIFTY_PROMETHEUS_SCRAPE_INTERVAL": "5"}  # fmt: skip
            log = open(Path(scratch) / "operator.log", "wb")  # noqa: SIM115 - lives as long as the operator
            operator = subprocess.Popen(
                [sys.executable, "-m", "thrifty.cli", "run", f"--liveness=http://127.0.0.1:{liveness}/healthz",
                 f"--metrics-port={metrics_port}"],
                stdout=log, stderr=subprocess.STDOUT, env=environ,
            )  # fmt: skip
            started = time.monotonic()
            while not http_ok(f"http://127.0.0.1:{liveness}/healthz"):
                time.sleep(0.5)
            ready_after = None
            while time.monotonic() - started < args.ready_timeout:
                if ready_count(env) >= args.policies:
                    ready_after = time.monotonic() - started
                    break
                time.sleep(5)
            before = apiserver_counts(env), operator_queries(metrics_port), cpu_seconds(operator.pid)
            time.sleep(args.minutes * 60)
            after = apiserver_counts(env), operator_queries(metrics_port), cpu_seconds(operator.pid)
            result: dict[str, Any] = {
                "policies": args.policies,
                "namespaces": args.namespaces,
                "seconds_until_all_ready": None if ready_after is None else round(ready_after, 1),
                "ready_at_end": ready_count(env),
                "minutes_measured": args.minutes,
                "status_patches_per_minute": round(
                    (after[0]["status_patches"] - before[0]["status_patches"]) / args.minutes, 1
                ),
                "events_per_minute": round(
                    (after[0]["event_creates"] - before[0]["event_creates"]) / args.minutes, 1
                ),
                "prometheus_queries_per_minute": round((after[1] - before[1]) / args.minutes, 1),
                "operator_cpu_seconds_per_minute": round((after[2] - before[2]) / args.minutes, 2),
                "operator_rss_mb": round(rss_mb(operator.pid), 1),
                "status_refresh_seconds": float(os.environ.get("THRIFTY_STATUS_REFRESH_SECONDS", "300")),
            }
            operator.terminate()
            operator.wait(timeout=60)
        finally:
            cluster.down(state, progress=lambda _: None)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
