"""Predictive scaling on the sandbox: an Apply-mode policy with three days of backfilled history
that peaks at the same hour every day scales up ahead of today's peak, while the live load is still
at its night level, where the reactive algorithm sees nothing to scale for.

The history is a daily square wave: 0.4 cores for the workload most of the day, 3.6 cores for the
hour that starts at ``peak_at``, 20 to 25 minutes after the test starts: inside the 30-minute lead
time from the first round, so a loaded machine has all that time to steer and scale before it. The
live load stays at 0.4 cores throughout: 2 pods of 500m at 40%, under the 70% target, so every
replica above 2 is the forecast's.
"""

from __future__ import annotations

import math
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sandbox_helpers import (
    OperatorProcess,
    apply,
    condition,
    deployment_manifest,
    get,
    kubectl,
    quick_reads,
    wait_for,
)

from thrifty.sandbox.cluster import SandboxEnv, restart_prometheus
from thrifty.sandbox.inventory import read_inventory
from thrifty.sandbox.series import Container, Peak, Pod, write_openmetrics
from thrifty.sandbox.traces import Trace

pytestmark = pytest.mark.usefixtures("crds_installed")

NAMESPACE = f"ahead-{uuid.uuid4().hex[:6]}"
DAY = 86400
STEP = 300
HISTORY_SECONDS = 3.0 * DAY
SCRAPE = 60.0
MARGIN = 120.0
LEAD_SECONDS = 1800
NIGHT, PEAK = 0.1, 0.9  # of 2 cores a pod: 0.4 and 3.6 cores for the 2 pods
POD_PEAK_CORES = 2.0
REQUEST_CORES = 0.5
NIGHT_CORES = 2 * NIGHT * POD_PEAK_CORES  # the live load, all day long


POLICY = """
apiVersion: thrifty.dev/v1alpha1
kind: ScalingPolicy
metadata: {{name: shop, namespace: {namespace}}}
spec:
  targetRef: {{kind: Deployment, name: shop}}
  mode: {mode}
  horizontal:
    minReplicas: 2
    maxReplicas: 12
    metrics: [{{type: CPU, targetUtilization: 70}}]
    predictive:
      enabled: true
      leadTimeSeconds: {lead}
      lookbackHours: 72
      seasonality: Daily
"""


def window_start(now: float) -> float:
    """The wall-clock time of the first sample ``write_openmetrics`` writes for a window ending at
    ``now``: trace second s is laid at this time + s."""
    end = math.floor((now - MARGIN) / SCRAPE) * SCRAPE
    return float(end - SCRAPE * (math.ceil(HISTORY_SECONDS / SCRAPE) - 1))


def daily_peak_trace(start: float, peak_at: float) -> Trace:
    """Rows every 5 minutes from ``start``, at the peak level for the hour from ``peak_at`` each day."""
    seconds = np.arange(0, HISTORY_SECONDS + STEP, STEP, dtype=np.float64)
    in_peak = np.mod(start + seconds - peak_at, DAY) < 3600
    return Trace(seconds, np.where(in_peak, PEAK, NIGHT), np.full(len(seconds), 0.5))


def pod_peak(pod: Pod, container: Container) -> Peak:
    del pod, container
    return Peak(cpu_cores=POD_PEAK_CORES, memory_bytes=256 * 2**20)


@pytest.fixture(scope="module")
def peak_at(sandbox: SandboxEnv) -> Iterator[float]:
    kubectl(sandbox, "create", "namespace", NAMESPACE)
    load = {"sandbox.thrifty.dev/cpu": str(NIGHT_CORES)}
    apply(sandbox, deployment_manifest("shop", NAMESPACE, 2, annotations=load))
    kubectl(sandbox, "rollout", "status", "deployment/shop", "-n", NAMESPACE, "--timeout=120s")
    now = time.time()
    start = window_start(now)
    # 20 to 25 minutes ahead, on the rows' grid, so that every past day's peak starts on a row.
    peak = start + STEP * math.ceil((now + 20 * 60 - start) / STEP)
    inventory = read_inventory(sandbox.kubeconfig, NAMESPACE)
    with tempfile.TemporaryDirectory(dir=sandbox.state_dir, prefix="series-") as scratch:
        path = Path(scratch) / "daily-peak.om"
        write_openmetrics(
            path, inventory.pods, inventory.nodes, daily_peak_trace(start, peak), peak=pod_peak,
            history_seconds=HISTORY_SECONDS, scrape_interval_seconds=SCRAPE, state_interval_seconds=240,
            now=now, end_margin_seconds=MARGIN, pod_offset_span_seconds=0,
        )  # fmt: skip
        restart_prometheus(sandbox.state_dir, [path], progress=lambda _: None)
    try:
        yield float(peak)
    finally:
        kubectl(sandbox, "delete", "namespace", NAMESPACE, "--wait=false", check=False)


