"""`thrifty run`: the operator in the foreground, against the current kubeconfig or in-cluster config."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import kopf


def run(namespaces: Sequence[str], liveness: str, verbose: bool) -> int:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from thrifty.handlers import operator  # noqa: F401  (registers the handlers)

    kopf.run(
        clusterwide=not namespaces,
        namespaces=list(namespaces),
        liveness_endpoint=liveness,
    )
    return 0
