"""The operator's own figures on /metrics, shared by every resource's handlers: how long a reconcile
and an evaluation round take, and each change made to the cluster with how it ended.

Every label value is created at import, so each series exists (at 0) from the first scrape: a
dashboard shows "none" rather than "no data", and ``rate()`` sees the first action as an increase.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Final, TypeVar

from kubernetes.client import ApiException
from prometheus_client import Counter, Histogram

from thrifty.engine.action_outcomes import ACTION_KINDS, ACTION_RESULTS, APPLIED, FAILED, action_result

__all__ = [
    "ACTIONS",
    "COST_POLICY",
    "EVALUATION_ROUND_SECONDS",
    "RECONCILE_SECONDS",
    "RESOURCE_BUDGET",
    "SCALING_POLICY",
    "counted_action",
    "timed_reconcile",
]

SCALING_POLICY: Final = "scalingpolicy"
RESOURCE_BUDGET: Final = "resourcebudget"
COST_POLICY: Final = "costpolicy"

RECONCILE_SECONDS: Final = Histogram(
    "thrifty_reconcile_duration_seconds",
    "One reconcile of a resource, its status write included (a ScalingPolicy: one evaluation).",
    ["resource"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
EVALUATION_ROUND_SECONDS: Final = Histogram(
    "thrifty_evaluation_round_duration_seconds",
    "One evaluation round over every ScalingPolicy.",
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600),
)
ACTIONS: Final = Counter(
    "thrifty_actions",
    "Changes made to the cluster, by kind (scale, budget_scale_down, resize, evict, replace_pending) "
    "and result (applied, failed, refused, conflict).",
    ["kind", "result"],
)

for _resource in (SCALING_POLICY, RESOURCE_BUDGET, COST_POLICY):
    RECONCILE_SECONDS.labels(_resource)
for _kind in ACTION_KINDS:
    for _result in ACTION_RESULTS:
        ACTIONS.labels(_kind, _result)

Handler = TypeVar("Handler", bound=Callable[..., None])


def timed_reconcile(resource: str) -> Callable[[Handler], Handler]:
    """A reconcile handler whose every run is observed in ``thrifty_reconcile_duration_seconds``."""
    observed = RECONCILE_SECONDS.labels(resource)

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def timed(*args: object, **kwargs: object) -> None:
            started = time.perf_counter()
            try:
                handler(*args, **kwargs)
            finally:
                observed.observe(time.perf_counter() - started)

        return timed  # type: ignore[return-value]  # same signature: functools.wraps

    return wrap


@contextmanager
def counted_action(kind: str) -> Iterator[None]:
    """Count the change the block makes once, when its outcome is known: applied when the block
    returns, else by how the API server answered. A change found done after a restart (a pending
    action resolved) is not counted again: the process that made it counted it."""
    try:
        yield
    except ApiException as err:
        ACTIONS.labels(kind, action_result(err.status)).inc()
        raise
    except Exception:
        ACTIONS.labels(kind, FAILED).inc()
        raise
    ACTIONS.labels(kind, APPLIED).inc()