@pytest.fixture(scope="module")
def operator(
    sandbox: SandboxEnv, peak_at: float, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    del peak_at
    process = OperatorProcess(
        sandbox,
        tmp_path_factory.mktemp("operator") / "operator.log",
        extra_env=quick_reads(),
        namespaces=[NAMESPACE],
    ).start()
    try:
        yield process
    finally:
        kubectl(sandbox, "delete", "scalingpolicies", "--all", "-n", NAMESPACE, "--timeout=30s", check=False)
        process.stop()


def clock(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%H:%M:%S")


def test_apply_mode_scales_ahead_of_a_daily_peak(
    sandbox: SandboxEnv, operator: OperatorProcess, peak_at: float
) -> None:
    def policy(mode: str) -> str:
        return POLICY.format(namespace=NAMESPACE, mode=mode, lead=LEAD_SECONDS)

    def status() -> dict[str, Any]:
        found: dict[str, Any] = get(sandbox, "scalingpolicy", "shop", "-n", NAMESPACE).get("status") or {}
        return found

    def steering_on_a_whole_reading() -> bool:
        found = {"status": status()}
        return (
            condition(found, "Predictive").get("reason") == "Steering"
            and condition(found, "MetricsAvailable").get("reason") == "MetricsRead"
        )

    # Recommend mode first, so that the live load has been read before anything may act on it.
    apply(sandbox, policy("Recommend"))
    wait_for(
        "the forecast steering on a whole reading", steering_on_a_whole_reading, 600, operator, show=status
    )
    steering_at = time.time()
    night_percent = float(status()["currentUtilization"]["cpuPercent"])
    # The reactive algorithm alone keeps 2: 2 pods at ~40% of their requests, under the 70% target.
    assert night_percent < 70
    apply(sandbox, policy("Apply"))
    scaled: list[float] = []

    def scaled_up() -> bool:
        if replicas(sandbox) > 2:
            scaled.append(time.time())
        return bool(scaled)

    # Deadline: the peak itself and a few rounds after it; the assertion below is on the times.
    wait_for("a scale-up ahead of the peak", scaled_up, max(60.0, peak_at - time.time() + 120), operator,
             show=status)  # fmt: skip
    # The scale is made before the status that records it is written: wait for the record.
    wait_for("the scale recorded in status.lastAction", lambda: bool(status().get("lastAction")), 120,
             operator, show=status)  # fmt: skip
    last = status().get("lastAction") or {}
    assert isinstance(last, dict)
    annotations = get(sandbox, "deployment", "shop", "-n", NAMESPACE)["metadata"]["annotations"]
    print(
        f"\nforecast steering by {clock(steering_at)}, the live load at {night_percent:.0f}% of the "
        f"requests; scaled {last.get('from')} -> {last.get('to')} "
        f"seen at {clock(scaled[0])}; the daily peak starts at {clock(peak_at)} "
        f"({peak_at - scaled[0]:.0f} s later; lead time {LEAD_SECONDS} s); reason: {last.get('reason')}"
    )
    # Ahead of the peak, with the live load still at night level: the reactive count is 2.
    assert scaled[0] < peak_at
    assert annotations["sandbox.thrifty.dev/cpu"] == str(NIGHT_CORES)
    assert str(last.get("reason", "")).startswith("predictive:")
    assert "forecast of cpu" in str(last.get("reason", ""))
    # Sized for the peak at full capacity: 3.6 cores need at least 8 pods of 500m, there before it.
    needed = math.ceil(2 * PEAK * POD_PEAK_CORES / REQUEST_CORES - 1e-9)
    wait_for(f"{needed} replicas", lambda: replicas(sandbox) >= needed, 120, operator, show=status)
    print(f"{replicas(sandbox)} replicas by {clock(time.time())}")
    assert time.time() < peak_at


def replicas(env: SandboxEnv) -> int:
    return int(get(env, "deployment", "shop", "-n", NAMESPACE)["spec"]["replicas"])
