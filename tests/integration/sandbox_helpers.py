"""What integration tests share besides fixtures: kubectl, polling, `thrifty run` as a real process
against the sandbox (the way a user starts it), and reading what that process logged and counted.

Fixtures live in conftest.py; tests import everything else from here, never from conftest.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from prometheus_client.parser import text_string_to_metric_families

from thrifty.sandbox import cluster
from thrifty.sandbox.cluster import SandboxEnv
from thrifty.sandbox.readiness import free_ports, http_ok

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
RESYNC_SECONDS = 2

T = TypeVar("T")


# ----------------------------------------------------------------------------- kubectl and polling


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


# ----------------------------------------------------------------------------- the operator process


def quick_reads(evaluation_seconds: int = 10) -> dict[str, str]:
    """Operator settings that read soon enough for a test: usage every ``evaluation_seconds``,
    replicas decided every 3 s, at the sandbox's 5 s scrape interval."""
    return {
        "THRIFTY_EVALUATION_SECONDS": str(evaluation_seconds),
        "THRIFTY_HORIZONTAL_SYNC_SECONDS": "3",
        "THRIFTY_PROMETHEUS_SCRAPE_INTERVAL": "5",
    }


class OperatorProcess:
    def __init__(
        self,
        env: SandboxEnv,
        log: Path,
        resync_seconds: float = RESYNC_SECONDS,
        extra_env: Mapping[str, str] | None = None,
        namespaces: Sequence[str] = (),
        extra_args: Sequence[str] = (),
    ) -> None:
        """``extra_env`` adds variables (e.g. THRIFTY_EVALUATION_SECONDS); ``namespaces`` passes
        ``--namespace`` for each (default: the whole cluster); ``extra_args`` go to `thrifty run`."""
        self.env = env
        self.log = log
        self.resync_seconds = resync_seconds
        self.extra_env = dict(extra_env or {})
        self.namespaces = tuple(namespaces)
        self.extra_args = tuple(extra_args)
        self.port, self.metrics_port, self.webhook_port = free_ports(3)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> OperatorProcess:
        environ = {
            **os.environ,
            "KUBECONFIG": str(self.env.kubeconfig),
            "PROMETHEUS_URL": self.env.prometheus_url,
            "THRIFTY_RESYNC_SECONDS": str(self.resync_seconds),
            **self.extra_env,
        }
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "thrifty.cli",
                    "run",
                    f"--liveness=http://127.0.0.1:{self.port}/healthz",
                    f"--metrics-port={self.metrics_port}",
                    f"--webhook-port={self.webhook_port}",
                    *(f"--namespace={namespace}" for namespace in self.namespaces),
                    *self.extra_args,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=environ,
            )
        deadline = time.monotonic() + 60
        while not http_ok(f"http://127.0.0.1:{self.port}/healthz"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the operator did not come up:\n{self.tail()}")
            time.sleep(0.2)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        """SIGKILL: the operator stops wherever it is, as on an OOM kill or a node loss."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self) -> OperatorProcess:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


# ----------------------------------------------------------------------------- objects


def get(env: SandboxEnv, *args: str) -> dict[str, Any]:
    """`kubectl get ... -o json` as a dict."""
    document: dict[str, Any] = json.loads(kubectl(env, "get", *args, "-o", "json").stdout)
    return document


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    for item in obj.get("status", {}).get("conditions", []):
        if item["type"] == kind:
            return dict(item)
    return {}


def deployment_manifest(
    name: str,
    namespace: str,
    replicas: int,
    annotations: Mapping[str, str] | None = None,
    memory: str = "256Mi",
    node_selector: Mapping[str, str] | None = None,
    cpu: str = "500m",
) -> str:
    """A one-container Deployment labelled ``app: name``, requesting ``cpu`` and ``memory``; the
    sandbox's load annotations (``sandbox.thrifty.dev/cpu``...) go in ``annotations``."""
    notes = json.dumps(dict(annotations or {}))
    selector = f"\n      nodeSelector: {json.dumps(dict(node_selector))}" if node_selector else ""
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: {namespace}, labels: {{app: {name}}}, annotations: {notes}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:{selector}
      containers:
      - name: {name}
        image: registry.example/{name}:1
        resources: {{requests: {{cpu: "{cpu}", memory: {memory}}}}}
"""


def scaling_policy_manifest(
    name: str,
    namespace: str,
    min_replicas: int = 1,
    priority: int = 0,
    behavior: str = "{}",
    metrics: str = "[{type: CPU, targetUtilization: 50}]",
) -> str:
    """An Apply-mode ScalingPolicy on Deployment ``name``: CPU at 50%, 1..10 replicas by default."""
    return f"""
apiVersion: thrifty.dev/v1alpha1
kind: ScalingPolicy
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  targetRef: {{kind: Deployment, name: {name}}}
  mode: Apply
  priority: {priority}
  horizontal:
    minReplicas: {min_replicas}
    maxReplicas: 10
    metrics: {metrics}
    behavior: {behavior}
"""


def placed_policy_manifest(app: str, namespace: str, disruption: str, placement: str = "") -> str:
    """A PodDisruptionBudget (``disruption``, e.g. "minAvailable: 90%") and an Apply-mode ScalingPolicy
    that right-sizes Deployment ``app``: without usage history it changes no request, so what it does
    is place the pods. ``placement``: an indented ``spec.placement`` line, if any."""
    return f"""apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {{name: {app}, namespace: {namespace}}}
spec:
  {disruption}
  selector: {{matchLabels: {{app: {app}}}}}
---
apiVersion: thrifty.dev/v1alpha1
kind: ScalingPolicy
metadata: {{name: {app}, namespace: {namespace}}}
spec:
  targetRef: {{kind: Deployment, name: {app}}}
  mode: Apply
  vertical: {{containers: [{app}]}}
{placement}"""


def apply(env: SandboxEnv, manifest: str) -> None:
    kubectl(env, "apply", "-f", "-", input=manifest)


def wait_for(
    what: str,
    check: Callable[[], bool],
    timeout: float,
    operator: OperatorProcess,
    show: Callable[[], Any] | None = None,
) -> None:
    """Poll until ``check`` holds; the timeout is a deadline for an eventual state, not a benchmark."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    state = f"\nlast seen: {json.dumps(show(), indent=1)}" if show else ""
    raise AssertionError(f"{what}: not within {timeout:.0f} s{state}\noperator log:\n{operator.tail()}")


# ------------------------------------------------------------------ what the operator logged and counted


def usage_rounds_logged(operator: OperatorProcess, namespace: str) -> list[int]:
    """Queries of each usage batch the operator logged that covers ``namespace``, oldest first.

    The operator reads the usage of every namespace with a policy in one batch per evaluation round
    and logs it as "usage of namespaces A, B: N Prometheus queries for ...", so each line is one
    round, however long it took.
    """
    return _batches_logged(operator, namespace, "Prometheus queries for ")


def usage_failures_logged(operator: OperatorProcess, namespace: str) -> list[int]:
    """Queries of each usage batch that failed part-way (Prometheus timed out or refused a query under
    load), logged as "usage of namespaces A, B: N Prometheus queries, then failed: ...": they are on
    /metrics too."""
    return _batches_logged(operator, namespace, "Prometheus queries, then failed")


def _batches_logged(operator: OperatorProcess, namespace: str, then: str) -> list[int]:
    pattern = re.compile(rf"usage of namespaces ([^:\n]*): (\d+) {re.escape(then)}")
    return [
        int(m.group(2))
        for m in pattern.finditer(operator.log.read_text(errors="replace"))
        if namespace in m.group(1).split(", ")
    ]


@dataclass(frozen=True)
class RoundLogged:
    policies: int
    status_writes: int
    busy: int
    queries: int


def evaluation_rounds_logged(operator: OperatorProcess) -> list[RoundLogged]:
    """Each evaluation round the operator logged ("evaluation round N: P policies (W status writes,
    B busy, F failed), Q Prometheus queries, S s"), oldest first."""
    pattern = re.compile(
        r"evaluation round \d+: (\d+) policies \((\d+) status writes, (\d+) busy, \d+ failed\), "
        r"(\d+) Prometheus queries"
    )
    text = operator.log.read_text(errors="replace")
    return [RoundLogged(*(int(g) for g in m.groups())) for m in pattern.finditer(text)]


def usage_batches_logged(operator: OperatorProcess) -> list[set[str]]:
    """The namespaces of each usage batch the operator logged, oldest first."""
    pattern = re.compile(r"usage of namespaces ([^:\n]*): \d+ Prometheus queries for ")
    return [set(m.group(1).split(", ")) for m in pattern.finditer(operator.log.read_text(errors="replace"))]


def budget_rounds_logged(operator: OperatorProcess, budget: str) -> list[int]:
    """Queries of each spend batch the operator logged for the ResourceBudget ``budget`` (one a round)."""
    pattern = re.compile(rf"budget {re.escape(budget)}: (\d+) Prometheus queries for ")
    return [int(m.group(1)) for m in pattern.finditer(operator.log.read_text(errors="replace"))]


def queries_sent(operator: OperatorProcess, metrics: Collection[str]) -> float:
    """thrifty_prometheus_queries_total from the operator's /metrics, summed over the ``metric`` labels
    given (what a query read, e.g. cpu_usage)."""
    with urllib.request.urlopen(operator.metrics_url, timeout=10) as response:
        text = response.read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "thrifty_prometheus_queries_total" and sample.labels.get("metric") in metrics
    )
