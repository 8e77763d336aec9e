"""Prometheus for the sandbox: Debian's package, installed on first use."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import yaml

Progress = Callable[[str], None]


class PrometheusUnavailableError(RuntimeError):
    pass


def ensure_prometheus(progress: Progress = print) -> tuple[Path, Path]:
    """Return (promtool, prometheus), installing Debian's `prometheus` package if they are absent."""
    found = _find()
    if found is not None:
        return found
    if shutil.which("apt-get") is None:
        raise PrometheusUnavailableError(
            "prometheus and promtool are not installed and apt-get is not available"
        )
    progress("[sandbox] installing Prometheus: apt-get install prometheus")
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "prometheus"],
    ):
        result = subprocess.run([*sudo, *command], capture_output=True, text=True, env=env, check=False)
        if result.returncode != 0:
            raise PrometheusUnavailableError(f"`{' '.join(command)}` failed:\n{result.stderr.strip()}")
    found = _find()
    if found is None:
        raise PrometheusUnavailableError(
            "apt-get installed prometheus, but prometheus/promtool are not on PATH"
        )
    return found


def _find() -> tuple[Path, Path] | None:
    promtool = shutil.which("promtool") or _existing("/usr/bin/promtool")
    prometheus = shutil.which("prometheus") or _existing("/usr/bin/prometheus")
    return (Path(promtool), Path(prometheus)) if promtool and prometheus else None


def _existing(path: str) -> str | None:
    return path if Path(path).exists() else None


LIVE_METRICS_JOB = "sandbox-live-metrics"


def prometheus_config(live_metrics_target: str | None, scrape_targets: dict[str, str] | None = None) -> str:
    """Workload history comes from backfilled blocks; live series from the sandbox's live-metrics
    exporter (``host:port``), every 5 s so a test sees a change within seconds, and named targets.

    ``honor_labels`` keeps the exporter's own ``namespace`` and ``pod`` labels if a target label ever
    has the same name; the target's ``job`` and ``instance`` labels are still added, which keeps live
    series apart from backfilled ones of the same pods (those have neither).
    """
    jobs: list[dict[str, object]] = []
    if live_metrics_target is not None:
        jobs.append(
            {
                "job_name": LIVE_METRICS_JOB,
                "scrape_interval": "5s",
                "scrape_timeout": "5s",
                "honor_labels": True,
                "static_configs": [{"targets": [live_metrics_target]}],
            }
        )
    jobs += [
        {"job_name": job, "static_configs": [{"targets": [target]}]}
        for job, target in (scrape_targets or {}).items()
    ]
    document = {"global": {"scrape_interval": "15s", "evaluation_interval": "15s"}, "scrape_configs": jobs}
    return yaml.safe_dump(document, sort_keys=False)


def write_prometheus_config(
    path: Path, scrape_targets: dict[str, str] | None = None, live_metrics_target: str | None = None
) -> bool:
    """Write the configuration; True if the file changed (a running Prometheus needs a restart)."""
    text = prometheus_config(live_metrics_target, scrape_targets)
    if path.exists() and path.read_text() == text:
        return False
    path.write_text(text)
    return True
