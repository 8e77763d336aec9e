"""`thrifty run` as a child process against a benchmark's own sandbox, with its log in a file."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from thrifty.sandbox.cluster import SandboxEnv
from thrifty.sandbox.readiness import free_ports, http_ok

# A diagnosis wrapper around `thrifty run`, and the variable that names the file it writes.
DIAGNOSES = {
    "memory": (Path(__file__).with_name("traced_operator.py"), "THRIFTY_TRACE_FILE"),
    "stacks": (Path(__file__).with_name("sampled_operator.py"), "THRIFTY_SAMPLE_FILE"),
}


class Operator:
    def __init__(
        self,
        env: SandboxEnv,
        log: Path,
        extra_env: Mapping[str, str] | None = None,
        diagnosis: tuple[str, Path] | None = None,
    ) -> None:
        """``diagnosis``: ("memory", file) runs it under tracemalloc, ("stacks", file) under a stack
        sampler, each writing what it found to the file."""
        self.env, self.log, self.extra_env = env, log, dict(extra_env or {})
        self.diagnosis = diagnosis
        self.proc: subprocess.Popen[bytes] | None = None
        self.metrics_port = 0

    def start(self, wait_live: bool = True) -> Operator:
        liveness, self.metrics_port, webhook = free_ports(3)
        environ = {
            **os.environ,
            "KUBECONFIG": str(self.env.kubeconfig),
            "PROMETHEUS_URL": self.env.prometheus_url,
            "THRIFTY_PROMETHEUS_SCRAPE_INTERVAL": "5",
            "PYTHONMALLOC": "malloc",  # as the image runs it (see the Dockerfile)
            **self.extra_env,
        }
        program = ["-m", "thrifty.cli"]
        if self.diagnosis is not None:
            kind, written_to = self.diagnosis
            wrapper, variable = DIAGNOSES[kind]
            program, environ[variable] = [str(wrapper)], str(written_to)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, *program, "run", f"--liveness=http://127.0.0.1:{liveness}/healthz",
                 f"--metrics-port={self.metrics_port}", f"--webhook-port={webhook}"],
                stdout=out, stderr=subprocess.STDOUT, env=environ,
            )  # fmt: skip
        while wait_live and not http_ok(f"http://127.0.0.1:{liveness}/healthz"):
            time.sleep(0.2)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=60)
