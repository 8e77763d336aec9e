"""Benchmark: SIGKILL the operator at random points while an Apply-mode policy scales. Prints JSON,
asserts nothing.

    python tests/benchmarks/operator_kills.py --kills 50

Starts its own sandbox, one Deployment whose live CPU asks for --target replicas and a policy that
adds one pod per --period seconds, then kills `thrifty run` --kills times, each after a random
time, restarting it at once. A thread records every value of the Deployment's replicas and of the
policy's lastAction. Reported: the kills, the scale steps the Deployment took and the actions
status recorded, the steps lost (in the Deployment, never in status) and repeated (an action done
twice shows as a step of more than one pod, or more steps than the target needs), the shortest gap
between two scales against the period, and the end state against an uninterrupted run's (--target).
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from kubernetes import config
from operator_launch import Operator
from scale_recorder import ScaleRecorder

from thrifty.sandbox import cluster

NS = "kills"


def manifests(target: int, period: int) -> str:
    # 500m requests at 50% utilization: target x 0.3 cores is 1.2x the target at target - 1 pods, past
    # the HPA's 10% tolerance, so an uninterrupted run climbs to maxReplicas = target and stops there.
    return f"""
apiVersion: v1
kind: Namespace
metadata: {{name: {NS}}}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: scaled
  namespace: {NS}
  annotations: {{sandbox.thrifty.dev/cpu: "{target * 0.3:.2f}"}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: scaled}}}}
  template:
    metadata: {{labels: {{app: scaled}}}}
    spec:
      containers:
      - name: app
        image: registry.example/app:1
        resources: {{requests: {{cpu: 500m, memory: 64Mi}}}}
---
apiVersion: thrifty.dev/v1alpha1
kind: ScalingPolicy
metadata: {{name: scaled, namespace: {NS}}}
spec:
  targetRef: {{kind: Deployment, name: scaled}}
  mode: Apply
  horizontal:
    minReplicas: 1
    maxReplicas: {target}
    metrics: [{{type: CPU, targetUtilization: 50}}]
    behavior:
      scaleUp: {{policies: [{{type: Pods, value: 1, periodSeconds: {period}}}]}}
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--target", type=int, default=30)
    parser.add_argument("--period", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    repo = Path(__file__).resolve().parents[2]
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="thrifty-kills-") as scratch:
        state = Path(scratch) / "sandbox"
        env = cluster.up(state, spot_nodes=0, on_demand_nodes=2, progress=lambda m: print(m, file=sys.stderr))
        try:
            cluster.kubectl(env, "apply", "-f", str(repo / "crds"))
            cluster.kubectl(env, "wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
            cluster.kubectl(env, "apply", "-f", "-", input=manifests(args.target, args.period))
            api = config.new_client_from_config(str(env.kubeconfig))
            recorder = ScaleRecorder(api, NS, "scaled")
            log = Path(scratch) / "operator.log"
            extra = {"THRIFTY_HORIZONTAL_SYNC_SECONDS": "2", "THRIFTY_RESYNC_SECONDS": "2"}
            operator = Operator(env, log, extra).start()
            recorder.start()
            started = time.monotonic()
            for kill in range(args.kills):
                time.sleep(rng.uniform(1.0, args.period))
                operator.kill()
                print(f"kill {kill + 1}/{args.kills}: {recorder.replicas[-1][0]} replicas", file=sys.stderr)
                operator = Operator(env, log, extra).start()
            deadline = time.monotonic() + 30 * args.period + 120
            while time.monotonic() < deadline and (
                (recorder.actions[-1:] or [{}])[0].get("to") != str(args.target)
            ):
                time.sleep(1)
            time.sleep(3 * args.period)  # anything repeated late shows up here
            recorder.stop()
            operator.stop()
            counts = [n for n, _ in recorder.replicas]
            steps = list(itertools.pairwise(counts))
            recorded = [(int(a["from"]), int(a["to"])) for a in recorder.actions]
            gaps = [b[1] - a[1] for a, b in itertools.pairwise(recorder.replicas)]
            result: dict[str, Any] = {
                "kills": args.kills,
                "seconds": round(time.monotonic() - started, 1),
                "target_replicas": args.target,
                "end_replicas": counts[-1],
                "scale_steps_seen": len(steps),
                "actions_recorded": len(recorded),
                "steps_lost": sum(step not in recorded for step in steps),
                "steps_of_more_than_one_pod": sum(b - a != 1 for a, b in steps),
                "actions_not_seen_in_the_deployment": sum(action not in steps for action in recorded),
                "shortest_gap_between_scales_seconds": round(min(gaps[1:], default=0.0), 1),
                "period_seconds": args.period,
                "tracebacks_in_log": log.read_text(errors="replace").count("Traceback"),
            }
        finally:
            cluster.down(state, progress=lambda _: None)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
