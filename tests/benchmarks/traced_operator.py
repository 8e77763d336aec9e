"""`thrifty run` under tracemalloc: every ``THRIFTY_TRACE_EVERY`` seconds (default 120), the lines
holding the most memory are written to ``THRIFTY_TRACE_FILE``, newest snapshot last. A diagnosis aid
for the scale benchmark (``--trace-memory``), which slows the operator; never for measured figures.

With ``THRIFTY_TRACE_FRAMES=0`` tracemalloc stays off and each snapshot is a census instead: how many
parsed Kubernetes objects (dicts with ``metadata.uid``) the process holds, and what holds them (the
first referrer up the chain that is not a dict or list), which tracemalloc's allocation sites do not
say.

    python tests/benchmarks/traced_operator.py run --liveness=...
"""

from __future__ import annotations

import gc
import os
import sys
import threading
import time
import tracemalloc
from pathlib import Path

from thrifty.cli import main

FRAMES = int(os.environ.get("THRIFTY_TRACE_FRAMES", "1"))  # more frames explain more and cost more
TOP = 40


def _holder(obj: object, depth: int = 0) -> str:
    if depth > 4:
        return "deep"
    for referrer in gc.get_referrers(obj):
        if isinstance(referrer, (dict, list)) and referrer is not obj:
            if isinstance(referrer, dict) and "metadata" in referrer:
                continue  # the object's own parent within a list response is not its holder
            return _holder(referrer, depth + 1)
        name = type(referrer).__name__
        if name == "frame":
            return f"frame {referrer.f_code.co_qualname}"  # type: ignore[attr-defined]
        if name not in ("list_iterator", "cell"):
            return f"{type(referrer).__module__}.{type(referrer).__qualname__}"
    return "none found"


def _census(path: Path) -> None:
    parsed = [
        o
        for o in gc.get_objects()
        if isinstance(o, dict) and isinstance(o.get("metadata"), dict) and "uid" in o["metadata"]
    ]
    holders: dict[str, int] = {}
    for obj in parsed[:: max(1, len(parsed) // 300)]:
        where = _holder(obj)
        holders[where] = holders.get(where, 0) + 1
    lines = [f"== {time.strftime('%H:%M:%S')}: {len(parsed)} parsed objects; holders of a sample:"]
    lines.extend(f"{n:6d}  {where}" for where, n in sorted(holders.items(), key=lambda kv: -kv[1]))
    with path.open("a") as out:
        out.write("\n".join(lines) + "\n")


def _write_snapshots(path: Path, every: float) -> None:
    while True:
        time.sleep(every)
        if not FRAMES:
            _census(path)
            continue
        snapshot = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(False, tracemalloc.__file__)]
        )
        stats = snapshot.statistics("traceback" if FRAMES > 1 else "lineno")
        total = sum(s.size for s in stats)
        lines = [f"== {time.strftime('%H:%M:%S')}: {total / 2**20:.1f} MiB traced, {len(stats)} places"]
        for stat in stats[:TOP]:
            lines.append(f"{stat.size / 2**20:8.2f} MiB {stat.count:9d} blocks")
            lines.extend(f"      {frame}" for frame in stat.traceback.format()[-2 * FRAMES :])
        with path.open("a") as out:
            out.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    if FRAMES:
        tracemalloc.start(FRAMES)
    target = Path(os.environ.get("THRIFTY_TRACE_FILE", "thrifty-trace.txt"))
    every = float(os.environ.get("THRIFTY_TRACE_EVERY", "120"))
    threading.Thread(target=_write_snapshots, args=(target, every), daemon=True).start()
    sys.argv[0] = "thrifty"
    sys.exit(main())
