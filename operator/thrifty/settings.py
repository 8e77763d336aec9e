"""The operator's settings, all from the environment: how often it decides, how it reaches
Prometheus and which metric names it reads.

Intervals are read once at import, because kopf's timer decorators need them then. Prometheus
settings are read on first use (``prometheus_settings()``), so a CLI that is given a URL on its
command line never needs the variable.

Metric names default to cAdvisor's, kube-state-metrics' and OpenCost's and can be renamed one by one
(recording rules, prefixed federation, older exporters) with ``THRIFTY_METRIC_<FIELD>``, e.g.
``THRIFTY_METRIC_CPU_USAGE=container_cpu_usage_seconds_total`` or
``THRIFTY_METRIC_NODE_CPU_HOURLY_COST=node_cpu_hourly_cost``.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Final

__all__ = [
    "ANNOTATION_PREFIX",
    "API_CONNECTIONS",
    "CAPACITY_TYPE_ANNOTATION",
    "EVALUATION_SECONDS",
    "HORIZONTAL_SYNC_SECONDS",
    "PLACEMENT_MARK_ANNOTATION",
    "RESYNC_SECONDS",
    "ROUND_WORKERS",
    "STATUS_REFRESH_SECONDS",
    "CostMetricNames",
    "MetricNames",
    "PrometheusSettings",
    "WebhookSettings",
    "interval_seconds",
    "parse_duration",
    "positive_count",
    "prometheus_settings",
]

DEFAULT_LOOKBACK: Final = timedelta(days=14)

# Metric names go into PromQL unquoted, so anything but a valid name is refused here.
_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw]?)")
_UNIT_SECONDS: Final = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off", ""})


@dataclass(frozen=True)
class MetricNames:
    """The series each query reads; the field name is also the ``metric`` label of the query counter."""

    cpu_usage: str = "container_cpu_usage_seconds_total"
    memory_working_set: str = "container_memory_working_set_bytes"
    resource_requests: str = "kube_pod_container_resource_requests"
    resource_limits: str = "kube_pod_container_resource_limits"
    pod_owner: str = "kube_pod_owner"
    replicaset_owner: str = "kube_replicaset_owner"
    last_terminated_reason: str = "kube_pod_container_status_last_terminated_reason"
    restarts: str = "kube_pod_container_status_restarts_total"

    def __post_init__(self) -> None:
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if not _METRIC_NAME.fullmatch(value):
                raise ValueError(f"metric name for {item.name} is not a valid Prometheus name: {value!r}")

    def all(self) -> tuple[str, ...]:
        return tuple(getattr(self, item.name) for item in dataclasses.fields(self))


@dataclass(frozen=True)
class CostMetricNames:
    """The series spend is read from, beyond ``MetricNames``: where pods ran and what nodes are
    (kube-state-metrics), and OpenCost's allocations and prices where OpenCost runs.

    Kept apart from ``MetricNames`` so the usage queries, which list those, stay as they are. Field
    names are the ``metric`` label of the query counter too, and never repeat one of ``MetricNames``
    (both share the ``THRIFTY_METRIC_<FIELD>`` variables).
    """

    pod_info: str = "kube_pod_info"
    node_labels: str = "kube_node_labels"
    container_cpu_allocation: str = "container_cpu_allocation"
    container_memory_allocation: str = "container_memory_allocation_bytes"
    container_gpu_allocation: str = "container_gpu_allocation"
    node_cpu_hourly_cost: str = "node_cpu_hourly_cost"
    node_ram_hourly_cost: str = "node_ram_hourly_cost"
    node_gpu_hourly_cost: str = "node_gpu_hourly_cost"
    node_is_spot: str = "kubecost_node_is_spot"

    def __post_init__(self) -> None:
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if not _METRIC_NAME.fullmatch(value):
                raise ValueError(f"metric name for {item.name} is not a valid Prometheus name: {value!r}")


@dataclass(frozen=True)
class PrometheusSettings:
    url: str
    bearer_token_file: Path | None = None
    ca_file: Path | None = None
    insecure_skip_verify: bool = False
    timeout_seconds: float = 30.0
    # Retries of connection errors and 429/502/503/504 before a query counts as failed.
    retries: int = 2
    lookback: timedelta = DEFAULT_LOOKBACK
    # The scrape interval of cAdvisor and kube-state-metrics: the finest step worth asking for and the
    # unit the CPU rate window is sized in.
    scrape_interval_seconds: float = 60.0
    metrics: MetricNames = field(default_factory=MetricNames)
    cost_metrics: CostMetricNames = field(default_factory=CostMetricNames)

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"Prometheus URL must start with http:// or https://, got {self.url!r}")
        if self.insecure_skip_verify and self.ca_file is not None:
            raise ValueError("set either a CA file or insecure TLS for Prometheus, not both")
        if self.timeout_seconds <= 0 or self.scrape_interval_seconds <= 0:
            raise ValueError("Prometheus timeout and scrape interval must be positive")
        if self.lookback.total_seconds() <= 0:
            raise ValueError("Prometheus lookback must be positive")
        if self.retries < 0:
            raise ValueError("Prometheus retries must not be negative")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PrometheusSettings:
        """Read ``PROMETHEUS_URL`` (required) and the optional ``THRIFTY_PROMETHEUS_*`` variables."""
        env = os.environ if environ is None else environ
        url = env.get("PROMETHEUS_URL", "").strip()
        if not url:
            raise ValueError("PROMETHEUS_URL is not set; point it at the Prometheus that scrapes the cluster")
        defaults = cls(url=url)
        names = {
            item.name: env.get(f"THRIFTY_METRIC_{item.name.upper()}", getattr(MetricNames(), item.name))
            for item in dataclasses.fields(MetricNames)
        }
        cost_names = {
            item.name: env.get(f"THRIFTY_METRIC_{item.name.upper()}", getattr(CostMetricNames(), item.name))
            for item in dataclasses.fields(CostMetricNames)
        }
        return cls(
            url=url.rstrip("/"),
            bearer_token_file=_path(env.get("THRIFTY_PROMETHEUS_TOKEN_FILE")),
            ca_file=_path(env.get("THRIFTY_PROMETHEUS_CA_FILE")),
            insecure_skip_verify=_flag(env, "THRIFTY_PROMETHEUS_INSECURE_SKIP_VERIFY"),
            timeout_seconds=_seconds(env, "THRIFTY_PROMETHEUS_TIMEOUT", defaults.timeout_seconds),
            retries=int(env.get("THRIFTY_PROMETHEUS_RETRIES", defaults.retries)),
            lookback=timedelta(
                seconds=_seconds(env, "THRIFTY_PROMETHEUS_LOOKBACK", defaults.lookback.total_seconds())
            ),
            scrape_interval_seconds=_seconds(
                env, "THRIFTY_PROMETHEUS_SCRAPE_INTERVAL", defaults.scrape_interval_seconds
            ),
            metrics=MetricNames(**names),
            cost_metrics=CostMetricNames(**cost_names),
        )


def parse_duration(text: str) -> float:
    """Seconds in a Prometheus-style duration with one unit ("90s", "36h", "14d", "2w") or bare seconds."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not a duration: {text!r} (expected e.g. 300, 90s, 36h, 14d)")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        return parse_duration(raw)
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(f"{name} must be true or false, got {raw!r}")


