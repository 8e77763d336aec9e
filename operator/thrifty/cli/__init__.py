"""The `thrifty` command: run the operator, write the CRDs, drive the local sandbox."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from importlib import metadata

__all__ = ["main"]


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="thrifty",
        description="Cost-aware scaling and right-sizing for Kubernetes.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the operator against the current kubeconfig")
    run.add_argument(
        "--namespace",
        action="append",
        default=[],
        help="watch only this namespace (repeatable); default: the whole cluster",
    )
    run.add_argument(
        "--liveness",
        default="http://0.0.0.0:8080/healthz",
        help="liveness endpoint URL (default: %(default)s)",
    )
    run.add_argument(
        "--metrics-port",
        type=int,
        default=8081,
        help="port of the Prometheus /metrics endpoint, 0 to disable (default: %(default)s)",
    )
    run.add_argument(
        "--prometheus-url",
        default=None,
        help="Prometheus that scrapes the cluster (default: $PROMETHEUS_URL); auth and metric names are "
        "set with THRIFTY_PROMETHEUS_* and THRIFTY_METRIC_* variables",
    )
    run.add_argument(
        "--leader-elect",
        action="store_true",
        help="run as one of several replicas: act only while holding the Lease 'thrifty' (the others "
        "wait and take over within 30 s)",
    )
    run.add_argument(
        "--leader-election-namespace",
        default=os.environ.get("POD_NAMESPACE", "default"),
        help="namespace of the Lease (default: $POD_NAMESPACE, else %(default)s)",
    )
    run.add_argument(
        "--webhook-port",
        type=int,
        default=None,
        help="port of the pod placement webhook, 0 to serve none (default: $THRIFTY_WEBHOOK_PORT, else 9443)",
    )
    run.add_argument(
        "--webhook-address",
        default=None,
        help="address the webhook listens on (default: $THRIFTY_WEBHOOK_ADDRESS, else 127.0.0.1)",
    )
    run.add_argument(
        "--webhook-host",
        default=None,
        help="host the API server calls the webhook by (default: $THRIFTY_WEBHOOK_HOST, else the address)",
    )
    run.add_argument(
        "--webhook-cert-dir",
        default=None,
        help="directory with tls.crt and tls.key (and ca.crt) for the webhook; default: "
        "$THRIFTY_WEBHOOK_CERT_DIR, else a self-signed certificate made at start",
    )
    run.add_argument(
        "--webhook-configuration",
        choices=("write", "none"),
        default=None,
        help="write: the operator writes the MutatingWebhookConfiguration thrifty-pod-placement itself; "
        "none: the installer does (default: $THRIFTY_WEBHOOK_CONFIGURATION, else write)",
    )
    run.add_argument("--verbose", action="store_true", help="log at debug level")

    recommend = commands.add_parser(
        "recommend", help="right-sizing recommendations for every workload, once, without the operator"
    )
    recommend.add_argument(
        "--namespace",
        "-n",
        action="append",
        default=[],
        help="namespace to scan (repeatable); default: every namespace",
    )
    recommend.add_argument("--format", "-o", choices=("table", "json", "yaml", "csv"), default="table")
    recommend.add_argument("--prometheus-url", default=None, help="default: $PROMETHEUS_URL")
    recommend.add_argument(
        "--history-days", type=float, default=14.0, help="usage history to size from (default: %(default)s)"
    )
    recommend.add_argument(
        "--cost-policy",
        default=None,
        metavar="FILE",
        help="a CostPolicy manifest whose prices to use (default: OpenCost's defaults)",
    )

    crds = commands.add_parser(
        "crds", help="write the CustomResourceDefinitions generated from the API models"
    )
    crds.add_argument("--out", default="crds", help="directory to write into (default: %(default)s)")

    from thrifty.cli import simulate_command
    from thrifty.sandbox import command as sandbox_command

    simulate_command.register(commands)
    sandbox_command.register(commands)
    return parser


def _version() -> str:
    try:
        return metadata.version("thrifty")
    except metadata.PackageNotFoundError:
        # Run from a source tree on PYTHONPATH, never installed: there is no metadata to read.
        return "unknown"


_WEBHOOK_FLAGS = {
    "webhook_port": "THRIFTY_WEBHOOK_PORT",
    "webhook_address": "THRIFTY_WEBHOOK_ADDRESS",
    "webhook_host": "THRIFTY_WEBHOOK_HOST",
    "webhook_cert_dir": "THRIFTY_WEBHOOK_CERT_DIR",
    "webhook_configuration": "THRIFTY_WEBHOOK_CONFIGURATION",
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    if args.command == "run":
        # The one way into the operator: the other commands use only the engine and sources.
        from thrifty.handlers import runner

        for flag, variable in _WEBHOOK_FLAGS.items():
            value = getattr(args, flag)
            if value is not None:
                # Handlers read their settings from the environment, as in a cluster.
                os.environ[variable] = str(value)
        return runner.run(
            namespaces=args.namespace,
            liveness=args.liveness,
            verbose=args.verbose,
            metrics_port=args.metrics_port,
            prometheus_url=args.prometheus_url,
            leader_election=(
                runner.LeaderElection(args.leader_election_namespace) if args.leader_elect else None
            ),
        )
    if args.command == "recommend":
        from thrifty.cli import recommend_command

        return recommend_command.run(
            args.namespace, args.format, args.prometheus_url, args.history_days, args.cost_policy
        )
    if args.command == "crds":
        from pathlib import Path

        from thrifty.api import crdgen

        for path in crdgen.write_crds(Path(args.out)):
            print(f"wrote {path}")
        return 0
    if args.command == "simulate":
        from thrifty.cli import simulate_command

        return simulate_command.run(args)
    if args.command == "sandbox":
        from thrifty.sandbox import command as sandbox_command

        return sandbox_command.run(args)
    raise AssertionError(f"unhandled command {args.command}")
