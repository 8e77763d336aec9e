"""Prometheus for the sandbox: Debian's package, installed on first use."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class ScrapeJob:
    """A target Prometheus scrapes besides the live metrics, e.g. a running operator's /metrics."""

    name: str
    target: str  # host:port
    interval_seconds: int = 15

    def config(self) -> dict[str, object]:
        interval = f"{self.interval_seconds}s"
        return {
            "job_name": self.name,
            "scrape_interval": interval,
            "scrape_timeout": interval,
            "static_configs": [{"targets": [self.target]}],
        }


def prometheus_config(live_metrics_target: str | None, scrape_jobs: Sequence[ScrapeJob] = ()) -> str:
    """Workload history comes from backfilled blocks; live series from the sandbox's live-metrics
    exporter (``host:port``), every 5 s so a test sees a change within seconds, and ``scrape_jobs``.

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
    jobs += [job.config() for job in scrape_jobs]
    document = {"global": {"scrape_interval": "15s", "evaluation_interval": "15s"}, "scrape_configs": jobs}
    return yaml.safe_dump(document, sort_keys=False)


def write_prometheus_config(
    path: Path, scrape_jobs: Sequence[ScrapeJob] = (), live_metrics_target: str | None = None
) -> bool:
    """Write the configuration; True if the file changed (a running Prometheus must read it again)."""
    text = prometheus_config(live_metrics_target, scrape_jobs)
    if path.exists() and path.read_text() == text:
        return False
    path.write_text(text)
    return True


def read_scrape_jobs(path: Path) -> list[ScrapeJob]:
    """The scrape jobs kept in ``path`` (none while it does not exist)."""
    if not path.exists():
        return []
    return [ScrapeJob(**job) for job in json.loads(path.read_text())]


def write_scrape_jobs(path: Path, jobs: Sequence[ScrapeJob]) -> None:
    path.write_text(json.dumps([dataclasses.asdict(job) for job in jobs], indent=2))


def reload_prometheus(url: str, timeout_seconds: float = 30.0) -> None:
    """Have a running Prometheus read its configuration again (it runs with --web.enable-lifecycle):
    its data and the scrapes of unchanged jobs go on. Raises PrometheusUnavailableError when it
    refuses the file or does not answer."""
    request = urllib.request.Request(f"{url}/-/reload", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout_seconds):
            return
    except urllib.error.HTTPError as err:
        raise PrometheusUnavailableError(
            f"Prometheus at {url} refused its configuration: {err.read().decode(errors='replace')}"
        ) from err
    except OSError as err:
        raise PrometheusUnavailableError(f"Prometheus at {url} did not reload: {err}") from err
