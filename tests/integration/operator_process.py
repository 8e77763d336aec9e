"""`thrifty run` as a real process against the sandbox, the way a user starts it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from conftest import kubectl
from thrifty.sandbox.cluster import SandboxEnv
from thrifty.sandbox.readiness import free_ports, http_ok

RESYNC_SECONDS = 2


class OperatorProcess:
    def __init__(
        self,
        env: SandboxEnv,
        log: Path,
        resync_seconds: float = RESYNC_SECONDS,
        extra_env: Mapping[str, str] | None = None,
        namespaces: Sequence[str] = (),
    ) -> None:
        """``extra_env`` adds variables (e.g. THRIFTY_EVALUATION_SECONDS); ``namespaces`` passes
        ``--namespace`` for each (default: the whole cluster)."""
        self.env = env
        self.log = log
        self.resync_seconds = resync_seconds
        self.extra_env = dict(extra_env or {})
        self.namespaces = tuple(namespaces)
        self.port, self.metrics_port = free_ports(2)
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
                    *(f"--namespace={namespace}" for namespace in self.namespaces),
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


def get(env: SandboxEnv, *args: str) -> dict[str, Any]:
    """`kubectl get ... -o json` as a dict."""
    document: dict[str, Any] = json.loads(kubectl(env, "get", *args, "-o", "json").stdout)
    return document


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    for item in obj.get("status", {}).get("conditions", []):
        if item["type"] == kind:
            return dict(item)
    return {}


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
