"""Session fixtures: one real sandbox (kube-apiserver, controllers, KWOK, Prometheus) for all tests.

The sandbox lives in its own state directory, so a developer's `make demo` sandbox is untouched.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from kubernetes import client, config

from thrifty.sandbox import cluster
from thrifty.sandbox.cluster import SandboxEnv
from thrifty.sandbox.demo_data import load_trace_history

REPO = Path(__file__).resolve().parents[2]
# OpenCost's default prices per vCPU-hour and GiB-hour by the capacity type of a pod's node, and a
# CostPolicy `default` that spells them out (the example's has a catalog, which prices otherwise).
OPENCOST_RATES = {"spot": (0.006655, 0.000892), "on-demand": (0.031611, 0.004237)}
OPENCOST_COST_POLICY = """
apiVersion: thrifty.dev/v1alpha1
kind: CostPolicy
metadata: {name: default}
spec:
  pricing:
    onDemand: {cpu: 0.031611, memory: 0.004237}
    spot: {cpu: 0.006655, memory: 0.000892}
"""

T = TypeVar("T")


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


def kubectl(
    env: SandboxEnv, *args: str, check: bool = True, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """The sandbox's own kubectl (same version as its API server)."""
    result = cluster.kubectl(env, *args, check=False, input=input)
    if check and result.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result


def sandbox_environ(env: SandboxEnv) -> dict[str, str]:
    return {**os.environ, "KUBECONFIG": str(env.kubeconfig), "PROMETHEUS_URL": env.prometheus_url}


def eventually(what: str, check: Callable[[], T | None], timeout: float, interval: float = 0.5) -> T:
    """Poll ``check`` until it returns something truthy (returned) or ``timeout`` seconds pass.

    ``timeout`` is a limit for an eventual state, not a benchmark: nothing asserts how fast it is.
    """
    deadline = time.monotonic() + timeout
    last: T | None = None
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s (last seen: {last!r:.2000})")
        time.sleep(interval)


def parse_table(text: str) -> list[dict[str, str]]:
    """Rows of one table as kubectl prints it, keyed by header, cells cut at the header's columns.

    Cutting at column offsets (not at whitespace) keeps empty cells from shifting the others.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return []
    header = lines[0]
    names = header.split()
    starts: list[int] = []
    position = 0
    for name in names:
        position = header.index(name, position)
        starts.append(position)
        position += len(name)
    bounds = [*starts[1:], None]
    return [
        {name: line[start:end].strip() for name, start, end in zip(names, starts, bounds, strict=True)}
        for line in lines[1:]
    ]