def _path(raw: str | None) -> Path | None:
    return Path(raw) if raw else None


def interval_seconds(name: str, default: float, environ: Mapping[str, str] | None = None) -> float:
    """A positive number of seconds from the environment variable ``name``, else ``default``."""
    raw = (os.environ if environ is None else environ).get(name)
    if raw is None:
        return default
    value = float(raw)
    if value <= 0:
        raise ValueError(f"{name} must be a positive number of seconds, got {raw!r}")
    return value


def positive_count(name: str, default: int, environ: Mapping[str, str] | None = None) -> int:
    """A positive whole number from the environment variable ``name``, else ``default``."""
    raw = (os.environ if environ is None else environ).get(name)
    if raw is None:
        return default
    if not raw.strip().isdigit() or int(raw) <= 0:
        raise ValueError(f"{name} must be a positive whole number, got {raw!r}")
    return int(raw)


# Kopf's progress, diff-base and finalizer live under this prefix, and so do Thrifty's annotations.
ANNOTATION_PREFIX: Final = "thrifty.dev"
# What the pod placement webhook writes on a pod it places: the capacity type it sent the pod to, and
# a mark of that decision, by which the webhook knows the pod once the watch delivers it.
CAPACITY_TYPE_ANNOTATION: Final = f"{ANNOTATION_PREFIX}/capacity-type"
PLACEMENT_MARK_ANNOTATION: Final = f"{ANNOTATION_PREFIX}/placement"
# How often the evaluation round goes over every ScalingPolicy (and every budget and CostPolicy is
# re-checked); a round a horizontal sync, so each round has fresh load to decide on.
RESYNC_SECONDS: Final = interval_seconds("THRIFTY_RESYNC_SECONDS", 15.0)
# How many policies a round evaluates at once: their status writes and scale calls wait on the API
# server, so a round in which many recommendations change is not as long as its writes in a row.
ROUND_WORKERS: Final = positive_count("THRIFTY_ROUND_WORKERS", 4)
# How many connections kopf keeps to the API server at most (its watch streams hold one each).
API_CONNECTIONS: Final = positive_count("THRIFTY_API_CONNECTIONS", 64)
# How often usage history is read from Prometheus (one batch for every namespace with a policy).
EVALUATION_SECONDS: Final = interval_seconds("THRIFTY_EVALUATION_SECONDS", 60.0)
# How often replicas are decided (the HPA's --horizontal-pod-autoscaler-sync-period is 15 s).
HORIZONTAL_SYNC_SECONDS: Final = interval_seconds("THRIFTY_HORIZONTAL_SYNC_SECONDS", 15.0)
# Set, the longest a status that reads the same to a user goes unwritten (live figures move by less
# than they are shown with meanwhile). Unset, never: writes follow what changes, not the clock.
STATUS_REFRESH_SECONDS: Final = interval_seconds("THRIFTY_STATUS_REFRESH_SECONDS", math.inf)

