"""What a policy's own PromQL metric may drive: one finite, non-negative value from an instant vector
with exactly one series. Anything else (nothing, several series, NaN, infinity, a negative number, a
scalar, a string, a range vector, a query Prometheus refuses) is no reading, with its own reason, so
it never scales a workload down and the user learns which it was."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from thrifty.api.condition_types import PolicyReason
from thrifty.engine.workload_records import QueryAnswer

__all__ = ["ResultType", "judge_query_answer", "rejected_query"]

ResultType = Literal["vector", "scalar", "string", "matrix"]

_SHAPES = {
    "scalar": (PolicyReason.QUERY_RETURNED_SCALAR, "a scalar"),
    "string": (PolicyReason.QUERY_RETURNED_STRING, "a string"),
    "matrix": (PolicyReason.QUERY_RETURNED_RANGE_VECTOR, "a range vector"),
}
_AGGREGATE = "; aggregate it to one instant-vector series, e.g. sum(rate(...[2m]))"


def judge_query_answer(result_type: ResultType, values: Sequence[float]) -> QueryAnswer:
    """The reading a query's answer gives: ``values`` are its series' values (one per series)."""
    if result_type != "vector":
        reason, what = _SHAPES[result_type]
        return QueryAnswer(None, reason, f"the query returned {what}, not an instant vector{_AGGREGATE}")
    if not values:
        return QueryAnswer(None, PolicyReason.QUERY_RETURNED_NOTHING, "the query returned no series now")
    if len(values) > 1:
        return QueryAnswer(
            None,
            PolicyReason.QUERY_RETURNED_SEVERAL_SERIES,
            f"the query returned {len(values)} series where one is expected{_AGGREGATE}",
        )
    value = values[0]
    if math.isnan(value):
        return QueryAnswer(None, PolicyReason.QUERY_RETURNED_NAN, "the query returned NaN")
    if math.isinf(value):
        return QueryAnswer(None, PolicyReason.QUERY_RETURNED_INFINITY, f"the query returned {value}")
    if value < 0:
        return QueryAnswer(
            None,
            PolicyReason.QUERY_RETURNED_NEGATIVE,
            f"the query returned {value:g}; demand cannot be negative",
        )
    return QueryAnswer(value)


def rejected_query(error: str) -> QueryAnswer:
    """Prometheus refused the query itself (a syntax or evaluation error): the user's to fix."""
    return QueryAnswer(None, PolicyReason.INVALID_QUERY, f"Prometheus refused the query: {error}")
