"""Every Prometheus read of a ScalingPolicy's reconcile, each shared by the policies of a round.

A read covers every namespace of the round at once (``round_scope``, set by the evaluation round
from the policies it holds), so the queries of a round do not grow with the namespaces. A policy
outside that scope (created since the round began) reads its own namespace alone.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

from thrifty.engine.workload_records import (
    DemandHistory,
    NamespaceLoad,
    NamespaceUsage,
    QueryAnswer,
    Resource,
    WorkloadRef,
)
from thrifty.handlers.round_cache import RoundCache
from thrifty.settings import EVALUATION_SECONDS, HORIZONTAL_SYNC_SECONDS, prometheus_settings
from thrifty.sources.kept_usage import KeptUsage, UsageRead
from thrifty.sources.prometheus_http import QueryRunner, connect
from thrifty.sources.replica_metrics import (
    cluster_pod_nodes,
    read_cluster_load,
    read_query_history,
    read_query_value,
)

__all__ = [
    "namespace_load",
    "namespace_usage",
    "pod_nodes",
    "query_history",
    "query_value",
    "round_scope",
    "workload_demand",
]

log = logging.getLogger(__name__)

Scope = tuple[str, ...]
_USAGE: RoundCache[UsageRead] = RoundCache(EVALUATION_SECONDS)
_LOAD: RoundCache[dict[str, NamespaceLoad]] = RoundCache(HORIZONTAL_SYNC_SECONDS)
_DEMAND: RoundCache[dict[WorkloadRef, DemandHistory]] = RoundCache(EVALUATION_SECONDS)
_QUERY: RoundCache[QueryAnswer] = RoundCache(HORIZONTAL_SYNC_SECONDS)
_QUERY_HISTORY: RoundCache[DemandHistory] = RoundCache(EVALUATION_SECONDS)
_NODES: RoundCache[dict[str, dict[str, Mapping[str, str]]]] = RoundCache(EVALUATION_SECONDS)


class _RoundScope:
    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._namespaces: Scope = ()
        self._members: frozenset[str] = frozenset()

    def set(self, namespaces: Iterable[str]) -> None:
        members = frozenset(namespaces)
        with self._guard:
            self._namespaces, self._members = tuple(sorted(members)), members

    def of(self, namespace: str) -> Scope:
        with self._guard:
            return self._namespaces if namespace in self._members else (namespace,)


round_scope = _RoundScope()


_KEPT_USAGE = KeptUsage()


def namespace_usage(namespace: str, history_hours: int) -> NamespaceUsage:
    """Usage history of the namespace's workloads, for right-sizing. Raises MetricsUnavailableError
    when Prometheus could not answer for this namespace (others of the round may have an answer)."""
    scope = round_scope.of(namespace)

    def load(end: int) -> UsageRead:
        settings = prometheus_settings()
        read = _KEPT_USAGE.read(
            connect(settings),
            settings,
            scope,
            datetime.fromtimestamp(end, UTC),
            timedelta(hours=history_hours),
        )
        log.info(
            "usage of namespaces %s: %d Prometheus queries for %d containers, %d of %d namespaces read "
            "over the whole lookback, the others since their last read",
            ", ".join(read.usages),
            next(iter(read.usages.values())).queries,
            sum(len(usage.containers) for usage in read.usages.values()),
            read.whole_lookback_reads,
            len(scope),
        )
        return read

    read = _USAGE.get(("usage", scope, history_hours), load)
    usage = read.usages.get(namespace)
    if usage is None:
        assert read.failure is not None  # every namespace asked about has an answer or a failure
        raise read.failure
    return usage


def namespace_load(namespace: str) -> NamespaceLoad:
    """CPU and memory of the namespace's workloads now, for horizontal scaling."""
    scope = round_scope.of(namespace)

    def load(end: int) -> dict[str, NamespaceLoad]:
        settings = prometheus_settings()
        return read_cluster_load(connect(settings), settings, scope, end)

    return _LOAD.get(("load", scope), load)[namespace]


def workload_demand(
    namespace: str, resource: Resource, lookback_hours: int
) -> dict[WorkloadRef, DemandHistory]:
    """Total CPU or memory of each of the namespace's workloads over the lookback, for forecasts: the
    usage history summed per step, so a forecast over right-sizing's lookback sends no query of its
    own, and any other lookback is kept and read only for what is new, as right-sizing's is."""

    def load(_end: int) -> dict[WorkloadRef, DemandHistory]:
        return namespace_usage(namespace, lookback_hours).demand(resource)

    return _DEMAND.get(("demand", namespace, resource, lookback_hours), load)


def query_value(query: str, namespace: str) -> QueryAnswer:
    """A policy's PromQL metric now (identical queries of several policies are sent once)."""

    def load(end: int) -> QueryAnswer:
        settings = prometheus_settings()
        return read_query_value(connect(settings), settings, query, namespace, end)

    return _QUERY.get(("query", query, namespace), load)


def query_history(query: str, namespace: str, lookback_hours: int) -> DemandHistory:
    def load(end: int) -> DemandHistory:
        settings = prometheus_settings()
        return read_query_history(connect(settings), settings, query, namespace, end, lookback_hours * 3600)

    return _QUERY_HISTORY.get(("query-history", query, namespace, lookback_hours), load)


def pod_nodes(namespace: str) -> dict[str, Mapping[str, str]]:
    """The node labels of each running pod of the namespace, for pricing at the node's rates."""
    scope = round_scope.of(namespace)

    def load(end: int) -> dict[str, dict[str, Mapping[str, str]]]:
        settings = prometheus_settings()
        return cluster_pod_nodes(
            QueryRunner(connect(settings), settings.timeout_seconds), settings, scope, end
        )

    return _NODES.get(("nodes", scope), load)[namespace]
