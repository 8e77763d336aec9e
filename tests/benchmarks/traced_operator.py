"""`thrifty run` under tracemalloc: every ``THRIFTY_TRACE_EVERY`` seconds (default 120), the lines
holding the most memory are written to ``THRIFTY_TRACE_FILE``, newest snapshot last. A diagnosis aid
for the scale benchmark (``--trace-memory``), which slows the operator; never for measured figures.

With ``THRIFTY_TRACE_FRAMES=0`` tracemalloc stays off and each snapshot is a census instead: the
objects the collector tracks, grouped by shape (a dict by its first keys, a list by what it holds), with
their count and own size: what kind of data is held, which tracemalloc's allocation sites do not say.

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


def _shape(obj: object) -> str:
    if isinstance(obj, dict):
        return "dict " + ",".join(sorted(str(k) for k in list(obj)[:4]))[:80]
    if isinstance(obj, list):
        return f"list of {type(obj[0]).__name__ if obj else 'nothing'}"
    return type(obj).__qualname__


def _census(path: Path) -> None:
    shapes: dict[str, list[int]] = {}
    for obj in gc.get_objects():
        counted = shapes.setdefault(_shape(obj), [0, 0])
        counted[0] += 1
        counted[1] += sys.getsizeof(obj)
    top = sorted(shapes.items(), key=lambda kv: -kv[1][1])[:TOP]
    lines = [f"== {time.strftime('%H:%M:%S')}: gc-tracked objects by shape (count, own bytes)"]
    lines.extend(f"{n:9d} {size / 2**20:8.2f} MiB  {shape}" for shape, (n, size) in top)
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
