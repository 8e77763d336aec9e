"""One batch of Prometheus queries per namespace per evaluation round, shared by all its policies.

Policies are reconciled one by one (kopf timers), but their history is read per namespace: the
first policy of a round queries, the others of that round reuse the answer, including a failure,
so an outage costs one attempt per namespace per round, not one per policy. Nothing here is state
that matters: losing it costs one round of queries.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from thrifty.sources.prometheus_config import PrometheusSettings
from thrifty.sources.prometheus_http import MetricsUnavailableError, connect
from thrifty.sources.usage import NamespaceUsage, read_namespace_usage

log = logging.getLogger(__name__)


@dataclass
class _Entry:
    round: int
    usage: NamespaceUsage | None
    error: MetricsUnavailableError | None


class NamespaceUsageCache:
    def __init__(self, round_seconds: float) -> None:
        self.round_seconds = round_seconds
        self._settings: PrometheusSettings | None = None
        self._guard = threading.Lock()
        self._locks: dict[tuple[str, int], threading.Lock] = {}
        self._entries: dict[tuple[str, int], _Entry] = {}

    def settings(self) -> PrometheusSettings:
        if self._settings is None:
            self._settings = PrometheusSettings.from_env()
        return self._settings

    def usage(self, namespace: str, lookback_hours: int) -> NamespaceUsage:
        """This round's usage of the namespace; raises MetricsUnavailableError as this round did."""
        key = (namespace, lookback_hours)
        now = time.time()
        current_round = int(now // self.round_seconds)
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            entry = self._entries.get(key)
            if entry is None or entry.round != current_round:
                entry = self._query(namespace, lookback_hours, current_round)
                self._entries[key] = entry
        if entry.error is not None:
            raise entry.error
        assert entry.usage is not None
        return entry.usage

    def _query(self, namespace: str, lookback_hours: int, current_round: int) -> _Entry:
        settings = self.settings()
        end = datetime.fromtimestamp(current_round * self.round_seconds, UTC)
        try:
            client = connect(settings)
            usage = read_namespace_usage(
                client, settings, namespace, None, end, lookback=timedelta(hours=lookback_hours)
            )
        except MetricsUnavailableError as err:
            log.warning(
                "namespace %s: Prometheus unavailable (%s); nothing is changed this round", namespace, err
            )
            return _Entry(current_round, None, err)
        log.info(
            "namespace %s: %d Prometheus queries for %d containers of %d workloads",
            namespace,
            usage.queries,
            len(usage.containers),
            len({(c.kind, c.workload) for c in usage.containers}),
        )
        return _Entry(current_round, usage, None)
