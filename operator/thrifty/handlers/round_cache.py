"""Prometheus answers shared by every policy of a round: one batch for all, not one per policy.

Policies are evaluated one by one, but what they read covers every namespace of the round: the
first policy of a round queries, the others of that round reuse the answer, including a failure, so
an outage costs one attempt per round, not one per policy. Nothing here is state that matters:
losing it costs one round of queries. Answers of rounds before the last are dropped.

While an evaluation round runs (``one_round``), answers are for the time it began: a round that
outlasts an interval (thousands of policies, many writes) reads once, rather than again every
interval while it is still going, which would only make it longer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar, cast

from thrifty.sources.prometheus_http import MetricsUnavailableError

__all__ = ["RoundCache", "one_round"]

T = TypeVar("T")

_ROUND_BEGAN: list[float] = []  # the start of the evaluation round in progress, if one is


@contextmanager
def one_round(began: float | None = None) -> Iterator[None]:
    """Every read inside is for the time the round began, now unless ``began`` says otherwise (see the
    module's docstring)."""
    _ROUND_BEGAN.append(time.time() if began is None else began)
    try:
        yield
    finally:
        _ROUND_BEGAN.pop()


@dataclass
class _Entry(Generic[T]):
    round: int
    value: T | None
    error: MetricsUnavailableError | None


class RoundCache(Generic[T]):
    """Answers keyed by anything hashable, each computed at most once per ``round_seconds``."""

    def __init__(self, round_seconds: float, clock: Callable[[], float] = time.time) -> None:
        self.round_seconds, self.clock = round_seconds, clock
        self._guard = threading.Lock()
        self._locks: dict[Hashable, threading.Lock] = {}
        self._entries: dict[Hashable, _Entry[T]] = {}

    def get(self, key: Hashable, load: Callable[[int], T]) -> T:
        """This round's answer for ``key``; ``load(round_end)`` computes it once per round. Raises
        MetricsUnavailableError as this round's attempt did."""
        current_round = int((_ROUND_BEGAN[-1] if _ROUND_BEGAN else self.clock()) // self.round_seconds)
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
                self._drop_before(current_round - 1)
        if entry.error is not None:
            raise entry.error
        return cast(T, entry.value)

    def _drop_before(self, round_number: int) -> None:
        """Forget answers nobody asked for since ``round_number`` (a scope that changed, a policy gone)."""
        with self._guard:
            for key in [k for k, e in self._entries.items() if e.round < round_number]:
                del self._entries[key]
                self._locks.pop(key, None)
