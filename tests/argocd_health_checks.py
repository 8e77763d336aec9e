"""Thrifty's Argo CD health checks run as Argo CD runs them: `tests/argocd_health` is a small Go
command on gopher-lua, the interpreter Argo CD embeds, with Argo CD's libraries, conversion of the
object and reading of the result. Unit and integration tests share it.

The command is built with `go build` on first use and cached by the hash of its sources, under the
same cache as the sandbox's binaries.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final, Literal

from thrifty.sandbox.paths import cache_root

REPO: Final = Path(__file__).resolve().parents[1]
TOOL_SOURCE: Final = REPO / "tests" / "argocd_health"
ARGOCD_EXAMPLES: Final = REPO / "examples" / "argocd"
HEALTH_SCRIPTS: Final = ARGOCD_EXAMPLES / "health"
ARGOCD_CM: Final = ARGOCD_EXAMPLES / "argocd-cm.yaml"
KINDS: Final = ("ScalingPolicy", "ResourceBudget", "CostPolicy")
_SOURCES: Final = ("main.go", "go.mod", "go.sum")

HealthStatus = Literal["Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"]


@dataclass(frozen=True)
class Health:
    """What Argo CD would show for an object."""

    status: HealthStatus
    message: str


@cache
def health_tool() -> Path:
    """The built command, building it if the cache has none for these sources."""
    digest = hashlib.sha256()
    for name in _SOURCES:
        digest.update(name.encode() + b"\0" + (TOOL_SOURCE / name).read_bytes() + b"\0")
    bin_root = cache_root() / "bin"
    target = bin_root / f"argocd-health-{digest.hexdigest()[:16]}"
    binary = target / "argocd-health"
    bin_root.mkdir(parents=True, exist_ok=True)
    # Two test runs at once build it once: the second finds the first's.
    with (bin_root / ".argocd-health.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if binary.is_file():
            return binary
        go = shutil.which("go")
        if go is None:
            raise RuntimeError(
                "the Argo CD health checks are tested with a Go command, and `go` is not on PATH"
            )
        print(f"[build] {target.name}: go build in {TOOL_SOURCE.relative_to(REPO)} (once; cached afterwards)")
        started = time.monotonic()
        # Built into a scratch directory and renamed, so an interrupted build never looks cached.
        scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=bin_root))
        try:
            built = subprocess.run(
                [go, "build", "-trimpath", "-buildvcs=false", "-o", str(scratch / "argocd-health"), "."],
                cwd=TOOL_SOURCE,
                capture_output=True,
                text=True,
            )
            if built.returncode != 0:
                raise RuntimeError(f"go build of {TOOL_SOURCE} failed:\n{built.stdout}{built.stderr}")
            scratch.rename(target)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        print(f"[build] {target.name}: done in {time.monotonic() - started:.0f}s")
    return binary


def health_of(obj: Mapping[str, Any], script: Path | None = None) -> Health:
    """Argo CD's health of ``obj``: from ``script``, or else from the shipped argocd-cm patch under
    the key of the object's group and kind, as Argo CD looks it up."""
    source = ["-script", str(script)] if script is not None else ["-argocd-cm", str(ARGOCD_CM)]
    ran = subprocess.run(
        [str(health_tool()), *source, "-"],
        input=json.dumps(obj),
        capture_output=True,
        text=True,
        timeout=30,
    )
    if ran.returncode != 0:
        raise AssertionError(
            f"the health check failed (exit {ran.returncode}) on {obj.get('kind')} "
            f"{obj.get('metadata', {}).get('name')}:\n{ran.stdout}{ran.stderr}"
        )
    answer = json.loads(ran.stdout)
    if answer is None:
        raise AssertionError("the health check returned nil: Argo CD would show no health at all")
    return Health(answer["status"], answer["message"])


def health_script(kind: str) -> Path:
    return HEALTH_SCRIPTS / f"{kind}.lua"
