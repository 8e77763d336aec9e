"""Every Prometheus read of a ScalingPolicy's reconcile, each shared by the policies of a round."""

from __future__ import annotations

import logging
from collections.abc import Mapping
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
from thrifty.sources.prometheus_http import QueryRunner, connect
from thrifty.sources.replica_metrics import (
    nodes_of_pods,
    read_namespace_demand,
    read_namespace_load,
    read_query_history,
    read_query_value,
)
from thrifty.sources.usage import read_namespace_usage

__all__ = [
    "namespace_load",
    "namespace_usage",
    "pod_nodes",
    "query_history",
    "query_value",
    "workload_demand",
]

log = logging.getLogger(__name__)

_USAGE: RoundCache[NamespaceUsage] = RoundCache(EVALUATION_SECONDS)
_LOAD: RoundCache[NamespaceLoad] = RoundCache(HORIZONTAL_SYNC_SECONDS)
_DEMAND: RoundCache[dict[WorkloadRef, DemandHistory]] = RoundCache(EVALUATION_SECONDS)
_QUERY: RoundCache[QueryAnswer] = RoundCache(HORIZONTAL_SYNC_SECONDS)
_QUERY_HISTORY: RoundCache[DemandHistory] = RoundCache(EVALUATION_SECONDS)
_NODES: RoundCache[dict[str, Mapping[str, str]]] = RoundCache(EVALUATION_SECONDS)


def namespace_usage(namespace: str, history_hours: int) -> NamespaceUsage:
    """Usage history of the namespace's workloads, for right-sizing."""

    def load(end: int) -> NamespaceUsage:
        settings = prometheus_settings()
        usage = read_namespace_usage(
            connect(settings),
            settings,
            namespace,
            None,
            datetime.fromtimestamp(end, UTC),
            lookback=timedelta(hours=history_hours),
        )
        log.info(
            "namespace %s: %d Prometheus queries for %d containers of %d workloads",
            namespace,
            usage.queries,
            len(usage.containers),
            len({(c.kind, c.workload) for c in usage.containers}),
        )
        return usage

    return _USAGE.get(("usage", namespace, history_hours), load)


def namespace_load(namespace: str) -> NamespaceLoad:
    """CPU and memory of the namespace's workloads now, for horizontal scaling."""

    def load(end: int) -> NamespaceLoad:
        settings = prometheus_settings()
        return read_namespace_load(connect(settings), settings, namespace, end)

    return _LOAD.get(("load", namespace), load)


def workload_demand(
    namespace: str, resource: Resource, lookback_hours: int
) -> dict[WorkloadRef, DemandHistory]:
    """Total CPU or memory of each of the namespace's workloads over the lookback, for forecasts."""

    def load(end: int) -> dict[WorkloadRef, DemandHistory]:
        settings = prometheus_settings()
        return read_namespace_demand(
            connect(settings), settings, namespace, resource, end, lookback_hours * 3600
        )

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

    def load(end: int) -> dict[str, Mapping[str, str]]:
        settings = prometheus_settings()
        return nodes_of_pods(
            QueryRunner(connect(settings), settings.timeout_seconds), settings, namespace, end
        )

    return _NODES.get(("nodes", namespace), load)
