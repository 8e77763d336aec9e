"""`thrifty run` with a stack sampler: every ``THRIFTY_SAMPLE_MS`` milliseconds (default 5) the stack
of every evaluation thread is read, and every ``THRIFTY_SAMPLE_EVERY`` seconds (default 60) the
functions they were in are written to ``THRIFTY_SAMPLE_FILE``: how often each was on the stack
(cumulative) and at its top (self). It counts wall time, waits included, which is what a round's
length is made of. A diagnosis aid for the scale benchmark (``--sample-stacks``), never for measured
figures: the sampler takes some of the CPU it measures.

    python tests/benchmarks/sampled_operator.py run --liveness=...
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from types import FrameType

from thrifty.cli import main

TOP = 60
SAMPLED_THREADS = ("evaluation",)  # the round's workers and the round itself


def _place(frame: FrameType) -> str:
    code = frame.f_code
    return f"{Path(code.co_filename).name}:{code.co_firstlineno} {code.co_qualname}"


def _sample(path: Path, interval: float, every: float) -> None:
    cumulative: Counter[str] = Counter()
    own: Counter[str] = Counter()
    samples, written_at = 0, time.monotonic()
    while True:
        time.sleep(interval)
        names = {t.ident: t.name for t in threading.enumerate()}
        for ident, frame in sys._current_frames().items():
            if not names.get(ident, "").startswith(SAMPLED_THREADS):
                continue
            samples += 1
            own[_place(frame)] += 1
            seen = set()
            walker: FrameType | None = frame
            while walker is not None:
                seen.add(_place(walker))
                walker = walker.f_back
            cumulative.update(seen)
        if time.monotonic() - written_at >= every and samples:
            lines = [f"== {time.strftime('%H:%M:%S')}: {samples} thread samples"]
            lines.append("-- cumulative (share of samples with the function on the stack)")
            lines.extend(f"{n / samples:7.1%}  {place}" for place, n in cumulative.most_common(TOP))
            lines.append("-- self (share of samples with the function on top)")
            lines.extend(f"{n / samples:7.1%}  {place}" for place, n in own.most_common(TOP))
            with path.open("a") as out:
                out.write("\n".join(lines) + "\n")
            written_at = time.monotonic()


if __name__ == "__main__":
    target = Path(os.environ.get("THRIFTY_SAMPLE_FILE", "thrifty-stacks.txt"))
    interval = float(os.environ.get("THRIFTY_SAMPLE_MS", "5")) / 1000
    every = float(os.environ.get("THRIFTY_SAMPLE_EVERY", "60"))
    threading.Thread(target=_sample, args=(target, interval, every), daemon=True).start()
    sys.argv[0] = "thrifty"
    sys.exit(main())
