"""Prometheus answers shared by every policy of a round: one batch per namespace, not per policy.

Policies are reconciled one by one (kopf timers), but what they read is per namespace: the first
policy of a round queries, the others of that round reuse the answer, including a failure, so an
outage costs one attempt per namespace per round, not one per policy. Nothing here is state that
matters: losing it costs one round of queries.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar, cast

from thrifty.sources.prometheus_http import MetricsUnavailableError

__all__ = ["RoundCache"]

T = TypeVar("T")


@dataclass
class _Entry(Generic[T]):
    round: int
    value: T | None
    error: MetricsUnavailableError | None


class RoundCache(Generic[T]):
    """Answers keyed by anything hashable, each computed at most once per ``round_seconds``."""

    def __init__(self, round_seconds: float) -> None:
        self.round_seconds = round_seconds
        self._guard = threading.Lock()
        self._locks: dict[Hashable, threading.Lock] = {}
        self._entries: dict[Hashable, _Entry[T]] = {}

    def get(self, key: Hashable, load: Callable[[int], T]) -> T:
        """This round's answer for ``key``; ``load(round_end)`` computes it once per round. Raises
        MetricsUnavailableError as this round's attempt did."""
        current_round = int(time.time() // self.round_seconds)
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            entry = self._entries.get(key)
            if entry is None or entry.round != current_round:
                end = int(current_round * self.round_seconds)
                try:
                    entry = _Entry(current_round, load(end), None)
                except MetricsUnavailableError as err:
                    entry = _Entry(current_round, None, err)
                self._entries[key] = entry
        if entry.error is not None:
            raise entry.error
        return cast(T, entry.value)
