"""Replay a real datacenter trace as the Prometheus history of a namespace's running pods."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from thrifty.sandbox.cluster import current_env, restart_prometheus
from thrifty.sandbox.inventory import read_inventory
from thrifty.sandbox.series import SeriesSummary, write_openmetrics
from thrifty.sandbox.traces import TraceName, load_trace

DAY = 86400.0


def load_trace_history(
    state_dir: Path,
    namespace: str,
    trace: TraceName,
    history_days: float,
    progress: Callable[[str], None] = print,
) -> SeriesSummary:
    """Write series for every pod of every Deployment in `namespace` and backfill them.

    The file is only a vehicle for promtool: it is written next to the sandbox's data and removed.
    """
    env = current_env(state_dir)
    inventory = read_inventory(env.kubeconfig, namespace)
    if not inventory.pods:
        raise ValueError(f"namespace {namespace!r} has no running Deployment pods to give a history to")
    progress(f"[sandbox] replaying the {trace} trace for {len(inventory.pods)} pods in {namespace}")
    with tempfile.TemporaryDirectory(dir=state_dir, prefix="series-") as scratch:
        path = Path(scratch) / f"{namespace}-{trace}.om"
        summary = write_openmetrics(
            path,
            inventory.pods,
            inventory.nodes,
            load_trace(trace),
            history_seconds=history_days * DAY,
            # kube-state-metrics series barely change: every 4 minutes stays inside Prometheus'
            # 5-minute lookback and halves the file.
            state_interval_seconds=240,
        )
        restart_prometheus(state_dir, [path], progress)
    days = summary.window_seconds / DAY
    note = " (all the trace has)" if summary.shortened else ""
    progress(f"[sandbox] {summary.series} series, {days:.1f} days of history{note}")
    return summary
