"""PrometheusSettings from the environment: defaults, overrides and refusals."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from thrifty.settings import MetricNames, PrometheusSettings, parse_duration


def test_defaults_need_only_the_url() -> None:
    settings = PrometheusSettings.from_env({"PROMETHEUS_URL": "http://prometheus:9090/"})

    assert settings.url == "http://prometheus:9090"
    assert settings.lookback == timedelta(days=14)
    assert settings.bearer_token_file is None
    assert settings.ca_file is None
    assert settings.insecure_skip_verify is False
    assert settings.metrics == MetricNames()
    assert settings.metrics.cpu_usage == "container_cpu_usage_seconds_total"
    assert settings.metrics.pod_owner == "kube_pod_owner"


def test_every_setting_comes_from_its_variable() -> None:
    settings = PrometheusSettings.from_env(
        {
            "PROMETHEUS_URL": "https://thanos.monitoring.svc:9091",
            "THRIFTY_PROMETHEUS_TOKEN_FILE": "/var/run/secrets/token",
            "THRIFTY_PROMETHEUS_CA_FILE": "/etc/ca.crt",
            "THRIFTY_PROMETHEUS_TIMEOUT": "45s",
            "THRIFTY_PROMETHEUS_RETRIES": "0",
            "THRIFTY_PROMETHEUS_LOOKBACK": "7d",
            "THRIFTY_PROMETHEUS_SCRAPE_INTERVAL": "30",
            "THRIFTY_METRIC_CPU_USAGE": "node_namespace_pod_container:container_cpu_usage_seconds_total",
            "THRIFTY_METRIC_RESTARTS": "kube_pod_container_status_restarts",
        }
    )

    assert settings.bearer_token_file == Path("/var/run/secrets/token")
    assert settings.ca_file == Path("/etc/ca.crt")
    assert (settings.timeout_seconds, settings.retries) == (45.0, 0)
    assert settings.lookback == timedelta(days=7)
    assert settings.scrape_interval_seconds == 30.0
    assert settings.metrics.cpu_usage == "node_namespace_pod_container:container_cpu_usage_seconds_total"
    assert settings.metrics.restarts == "kube_pod_container_status_restarts"
    assert settings.metrics.memory_working_set == "container_memory_working_set_bytes"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "PROMETHEUS_URL is not set"),
        ({"PROMETHEUS_URL": "prometheus:9090"}, "http:// or https://"),
        ({"PROMETHEUS_URL": "http://p", "THRIFTY_METRIC_POD_OWNER": 'kube_pod_owner{x="1"}'}, "not a valid"),
        (
            {
                "PROMETHEUS_URL": "https://p",
                "THRIFTY_PROMETHEUS_CA_FILE": "/ca",
                "THRIFTY_PROMETHEUS_INSECURE_SKIP_VERIFY": "true",
            },
            "not both",
        ),
        ({"PROMETHEUS_URL": "http://p", "THRIFTY_PROMETHEUS_LOOKBACK": "two weeks"}, "LOOKBACK"),
        ({"PROMETHEUS_URL": "http://p", "THRIFTY_PROMETHEUS_INSECURE_SKIP_VERIFY": "maybe"}, "true or false"),
    ],
)
def test_refused(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PrometheusSettings.from_env(environ)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("300", 300), ("90s", 90), ("5m", 300), ("36h", 129_600), ("14d", 1_209_600), ("2w", 1_209_600)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds
