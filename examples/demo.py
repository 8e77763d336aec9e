"""`make demo`: a sandbox, the CRDs, the examples with a real trace as their history, the operator,
and what it decided, shown with kubectl. `make demo-down` stops it all."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from thrifty.sandbox import cluster, processes
from thrifty.sandbox.demo_data import load_trace_history
from thrifty.sandbox.paths import default_state_dir
from thrifty.sandbox.readiness import free_ports, http_ok, wait_until

REPO = Path(__file__).resolve().parents[1]
KINDS = "costpolicies,resourcebudgets,scalingpolicies"


def say(message: str) -> None:
    print(message, flush=True)


def kubectl(env: cluster.SandboxEnv, *args: str) -> str:
    result = cluster.kubectl(env, *args, check=False)
    if result.returncode != 0:
        sys.exit(f"kubectl {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


def all_ready(env: cluster.SandboxEnv) -> bool:
    """Every resource Ready, and the ScalingPolicy's replicas decided by the operator just started on
    a whole reading of the live load (not one of a pod too young for two rate windows)."""
    items = json.loads(kubectl(env, "get", KINDS, "-A", "-o", "json"))["items"]
    decided = all(
        (i.get("status", {}).get("recommendation") or {}).get("replicas") is not None
        and any(
            c["type"] == "MetricsAvailable" and c.get("reason") == "MetricsRead"
            for c in i.get("status", {}).get("conditions", [])
        )
        for i in items
        if i["kind"] == "ScalingPolicy"
    )
    return (
        bool(items)
        and decided
        and all(
            any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in i.get("status", {}).get("conditions", [])
            )
            for i in items
        )
    )


def start_operator(env: cluster.SandboxEnv) -> None:
    if processes.pid_of("operator", env.state_dir) is not None:
        processes.stop("operator", env.state_dir)
    port, metrics_port = free_ports(2)
    started = processes.start(
        "operator",
        [
            sys.executable,
            "-m",
            "thrifty.cli",
            "run",
            f"--liveness=http://127.0.0.1:{port}/healthz",
            f"--metrics-port={metrics_port}",
        ],
        env.state_dir,
        env={
            "KUBECONFIG": str(env.kubeconfig),
            "PROMETHEUS_URL": env.prometheus_url,
            # The sandbox scrapes its live pod metrics every 5 s: rate windows can be that short.
            "THRIFTY_PROMETHEUS_SCRAPE_INTERVAL": "5",
        },
    )
    wait_until(
        "the operator",
        lambda: http_ok(f"http://127.0.0.1:{port}/healthz"),
        60,
        started.log,
        alive=lambda: processes.is_running(started.pid),
    )
    say(f"==> operator running (pid {started.pid}); log: {started.log}")
    say(f"    metrics: http://127.0.0.1:{metrics_port}/metrics")


def up() -> None:
    state_dir = default_state_dir()
    say("==> sandbox: etcd, kube-apiserver, controller-manager, scheduler, KWOK nodes, Prometheus")
    env = cluster.up(state_dir, progress=say)
    say("==> CRDs")
    kubectl(env, "apply", "-f", str(REPO / "crds"))
    kubectl(env, "wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
    say("==> examples: namespace demo, Deployment web, CostPolicy, ResourceBudget, ScalingPolicy")
    kubectl(env, "apply", "-f", str(REPO / "examples"))
    kubectl(env, "rollout", "status", "deployment/web", "-n", "demo", "--timeout=120s")
    marker = state_dir / "demo-history-loaded"
    if not marker.exists():
        say("==> history: the real alibaba2018 trace replayed as the pods' CPU and memory in Prometheus")
        load_trace_history(state_dir, "demo", "alibaba2018", history_days=14, progress=say)
        marker.touch()
    say("==> live load: web uses 1.2 cores in all, spread over its pods (the sandbox's live pod metrics)")
    kubectl(env, "annotate", "deployment/web", "-n", "demo", "sandbox.thrifty.dev/cpu=1.2", "--overwrite")
    start_operator(env)
    started = time.monotonic()
    # The live CPU rate needs a few scrapes (5 s apart) of counters that start at zero with the sandbox.
    while (time.monotonic() - started < 30 or not all_ready(env)) and time.monotonic() - started < 180:
        time.sleep(0.5)
    say(f"\n$ kubectl get {KINDS} -A")
    say(kubectl(env, "get", KINDS, "-A"))
    conditions = '{range .status.conditions[*]}{.type}={.status} ({.reason}): {.message}{"\\n"}{end}'
    say("$ kubectl get scalingpolicy web -n demo -o jsonpath=<conditions>")
    say(kubectl(env, "get", "scalingpolicy", "web", "-n", "demo", "-o", f"jsonpath={conditions}"))
    for field in ("placement", "cost"):
        say(f"$ kubectl get scalingpolicy web -n demo -o jsonpath='{{.status.{field}}}'")
        say(kubectl(env, "get", "scalingpolicy", "web", "-n", "demo", "-o", f"jsonpath={{.status.{field}}}"))
    say("Use it yourself:")
    for line in env.lines():
        say(f"  export {line}")
    say(f"  export PATH={env.path_with_tools('$PATH')}   # kubectl and helm matching the API server")
    say("  kubectl get thrifty -A")
    say("Stop everything with: make demo-down")


def down() -> None:
    stopped = cluster.down(default_state_dir(), progress=say)
    say(f"==> stopped {len(stopped)} processes")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--down", action="store_true", help="stop the demo's operator and sandbox")
    down() if parser.parse_args().down else up()