_PROMETHEUS: list[PrometheusSettings] = []


def prometheus_settings() -> PrometheusSettings:
    """The operator's Prometheus settings, read from the environment once, on first use."""
    if not _PROMETHEUS:
        _PROMETHEUS.append(PrometheusSettings.from_env())
    return _PROMETHEUS[0]


@dataclass(frozen=True)
class WebhookSettings:
    """The pod placement webhook: where it listens, the host the API server calls it by, its
    certificate, and whether the operator writes the MutatingWebhookConfiguration itself."""

    port: int  # 0: no webhook, so new pods are not placed (drift is still corrected)
    address: str
    host: str
    cert_dir: Path | None  # tls.crt and tls.key (a cert-manager Secret's keys); None: self-signed
    write_configuration: bool
    own_namespace: str | None  # the operator's namespace, never placed

    @staticmethod
    def from_env(env: Mapping[str, str] | None = None) -> WebhookSettings:
        env = os.environ if env is None else env
        raw_port = env.get("THRIFTY_WEBHOOK_PORT", "9443").strip()
        if not raw_port.isdigit() or int(raw_port) > 65535:
            raise ValueError(f"THRIFTY_WEBHOOK_PORT must be a port number or 0, got {raw_port!r}")
        address = env.get("THRIFTY_WEBHOOK_ADDRESS", "127.0.0.1")
        mode = env.get("THRIFTY_WEBHOOK_CONFIGURATION", "write")
        if mode not in ("write", "none"):
            raise ValueError(f"THRIFTY_WEBHOOK_CONFIGURATION must be write or none, got {mode!r}")
        cert_dir = env.get("THRIFTY_WEBHOOK_CERT_DIR")
        return WebhookSettings(
            port=int(raw_port),
            address=address,
            host=env.get("THRIFTY_WEBHOOK_HOST") or address,
            cert_dir=Path(cert_dir) if cert_dir else None,
            write_configuration=mode == "write",
            own_namespace=env.get("POD_NAMESPACE") or None,
        )
