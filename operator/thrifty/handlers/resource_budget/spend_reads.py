"""A budget's spend, from Prometheus history every time: nothing is accumulated in memory, so a
restart loses nothing and a budget created mid-period knows the period so far.

When OpenCost's own metrics are in Prometheus (its allocations and node prices), they are read
instead of requests, usage and the CostPolicy's prices, so Thrifty and OpenCost report one number.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from thrifty.engine.cost import PriceBook
from thrifty.engine.spend_pricing import (
    HISTORY_BEFORE_PERIOD_SECONDS,
    BudgetSpend,
    budget_step_seconds,
    price,
    price_opencost,
)
from thrifty.handlers.round_cache import RoundCache
from thrifty.settings import EVALUATION_SECONDS, prometheus_settings
from thrifty.sources.opencost import opencost_available, read_opencost_samples
from thrifty.sources.prometheus_http import QueryRunner, connect
from thrifty.sources.spend import read_spend_samples

__all__ = ["budget_spend"]

log = logging.getLogger(__name__)

_SPEND: RoundCache[BudgetSpend] = RoundCache(EVALUATION_SECONDS)


def budget_spend(
    budget: str,
    namespaces: tuple[str, ...],
    in_scope: Callable[[str, str, str], bool],
    period_start: float,
    book: PriceBook,
) -> BudgetSpend:
    """Spend of the scope's containers from a week before the period to now; raises
    MetricsUnavailableError when Prometheus cannot answer. ``in_scope(namespace, kind, name)`` keeps
    the containers of the workloads a workload selector picks."""

    def load(now: int) -> BudgetSpend:
        settings = prometheus_settings()
        start = period_start - HISTORY_BEFORE_PERIOD_SECONDS
        runner = QueryRunner(connect(settings), settings.timeout_seconds)
        step = budget_step_seconds(now - start)
        priced: BudgetSpend
        if opencost_available(runner, settings.cost_metrics, at=now):
            opencost = read_opencost_samples(
                runner, settings, namespaces, start, float(now), step_seconds=step
            )
            priced = price_opencost(opencost, book, in_scope)
        else:
            samples = read_spend_samples(runner, settings, namespaces, start, float(now), step_seconds=step)
            priced = price(samples, book, in_scope)
        log.info(
            "budget %s: %d Prometheus queries for %d containers in %d namespaces (%s)",
            budget,
            runner.sent,
            priced.containers,
            len(namespaces),
            priced.source,
        )
        return priced

    key = (budget, namespaces, period_start, repr(book))  # a PriceBook holds a dict: not hashable
    return _SPEND.get(key, load)
