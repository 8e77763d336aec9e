"""The evaluation round: every ScalingPolicy of the cluster every ``THRIFTY_RESYNC_SECONDS``, on
``THRIFTY_ROUND_WORKERS`` threads (so writes overlap), instead of a kopf timer per policy.

1. the policies come from a kopf index (no API call), and the namespaces they are in become the
   round's scope, so each Prometheus read covers them all in one batch (``policy_reads``);
2. each policy is evaluated (``policy_reconcile.evaluate_policy``), reading the batches of the round;
   its status is written only when something a user reads changed;
3. what this process kept for policies that are gone is dropped (their series on /metrics too), and
   the round is logged with its count of policies, status writes and Prometheus queries, and timed
   in ``thrifty_evaluation_round_duration_seconds``.

kopf still runs what is event-driven: a created or edited policy is evaluated at once, deletions,
and the indexes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import kopf

from thrifty.handlers import process_heap
from thrifty.handlers.cluster_indexes import StoredPolicy, policy_bodies
from thrifty.handlers.operator_metrics import EVALUATION_ROUND_SECONDS
from thrifty.handlers.round_cache import one_round
from thrifty.handlers.scaling_policy import policy_reads
from thrifty.handlers.scaling_policy.policy_metrics import drop_policy_metrics_except
from thrifty.handlers.scaling_policy.policy_reconcile import Evaluated, evaluate_policy, forget_policy
from thrifty.settings import RESYNC_SECONDS, ROUND_WORKERS
from thrifty.sources.prometheus_http import QUERIES_SENT

__all__ = ["RoundSummary", "run_round", "start_rounds", "stop_rounds"]

log = logging.getLogger(__name__)

_STOP = threading.Event()


@dataclass(frozen=True)
class RoundSummary:
    policies: int
    written: int  # status writes: the policies whose status a user reads changed
    busy: int  # being evaluated by a kopf handler at the time: the next round has them
    failed: int  # the API server refused or timed out a write: the next round tries again
    queries: int
    seconds: float


@kopf.on.startup()
def start_rounds(**kwargs: Any) -> None:
    indexes = {name: value for name, value in kwargs.items() if isinstance(value, kopf.Index)}
    _STOP.clear()
    threading.Thread(target=_rounds, args=(indexes,), name="evaluation-round", daemon=True).start()


@kopf.on.cleanup()
def stop_rounds(**_: Any) -> None:
    _STOP.set()


def _rounds(indexes: dict[str, Any]) -> None:
    number = 0
    while not _STOP.wait(max(0.0, RESYNC_SECONDS - (time.monotonic() % RESYNC_SECONDS))):
        number += 1
        try:
            summary = run_round(indexes)
        except Exception:  # the round must outlive any one failure; each policy's are in its status
            log.exception("evaluation round %d failed", number)
            continue
        log.info(
            "evaluation round %d: %d policies (%d status writes, %d busy, %d failed), %d Prometheus queries,"
            " %.2f s",
            number,
            summary.policies,
            summary.written,
            summary.busy,
            summary.failed,
            summary.queries,
            summary.seconds,
        )


def run_round(indexes: dict[str, Any]) -> RoundSummary:
    started, queries_before = time.monotonic(), _queries_sent()
    policies = policy_bodies(indexes)
    policy_reads.round_scope.set(p.namespace for p in policies)
    with one_round(), ThreadPoolExecutor(ROUND_WORKERS, thread_name_prefix="evaluation") as pool:
        outcomes = Counter(pool.map(lambda stored: _evaluate(stored, indexes), policies))
    _forget_gone({p.uid for p in policies})
    # The policies there are now: one created during the round has series its first evaluation set.
    drop_policy_metrics_except({p.uid for p in policy_bodies(indexes)})
    # A round's Prometheus answers and arrays are freed: the heap hands them back to the system, or
    # the process's RSS stays at its largest round.
    process_heap.trim()
    seconds = time.monotonic() - started
    EVALUATION_ROUND_SECONDS.observe(seconds)
    return RoundSummary(
        len(policies),
        outcomes["written"],
        outcomes["busy"],
        outcomes["failed"],
        int(_queries_sent() - queries_before),
        seconds,
    )


def _evaluate(stored: StoredPolicy, indexes: dict[str, Any]) -> Evaluated | None:
    return None if _STOP.is_set() else evaluate_policy(stored.raw(), indexes)


_KNOWN: set[str] = set()


def _forget_gone(present: set[str]) -> None:
    for uid in _KNOWN - present:
        forget_policy(uid)
    _KNOWN.clear()
    _KNOWN.update(present)


def _queries_sent() -> float:
    return sum(
        sample.value
        for metric in QUERIES_SENT.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    )
