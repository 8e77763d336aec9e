"""`thrifty run`: the operator in the foreground, against the current kubeconfig or in-cluster config."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import kopf
import prometheus_client


def run(
    namespaces: Sequence[str],
    liveness: str,
    verbose: bool,
    metrics_port: int = 8081,
    prometheus_url: str | None = None,
) -> int:
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

    kopf.run(
        clusterwide=not namespaces,
        namespaces=list(namespaces),
        liveness_endpoint=liveness,
    )
    return 0
