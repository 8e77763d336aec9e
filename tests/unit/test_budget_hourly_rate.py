"""A budget's spend per hour now: the newest step the scope was seen in, per hour."""

from __future__ import annotations

import numpy as np

from thrifty.engine.spend_pricing import BudgetSpend


def _spend(step_spend: list[float], step_seconds: int = 300) -> BudgetSpend:
    times = np.arange(1, len(step_spend) + 1, dtype=float) * step_seconds
    return BudgetSpend(
        times=times,
        step_spend=np.array(step_spend),
        step_seconds=step_seconds,
        hourly_by_workload={},
        data_as_of=float(times[-1]) if len(times) else None,
        containers=1,
        queries=6,
        notes=(),
        source="requests and usage at the CostPolicy's prices",
    )


def test_the_hourly_rate_is_the_newest_step_per_hour_and_falls_with_it() -> None:
    # 0.05 in a 5-minute step is 0.60 an hour; after a move to spot, 0.02 a step is 0.24 an hour.
    assert abs((_spend([0.05, 0.05, 0.05]).latest_hourly_rate() or 0) - 0.6) < 1e-12
    assert abs((_spend([0.05, 0.05, 0.02]).latest_hourly_rate() or 0) - 0.24) < 1e-12


def test_a_step_where_the_scope_was_not_seen_is_skipped_and_none_before_any() -> None:
    assert abs((_spend([0.05, 0.02, float("nan")]).latest_hourly_rate() or 0) - 0.24) < 1e-12
    assert _spend([float("nan"), float("nan")]).latest_hourly_rate() is None
    assert _spend([]).latest_hourly_rate() is None
