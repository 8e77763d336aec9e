"""Session fixtures: one real sandbox (kube-apiserver, controllers, KWOK, Prometheus) for all tests.

The sandbox lives in its own state directory, so a developer's `make demo` sandbox is untouched.
Only fixtures live here; what tests import (kubectl, polling, the operator process) is in
sandbox_helpers, since `conftest` names two modules (this one and tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client, config
from sandbox_helpers import REPO, kubectl

from thrifty.sandbox import cluster
from thrifty.sandbox.cluster import SandboxEnv
from thrifty.sandbox.demo_data import load_trace_history


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxEnv]:
    state_dir = tmp_path_factory.mktemp("sandbox")
    env = cluster.up(state_dir, spot_nodes=3, on_demand_nodes=2)
    try:
        yield env
    finally:
        cluster.down(state_dir, progress=lambda _: None)


@pytest.fixture(scope="session")
def api_client(sandbox: SandboxEnv) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(sandbox.kubeconfig))


@pytest.fixture(scope="session")
def crds_installed(sandbox: SandboxEnv) -> None:
    kubectl(sandbox, "apply", "-f", str(REPO / "crds"))
    kubectl(sandbox, "wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")


@pytest.fixture(scope="session")
def demo_history(sandbox: SandboxEnv) -> None:
    """The example workload (namespace demo) with a day of real-trace history, as `make demo` gives it."""
    kubectl(sandbox, "apply", "-f", str(REPO / "examples" / "00-workload.yaml"))
    kubectl(sandbox, "rollout", "status", "deployment/web", "-n", "demo", "--timeout=120s")
    load_trace_history(sandbox.state_dir, "demo", "alibaba2018", history_days=1, progress=lambda _: None)
    # The live load `make demo` sets, so horizontal scaling has a reading after the history ends.
    kubectl(sandbox, "annotate", "deployment/web", "-n", "demo", "sandbox.thrifty.dev/cpu=1.2", "--overwrite")
