"""The `thrifty` command: run the operator, write the CRDs, drive the local sandbox."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="thrifty",
        description="Cost-aware scaling and right-sizing for Kubernetes.",
    )
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
    run.add_argument("--verbose", action="store_true", help="log at debug level")

    crds = commands.add_parser(
        "crds", help="write the CustomResourceDefinitions generated from the API models"
    )
    crds.add_argument("--out", default="crds", help="directory to write into (default: %(default)s)")

    from thrifty.sandbox import command as sandbox_command

    sandbox_command.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    if args.command == "run":
        from thrifty.handlers import runner

        return runner.run(
            namespaces=args.namespace,
            liveness=args.liveness,
            verbose=args.verbose,
            metrics_port=args.metrics_port,
            prometheus_url=args.prometheus_url,
        )
    if args.command == "crds":
        from pathlib import Path

        from thrifty.api import crdgen

        for path in crdgen.write_crds(Path(args.out)):
            print(f"wrote {path}")
        return 0
    if args.command == "sandbox":
        from thrifty.sandbox import command as sandbox_command

        return sandbox_command.run(args)
    raise AssertionError(f"unhandled command {args.command}")


if __name__ == "__main__":
    sys.exit(main())
