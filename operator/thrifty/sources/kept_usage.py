"""Usage histories kept between reads, so that a read asks Prometheus only for what is new.

A read over the whole lookback is what a cluster with days of history cannot afford every minute:
at 14 days and a 120 s step a series holds 10,081 points, which Prometheus evaluates one by one and
sends as about 0.26 MB of JSON, so the CPU and memory of 1,000 containers come to about half a
gigabyte a minute, and seconds of parsing. Here each namespace's last answer is kept, and
the next read asks only from where it ended, less ``OVERLAP_STEPS`` (a scrape that arrived late
changes the last points), then merges: the new answer replaces those columns, columns before the
lookback's start are dropped, and pods and containers with no sample left are dropped, so the
result is what a read over the whole lookback would give, but for points Prometheus answers
differently now than when they were read: once an hour a read goes back ``REREAD_SECONDS``, so a
sample that arrived late (a remote-write backlog, a store that answered in part) gets in within the
hour, and one older than that is not.

A namespace is read over the whole lookback when nothing of it is kept (the operator started, the
namespace is new to the round), it has no sample yet, or its step changed; and once an hour while
its history is younger than the lookback, since samples can appear later further back (a backfill;
also, every hour, a Prometheus that keeps less than the lookback).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final

import numpy as np
from prometheus_api_client.prometheus_connect import PrometheusConnect

from thrifty.engine.workload_records import ContainerHistory, NamespaceUsage
from thrifty.settings import PrometheusSettings
from thrifty.sources.prometheus_http import MetricsUnavailableError, QueryRejectedError
from thrifty.sources.promql import choose_step
from thrifty.sources.usage import SPAN_QUERIES, FloatArray, TimeGrid, read_cluster_usage

__all__ = ["KeptUsage", "UsageRead", "merge_usage"]

log = logging.getLogger(__name__)

OVERLAP_STEPS: Final = 2
# Once an hour a read goes back this far, so that samples that arrived later than the overlap (a
# remote-write backlog, a store that answered in part) are in the kept history within the hour.
REREAD_SECONDS: Final = 3600.0
TOO_MANY_SAMPLES: Final = "too many samples"  # in Prometheus' error for --query.max-samples
# A namespace no read has asked about for this long is dropped (its policies are gone).
UNUSED_SECONDS: Final = 2 * 3600.0


@dataclass(frozen=True)
class _Kept:
    usage: NamespaceUsage
    reread_at: float  # the last read that went back further than the overlap
    used_at: float  # the last read that asked about it, answered or not


@dataclass(frozen=True)
class UsageRead:
    """What one read gives: usage per namespace, how many were read over the whole lookback, and
    the failure of the namespaces that have none (``None`` when all do)."""

    usages: dict[str, NamespaceUsage]
    whole_lookback_reads: int
    failure: MetricsUnavailableError | None


class KeptUsage:
    """The last usage answer of every namespace, per lookback; ``read`` asks only for what is new."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._kept: dict[tuple[str, float], _Kept] = {}

    def read(
        self,
        client: PrometheusConnect,
        settings: PrometheusSettings,
        namespaces: Sequence[str],
        end: datetime,
        lookback: timedelta,
    ) -> UsageRead:
        """Every namespace's usage over the lookback up to ``end``. The namespaces read since their
        last read and those read over the whole lookback are two batches: one failing does not fail
        the other. Raises ``MetricsUnavailableError`` only when neither gives anything; what is kept
        stays."""
        seconds = lookback.total_seconds()
        step = choose_step(seconds, settings.scrape_interval_seconds)
        grid = TimeGrid.ending_at(end, seconds, step)
        now = end.timestamp()
        with self._guard:
            for stale in [k for k, kept in self._kept.items() if now - kept.used_at >= UNUSED_SECONDS]:
                del self._kept[stale]
            kept = {ns: self._kept.get((ns, seconds)) for ns in namespaces}
            for ns, entry in kept.items():
                if entry is not None:
                    self._kept[(ns, seconds)] = replace(entry, used_at=now)
        full = [ns for ns in namespaces if _needs_full_read(kept[ns], grid, now)]
        newer = {ns: entry for ns in namespaces if ns not in full and (entry := kept[ns]) is not None}
        usages: dict[str, NamespaceUsage] = {}
        failures: list[MetricsUnavailableError] = []
        queries = 0
        if newer:
            reread = any(now - entry.reread_at >= REREAD_SECONDS for entry in newer.values())
            back = REREAD_SECONDS if reread else OVERLAP_STEPS * step
            last = min(_grid_end(entry.usage) for entry in newer.values())
            since = max(grid.start, min(grid.end, int(last - back) // step * step))
            try:
                fresh = read_cluster_usage(client, settings, list(newer), end, lookback, since=float(since))
            except MetricsUnavailableError as error:
                failures.append(error)
            else:
                for ns, entry in newer.items():
                    usages[ns] = merge_usage(entry.usage, fresh[ns], float(since))
                    self._keep(ns, seconds, usages[ns], now if reread else entry.reread_at, now)
                queries += next(iter(fresh.values())).queries
        if full:
            try:
                answers = _whole_lookback(client, settings, full, end, lookback, grid)
            except MetricsUnavailableError as error:
                failures.append(error)
            else:
                for ns in full:
                    usages[ns] = answers[ns]
                    self._keep(ns, seconds, answers[ns], now, now)
                queries += next(iter(answers.values())).queries
        if not usages:
            raise failures[0]
        return UsageRead(
            {ns: replace(usage, queries=queries) for ns, usage in usages.items()},
            len(full),
            failures[0] if failures else None,
        )

    def _keep(
        self, namespace: str, seconds: float, usage: NamespaceUsage, reread_at: float, now: float
    ) -> None:
        with self._guard:
            self._kept[(namespace, seconds)] = _Kept(usage, reread_at, now)


def _whole_lookback(
    client: PrometheusConnect,
    settings: PrometheusSettings,
    namespaces: Sequence[str],
    end: datetime,
    lookback: timedelta,
    grid: TimeGrid,
) -> dict[str, NamespaceUsage]:
    """The lookback in one read, or in parts when Prometheus refuses a query over the span as too
    many samples (its ``--query.max-samples``, 50 million by default, is 1,200 to 1,600 series of
    14 days at a 120 s step): a refused part is read again as two halves, and the parts are merged
    oldest first. Any other refusal is raised as it is."""
    parts = [(grid.start, grid.end)]
    whole: dict[str, NamespaceUsage] | None = None
    queries = 0
    while parts:
        since, until = parts.pop(0)
        try:
            part = read_cluster_usage(client, settings, namespaces, end, lookback, since, until)
        except MetricsUnavailableError as error:
            spanned = error.cause.startswith(SPAN_QUERIES)
            too_many = isinstance(error, QueryRejectedError) and TOO_MANY_SAMPLES in error.cause
            if not (spanned and too_many) or until - since < 2 * grid.step:
                if queries:  # logged as a batch, so every query on /metrics belongs to a logged one
                    log.info(
                        "usage of namespaces %s: %d Prometheus queries for the parts read before one "
                        "failed", ", ".join(namespaces), queries,
                    )  # fmt: skip
                raise
            middle = (since + until) // 2 // grid.step * grid.step
            parts[:0] = [(since, middle), (middle + grid.step, until)]
            log.info("usage of namespaces %s: %s; reading it in halves", ", ".join(namespaces), error.cause)
            continue
        queries += next(iter(part.values())).queries
        whole = part if whole is None else {ns: merge_usage(whole[ns], part[ns], since) for ns in namespaces}
    assert whole is not None  # the first part was read, or raised
    return {ns: replace(usage, queries=queries) for ns, usage in whole.items()}


def _grid_end(usage: NamespaceUsage) -> float:
    return float(usage.times[-1])


def _needs_full_read(kept: _Kept | None, grid: TimeGrid, now: float) -> bool:
    if kept is None or kept.usage.step_seconds != grid.step or not len(kept.usage.times):
        return True
    if _grid_end(kept.usage) < grid.start:  # kept from before the lookback: nothing of it remains
        return True
    first = kept.usage.first_sample
    if first is None:  # nothing yet: a full read costs Prometheus little, and finds history at once
        return True
    young = first > grid.start + grid.step
    return young and now - kept.reread_at >= REREAD_SECONDS


def merge_usage(kept: NamespaceUsage, fresh: NamespaceUsage, fresh_start: float) -> NamespaceUsage:
    """``kept`` brought up to ``fresh``'s grid: ``fresh`` (read from ``fresh_start``, on the same
    step) owns every column from ``fresh_start`` on, requests, limits and notes; ``kept`` gives the
    columns before it that are still inside the lookback; the last OOM kill is the later of the two
    while it is inside the lookback."""
    if kept.step_seconds != fresh.step_seconds:
        raise ValueError("kept and fresh usage must share a step")
    grid_start, step = float(fresh.times[0]), fresh.step_seconds
    cut = round((fresh_start - grid_start) / step)
    old = {_key(c): c for c in kept.containers}
    new = {_key(c): c for c in fresh.containers}
    containers = []
    for key in sorted(old.keys() | new.keys()):
        merged = _merge_container(old.get(key), new.get(key), grid_start, step, cut)
        if merged is not None:
            containers.append(merged)
    firsts = [c.first_time for c in containers if c.first_time is not None]
    sampled = {name for c in containers if c.first_time is not None for name in _sampled_metrics(c)}
    return replace(
        fresh,
        containers=tuple(containers),
        notes=fresh.notes if sampled != {"cpu", "memory"} else (),
        first_sample=min(firsts, default=None),
    )


def _key(container: ContainerHistory) -> tuple[str, str, str]:
    return container.kind, container.workload, container.container


def _sampled_metrics(container: ContainerHistory) -> Iterable[str]:
    if not np.all(np.isnan(container.cpu_cores)):
        yield "cpu"
    if not np.all(np.isnan(container.memory_bytes)):
        yield "memory"


@dataclass(frozen=True)
class _Piece:
    column: int  # grid index of the first column
    cpu: FloatArray  # (lanes, time)
    memory: FloatArray


def _pieces(
    old: ContainerHistory | None, new: ContainerHistory | None, grid_start: float, step: int, cut: int
) -> list[_Piece]:
    """The columns each side gives: ``old`` those before ``cut`` still in the lookback, ``new`` its
    own, which start at ``cut`` or later, so the two never share a column."""
    pieces = []
    if old is not None and old.first_time is not None:
        first = round((old.first_time - grid_start) / step)
        lo, hi = max(first, 0), min(first + old.cpu_cores.shape[1], cut)
        if hi > lo:
            window = slice(lo - first, hi - first)
            pieces.append(_Piece(lo, old.cpu_cores[:, window], old.memory_bytes[:, window]))
    if new is not None and new.first_time is not None:
        pieces.append(_Piece(round((new.first_time - grid_start) / step), new.cpu_cores, new.memory_bytes))
    return pieces


def _pods(
    old: ContainerHistory | None,
    new: ContainerHistory | None,
    grid_start: float,
    fresh_start: float,
    step: int,
) -> dict[str, float]:
    """Each pod's last sample, for the pods with one inside the lookback. A kept pod last seen where
    ``new`` was read again, and not in it, is taken as last seen just before: its samples there are
    gone, and the kept history does not say which it had before (it stays until that leaves)."""
    last: dict[str, float] = {}
    if new is not None:
        last.update(zip(new.pods, new.pod_last_times, strict=True))
    if old is not None:
        for pod, at in zip(old.pods, old.pod_last_times, strict=True):
            if pod not in last:
                last[pod] = min(at, fresh_start - step)
    return {pod: at for pod, at in sorted(last.items()) if at >= grid_start}


def _merge_container(
    old: ContainerHistory | None, new: ContainerHistory | None, grid_start: float, step: int, cut: int
) -> ContainerHistory | None:
    pieces = _pieces(old, new, grid_start, step, cut)
    lanes = max((p.cpu.shape[0] for p in pieces), default=0)
    lo = min((p.column for p in pieces), default=0)
    width = max((p.column + p.cpu.shape[1] for p in pieces), default=0) - lo
    cpu, memory = np.full((lanes, width), np.nan), np.full((lanes, width), np.nan)
    for piece in pieces:
        rows, columns = piece.cpu.shape
        at = (slice(0, rows), slice(piece.column - lo, piece.column - lo + columns))
        cpu[at], memory[at] = piece.cpu, piece.memory
    sampled = ~(np.isnan(cpu) & np.isnan(memory))
    rows, columns = np.flatnonzero(sampled.any(axis=1)), np.flatnonzero(sampled.any(axis=0))
    # The OOM query's window includes the lookback's first step, so does this.
    kills = [k for side in (old, new) if side is not None and (k := side.last_oom_kill) is not None]
    last_kill = max((k for k in kills if k >= grid_start), default=None)
    if not len(columns) and new is None and last_kill is None:
        return None  # gone, and nothing of it is left in the lookback
    first_time = None
    if len(columns):
        window = slice(int(columns[0]), int(columns[-1]) + 1)
        cpu, memory = cpu[rows, window], memory[rows, window]
        first_time = grid_start + (lo + int(columns[0])) * step
    else:
        cpu, memory = np.empty((0, 0)), np.empty((0, 0))
    pods = _pods(old, new, grid_start, grid_start + cut * step, step) if len(columns) else {}
    template = new if new is not None else old
    assert template is not None
    return replace(
        template,
        pods=tuple(pods),
        pod_last_times=tuple(pods.values()),
        cpu_cores=cpu,
        memory_bytes=memory,
        first_time=first_time,
        cpu_request=None if new is None else new.cpu_request,
        cpu_limit=None if new is None else new.cpu_limit,
        memory_request=None if new is None else new.memory_request,
        memory_limit=None if new is None else new.memory_limit,
        oom_killed=last_kill is not None,
        last_oom_kill=last_kill,
    )
