"""Prometheus answers shared within a round: read once per interval, and once per evaluation round
however long that round takes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from thrifty.handlers.round_cache import RoundCache, one_round
from thrifty.sources.prometheus_http import MetricsUnavailableError


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(1_000_020.0)


def counting_load(reads: list[int]) -> Callable[[int], int]:
    def load(end: int) -> int:
        reads.append(end)
        return len(reads)

    return load


def test_an_answer_is_read_once_per_interval(clock: Clock) -> None:
    cache: RoundCache[int] = RoundCache(15, clock)
    reads: list[int] = []
    load = counting_load(reads)
    assert [cache.get("cpu", load) for _ in range(3)] == [1, 1, 1]
    clock.now += 15
    assert cache.get("cpu", load) == 2
    assert reads == [1_000_020 // 15 * 15, 1_000_020 // 15 * 15 + 15]


def test_a_round_longer_than_the_interval_reads_once(clock: Clock) -> None:
    cache: RoundCache[int] = RoundCache(15, clock)
    reads: list[int] = []
    load = counting_load(reads)
    with one_round(began=clock.now):
        for _ in range(40):  # ten minutes of a round that has thousands of statuses to write
            assert cache.get("cpu", load) == 1
            clock.now += 15
    assert cache.get("cpu", load) == 2  # the next interval reads anew


def test_a_failed_read_is_the_answer_for_the_rest_of_its_interval(clock: Clock) -> None:
    cache: RoundCache[int] = RoundCache(15, clock)
    attempts: list[int] = []

    def failing(end: int) -> int:
        attempts.append(end)
        raise MetricsUnavailableError("http://prometheus", "PrometheusUnavailable", "connection refused")

    for _ in range(3):
        with pytest.raises(MetricsUnavailableError):
            cache.get("cpu", failing)
    assert len(attempts) == 1
