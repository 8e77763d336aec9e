"""Load OpenMetrics files into a Prometheus TSDB directory with ``promtool``."""

from __future__ import annotations

import subprocess
from pathlib import Path

# promtool re-reads the whole input once per block it writes, and its default block is 2 h: a
# 14-day file would be parsed 168 times. It rounds this flag down to a TSDB compaction range
# (2 h x 3^n), so 486h gives 20.25-day blocks: 14 days land in one or two blocks. That is under
# the 31-day cap Prometheus' own compactor uses for long retention, so Prometheus keeps them as
# they are. The cost is memory: promtool holds one block's samples while writing it.
DEFAULT_MAX_BLOCK_DURATION = "486h"


class BackfillError(RuntimeError):
    """promtool could not turn a file into blocks; the message carries its stderr."""


def backfill(
    promtool: Path,
    openmetrics_files: list[Path],
    tsdb_dir: Path,
    *,
    max_block_duration: str = DEFAULT_MAX_BLOCK_DURATION,
    timeout_seconds: float | None = None,
) -> None:
    """Write TSDB blocks for each file into ``tsdb_dir`` (a Prometheus ``--storage.tsdb.path``).

    Run it while Prometheus is stopped, or let a running one load the blocks at its next reload.
    Blocks from several files may overlap in time; Prometheus 2.39+ merges overlapping blocks.
    """
    missing = [str(path) for path in openmetrics_files if not path.is_file()]
    if missing:
        raise BackfillError(f"OpenMetrics file(s) not found: {', '.join(missing)}")
    tsdb_dir.mkdir(parents=True, exist_ok=True)
    for path in openmetrics_files:
        command = [
            str(promtool),
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            f"--max-block-duration={max_block_duration}",
            "--quiet",
            str(path),
            str(tsdb_dir),
        ]
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, timeout=timeout_seconds, check=False
            )
        except FileNotFoundError as error:
            raise BackfillError(f"promtool not found at {promtool}") from error
        except subprocess.TimeoutExpired as error:
            raise BackfillError(f"promtool took over {timeout_seconds} s on {path}") from error
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip()
            raise BackfillError(
                f"promtool failed (exit {result.returncode}) on {path} into {tsdb_dir}:\n{detail}"
            )
