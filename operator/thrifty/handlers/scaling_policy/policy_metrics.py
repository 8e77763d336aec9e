"""Each ScalingPolicy's gauges on the operator's /metrics, set from the status an evaluation
concluded, and removed once the policy is gone: a deleted policy leaves no series behind."""

from __future__ import annotations

import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final

from prometheus_client import Gauge

from thrifty.engine.policy_gauges import (
    MONTHLY_COST,
    RECOMMENDED_MONTHLY_COST,
    RECOMMENDED_REPLICAS,
    RECOMMENDED_REQUESTS,
    REPLICAS,
    REQUESTS,
    SPOT_SHARE,
    STALE,
    policy_samples,
)

__all__ = ["GAUGES", "drop_policy_metrics_except", "publish_policy_metrics"]

_POLICY = ["namespace", "policy"]
GAUGES: Final = {
    REPLICAS: Gauge("thrifty_policy_replicas", "Replicas of the policy's workload now.", _POLICY),
    RECOMMENDED_REPLICAS: Gauge(
        "thrifty_policy_recommended_replicas", "Replicas the policy recommends.", _POLICY
    ),
    REQUESTS: Gauge(
        "thrifty_policy_requests",
        "A container's requests in the pod template now, in cores (cpu) or bytes (memory).",
        [*_POLICY, "container", "resource"],
    ),
    RECOMMENDED_REQUESTS: Gauge(
        "thrifty_policy_recommended_requests",
        "A container's recommended requests, in cores (cpu) or bytes (memory).",
        [*_POLICY, "container", "resource"],
    ),
    MONTHLY_COST: Gauge(
        "thrifty_policy_monthly_cost",
        "Monthly cost of the workload at its requests now (status.cost.monthlyCurrent).",
        [*_POLICY, "currency"],
    ),
    RECOMMENDED_MONTHLY_COST: Gauge(
        "thrifty_policy_recommended_monthly_cost",
        "Monthly cost at the recommendation (status.cost.monthlyRecommended).",
        [*_POLICY, "currency"],
    ),
    SPOT_SHARE: Gauge(
        "thrifty_policy_spot_share",
        "Fraction of the workload's placed pods on spot capacity (status.placement).",
        _POLICY,
    ),
    STALE: Gauge(
        "thrifty_policy_stale",
        "1 while the policy's Ready is False for want of data (Prometheus unavailable, no data), else 0.",
        _POLICY,
    ),
}

Series = tuple[str, tuple[str, ...]]  # (gauge, every label value)


@dataclass(frozen=True)
class _Published:
    uid: str
    values: dict[Series, float]


class _PublishedSeries:
    """The series each policy (namespace, name) has on /metrics with their values, and the uid that
    set them: a policy deleted and created again under its name keeps the series its new uid sets."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._by_policy: dict[tuple[str, str], _Published] = {}

    def replace(self, policy: tuple[str, str], published: _Published) -> tuple[list[Series], list[Series]]:
        """Record ``published``; the series whose value it changes (or adds), and those it drops."""
        with self._guard:
            before = self._by_policy.get(policy)
            self._by_policy[policy] = published
        old = {} if before is None else before.values
        changed = [series for series, value in published.values.items() if old.get(series) != value]
        return changed, [series for series in old if series not in published.values]

    def drop_except(self, uids: Collection[str]) -> list[Series]:
        """Forget every policy whose uid is not in ``uids``; the series they had."""
        with self._guard:
            gone = [key for key, published in self._by_policy.items() if published.uid not in uids]
            return [series for key in gone for series in self._by_policy.pop(key).values]


_PUBLISHED = _PublishedSeries()


def publish_policy_metrics(uid: str, namespace: str, name: str, status: Mapping[str, Any]) -> None:
    """Set the policy's gauges from ``status`` (wire form), and remove those it no longer gives (a
    container that left the recommendation, a cost without a figure). Most rounds change no figure of
    most policies: only what moved is set."""
    values = {
        (sample.gauge, (namespace, name, *sample.labels)): sample.value for sample in policy_samples(status)
    }
    changed, dropped = _PUBLISHED.replace((namespace, name), _Published(uid, values))
    for series in changed:
        gauge, labels = series
        GAUGES[gauge].labels(*labels).set(values[series])
    _remove(dropped)


def drop_policy_metrics_except(uids: Collection[str]) -> None:
    """Remove the series of every policy whose uid is not in ``uids`` (the policies that exist)."""
    _remove(_PUBLISHED.drop_except(uids))


def _remove(series: Collection[Series]) -> None:
    for gauge, labels in series:
        GAUGES[gauge].remove(*labels)
