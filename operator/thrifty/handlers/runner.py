"""`thrifty run`: the operator in the foreground, against the current kubeconfig or in-cluster config."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field

import prometheus_client

from thrifty.engine.leader_lease import LeaseTiming
from thrifty.handlers import process_heap
from thrifty.handlers.leader_election import leading
from thrifty.handlers.operator_loop import run_operator


def run(
    namespaces: Sequence[str],
    liveness: str,
    verbose: bool,
    metrics_port: int = 8081,
    prometheus_url: str | None = None,
    leader_election: LeaderElection | None = None,
) -> int:
    process_heap.settle()  # before any thread allocates (the metrics server's too)
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if prometheus_url:
        # Handlers read their settings from the environment, like an in-cluster deployment does.
        os.environ["PROMETHEUS_URL"] = prometheus_url
    if metrics_port:
        prometheus_client.start_http_server(metrics_port)
        logging.getLogger(__name__).info("metrics on :%d/metrics", metrics_port)
    from thrifty.handlers import registry  # noqa: F401  (registers the handlers)

    if leader_election is None:
        run_operator(clusterwide=not namespaces, namespaces=list(namespaces), liveness_endpoint=liveness)
        return 0
    e = leader_election
    with leading(e.namespace, e.name, e.identity, liveness, LeaseTiming()):
        run_operator(clusterwide=not namespaces, namespaces=list(namespaces), liveness_endpoint=liveness)
    return 0


@dataclass(frozen=True)
class LeaderElection:
    """The Lease that picks the one active replica."""

    namespace: str
    name: str = "thrifty"
    # The pod's name in a cluster (the Downward API's POD_NAME), else host and process.
    identity: str = field(
        default_factory=lambda: os.environ.get("POD_NAME") or f"{socket.gethostname()}-{os.getpid()}"
    )
