"""Start the sandbox's processes in the background and stop them again, by pid.

Each process gets a log file and a pid file under the state directory. A pid file also records
the executable, so a stale file whose pid was reused by an unrelated process is never signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Started:
    name: str
    pid: int
    log: Path


def start(name: str, argv: list[str], state_dir: Path, env: dict[str, str] | None = None) -> Started:
    logs = state_dir / "logs"
    pids = state_dir / "pids"
    logs.mkdir(parents=True, exist_ok=True)
    pids.mkdir(parents=True, exist_ok=True)
    log = logs / f"{name}.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=state_dir,
            env={**os.environ, **(env or {})},
            # Its own session: Ctrl-C in the shell that ran `up` must not take the sandbox down.
            start_new_session=True,
        )
    (pids / f"{name}.pid").write_text(f"{proc.pid}\n{argv[0]}\n")
    return Started(name, proc.pid, log)


def pid_of(name: str, state_dir: Path) -> int | None:
    """The pid of a sandbox process that is still alive, or None."""
    record = state_dir / "pids" / f"{name}.pid"
    if not record.exists():
        return None
    pid_text, _, executable = record.read_text().partition("\n")
    pid = int(pid_text)
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return pid if is_running(pid) and cmdline == executable.strip() else None


def is_running(pid: int) -> bool:
    """True while the process exists and has not exited (an unreaped child is a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def managed_names(state_dir: Path) -> list[str]:
    pids = state_dir / "pids"
    return sorted(p.stem for p in pids.glob("*.pid")) if pids.exists() else []


def stop(name: str, state_dir: Path, grace_seconds: float = 15.0) -> bool:
    """SIGTERM, then SIGKILL after the grace period. True if a live process was stopped."""
    pid = pid_of(name, state_dir)
    record = state_dir / "pids" / f"{name}.pid"
    if pid is None:
        record.unlink(missing_ok=True)
        return False
    _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    while pid_of(name, state_dir) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    if pid_of(name, state_dir) is not None:
        _signal(pid, signal.SIGKILL)
        while pid_of(name, state_dir) is not None:
            time.sleep(0.05)
    record.unlink(missing_ok=True)
    return True


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
