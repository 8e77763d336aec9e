"""`thrifty run` under tracemalloc: every ``THRIFTY_TRACE_EVERY`` seconds (default 120), the lines
holding the most memory are written to ``THRIFTY_TRACE_FILE``, newest snapshot last. A diagnosis aid
for the scale benchmark (``--trace-memory``), which slows the operator; never for measured figures.

    python tests/benchmarks/traced_operator.py run --liveness=...
"""

from __future__ import annotations

import os
import sys
import threading
import time
import tracemalloc
from pathlib import Path

from thrifty.cli import main

FRAMES = int(os.environ.get("THRIFTY_TRACE_FRAMES", "1"))  # more frames explain more and cost more
TOP = 40


def _write_snapshots(path: Path, every: float) -> None:
    while True:
        time.sleep(every)
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
    tracemalloc.start(FRAMES)
    target = Path(os.environ.get("THRIFTY_TRACE_FILE", "thrifty-trace.txt"))
    every = float(os.environ.get("THRIFTY_TRACE_EVERY", "120"))
    threading.Thread(target=_write_snapshots, args=(target, every), daemon=True).start()
    sys.argv[0] = "thrifty"
    sys.exit(main())
