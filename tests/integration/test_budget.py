"""Acceptance of ResourceBudget: `thrifty run` against the sandbox, with backfilled request and usage
series of pods on spot and on-demand KWOK nodes.

- status.spent matches OpenCost's formula computed here, independently, within 1%;
- 50% and 80% fire once each (Events and status), not again after a restart, and again in a new period;
- BlockScaleUp keeps an Apply-mode ScalingPolicy at its replicas although its metrics ask for more;
- with Prometheus stopped, the budget keeps its numbers and says they are stale.

The usage is flat on purpose (0.2 cores and 1.5 GiB against requests of 500m and 1 GiB, the worked
example of OpenCost's documentation), so the expected spend is a closed form of hours and rates.
"""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sandbox_helpers import (
    OPENCOST_COST_POLICY,
    OPENCOST_RATES,
    OperatorProcess,
    apply,
    budget_rounds_logged,
    condition,
    deployment_manifest,
    get,
    kubectl,
    quick_reads,
    scaling_policy_manifest,
    wait_for,
)

from budget_periods import HISTORY_HOURS, SPENT_OF_AMOUNT, first_period, new_period
from thrifty.sandbox import cluster
from thrifty.sandbox.cluster import SandboxEnv
from thrifty.sandbox.inventory import read_inventory
from thrifty.sandbox.series import Peak, write_openmetrics
from thrifty.sandbox.traces import Trace

pytestmark = pytest.mark.usefixtures("crds_installed")

NS = f"budget-{uuid.uuid4().hex[:6]}"
GiB = 2**30
REQUEST = (0.5, 1.0)  # cores, GiB
USAGE = (0.2, 1.5)


def deployment(name: str, replicas: int, capacity: str | None) -> str:
    selector = {"karpenter.sh/capacity-type": capacity} if capacity else None
    return deployment_manifest(name, NS, replicas, memory="1Gi", node_selector=selector)


def budget(
    name: str, amount: float, enforcement: str, period: Mapping[str, object], selector: str = ""
) -> str:
    """``period``: the spec's period and periodStart fields (budget_periods chooses them)."""
    return f"""
apiVersion: thrifty.dev/v1alpha1
kind: ResourceBudget
metadata: {{name: {name}}}
spec:
  amount: {amount}
  currency: USD
  period: {period["period"]}
  periodStart: {json.dumps(period["periodStart"])}
  scope: {{namespaces: [{NS}]{selector}}}
  thresholds: [50, 80, 100]
  enforcement: {enforcement}
"""


@dataclass(frozen=True)
class History:
    expected_spend: float
    by_capacity: dict[str, int]
    first_period: dict[str, object]  # holds the whole history


@pytest.fixture(scope="module")
def history(sandbox: SandboxEnv) -> Iterator[History]:
    kubectl(sandbox, "create", "namespace", NS)
    apply(sandbox, OPENCOST_COST_POLICY)
    for name, replicas, capacity in (("spot-api", 2, "spot"), ("od-api", 1, "on-demand"), ("web", 1, None)):
        apply(sandbox, deployment(name, replicas, capacity))
        kubectl(sandbox, "rollout", "status", f"deployment/{name}", "-n", NS, "--timeout=120s")
    inventory = read_inventory(sandbox.kubeconfig, NS)
    capacity_of = {n.name: n.labels["karpenter.sh/capacity-type"] for n in inventory.nodes}
    steps = HISTORY_HOURS * 12 + 1
    flat = Trace(np.arange(steps) * 300.0, np.ones(steps), np.ones(steps))
    with tempfile.TemporaryDirectory(dir=sandbox.state_dir) as scratch:
        path = Path(scratch) / "budget.om"
        summary = write_openmetrics(
            path, inventory.pods, inventory.nodes, flat,
            peak=lambda *_: Peak(USAGE[0], USAGE[1] * GiB), history_seconds=HISTORY_HOURS * 3600.0,
            pod_offset_span_seconds=0,
        )  # fmt: skip
        cluster.restart_prometheus(sandbox.state_dir, [path], progress=lambda _: None)
    hours = summary.window_seconds / 3600.0
    expected = 0.0
    by_capacity: dict[str, int] = {}
    for pod in inventory.pods:
        capacity = capacity_of[pod.node]
        by_capacity[capacity] = by_capacity.get(capacity, 0) + 1
        cpu_rate, memory_rate = OPENCOST_RATES[capacity]
        # OpenCost: allocation = max(request, usage), priced at the node's rates.
        expected += hours * (max(REQUEST[0], USAGE[0]) * cpu_rate + max(REQUEST[1], USAGE[1]) * memory_rate)
    yield History(expected, by_capacity, first_period(time.time()))
    kubectl(sandbox, "delete", "namespace", NS, "--wait=false", check=False)


EVALUATION_SECONDS = 5
# A round's status is written after its spend is logged: three logged rounds hold two whole ones.
RESTARTED_ROUNDS = 3


def start_operator(sandbox: SandboxEnv, log: Path) -> OperatorProcess:
    return OperatorProcess(
        sandbox,
        log,
        extra_env=quick_reads(EVALUATION_SECONDS),
    ).start()


@pytest.fixture(scope="module")
def operator(
    sandbox: SandboxEnv, history: History, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    process = start_operator(sandbox, tmp_path_factory.mktemp("operator") / "operator.log")
    try:
        yield process
    finally:
        kubectl(sandbox, "delete", "resourcebudgets", "team", "block", "--timeout=30s", check=False)
        kubectl(sandbox, "delete", "scalingpolicies", "--all", "-n", NS, "--timeout=30s", check=False)
        process.stop()


def rounds_logged(operator: OperatorProcess, budget: str, at_least: int) -> bool:
    return len(budget_rounds_logged(operator, budget)) >= at_least


def budget_status(env: SandboxEnv, name: str) -> dict[str, Any]:
    return dict(get(env, "resourcebudget", name).get("status") or {})


def threshold_events(env: SandboxEnv, name: str) -> list[dict[str, Any]]:
    items = get(
        env, "events", "-A", "--field-selector", f"reason=ThresholdReached,involvedObject.name={name}"
    )
    return list(items["items"])


def test_spend_thresholds_restart_and_new_period(
    sandbox: SandboxEnv, history: History, operator: OperatorProcess, tmp_path: Path
) -> None:
    assert history.by_capacity.get("spot"), history.by_capacity
    assert history.by_capacity.get("on-demand"), history.by_capacity
    amount = round(history.expected_spend / SPENT_OF_AMOUNT, 4)  # spend at 85%: 50 and 80 fire, 100 does not
    apply(sandbox, budget("team", amount, "Alert", history.first_period))
    wait_for(
        "spent, and thresholds 50 and 80 fired",
        lambda: [f["percent"] for f in budget_status(sandbox, "team").get("firedThresholds", [])] == [50, 80],
        120,
        operator,
        show=lambda: budget_status(sandbox, "team"),
    )
    status = budget_status(sandbox, "team")
    print(f"\nspent {status['spent']} vs OpenCost's formula {history.expected_spend:.4f}; {status}")
    assert status["spent"] == pytest.approx(history.expected_spend, rel=0.01)
    # Flat spend at 85% three days into a week-long period: the forecast runs far over the amount.
    hourly = history.expected_spend / HISTORY_HOURS
    end = datetime.fromisoformat(status["periodEnd"]).timestamp()
    assert status["forecast"] == pytest.approx(
        status["spent"] + hourly * (end - time.time()) / 3600, rel=0.05
    )
    assert status["state"] == "ForecastOverrun"
    assert status["forecastMethod"] in ("DailySeasonal", "Linear")
    budget_object = get(sandbox, "resourcebudget", "team")
    assert condition(budget_object, "ThresholdReached")["status"] == "True"
    assert condition(budget_object, "ForecastOverrun")["status"] == "True"
    table = kubectl(sandbox, "get", "resourcebudget", "team").stdout
    assert "ForecastOverrun" in table
    fired = threshold_events(sandbox, "team")
    assert sorted(e["message"].split("%")[0] for e in fired) == ["50", "80"]

    operator.stop()
    restarted = start_operator(sandbox, tmp_path / "restarted.log")
    try:
        # Rounds of the restarted operator, not seconds: a loaded machine may fit none in a few.
        wait_for(
            f"{RESTARTED_ROUNDS} rounds of the restarted operator",
            partial(rounds_logged, restarted, "team", RESTARTED_ROUNDS),
            RESTARTED_ROUNDS * EVALUATION_SECONDS + 120,
            restarted,
        )
        assert len(threshold_events(sandbox, "team")) == len(fired)
        assert [f["percent"] for f in budget_status(sandbox, "team")["firedThresholds"]] == [50, 80]

        # A period that began 54 hours ago holds three quarters of the spend: a new period, fired anew.
        before = budget_status(sandbox, "team")["periodStart"]
        apply(sandbox, budget("team", amount, "Alert", new_period(time.time())))
        wait_for(
            "a new period with only 50 fired",
            lambda: (
                budget_status(sandbox, "team").get("periodStart") != before
                and [f["percent"] for f in budget_status(sandbox, "team")["firedThresholds"]] == [50]
            ),
            120,
            restarted,
            show=lambda: budget_status(sandbox, "team"),
        )
    finally:
        restarted.stop()
        operator.start()


def test_block_scale_up_holds_a_policy_that_asks_for_more(
    sandbox: SandboxEnv, history: History, operator: OperatorProcess
) -> None:
    apply(
        sandbox,
        budget(
            "block",
            0.01,
            "BlockScaleUp",
            history.first_period,
            ", workloadSelector: {matchLabels: {app: web}}",
        ),
    )
    wait_for(
        "the budget enforces",
        lambda: (budget_status(sandbox, "block").get("enforcement") or {}).get("active") is True,
        120,
        operator,
        show=lambda: budget_status(sandbox, "block"),
    )
    kubectl(sandbox, "annotate", "deployment/web", "-n", NS, "sandbox.thrifty.dev/cpu=2", "--overwrite")
    apply(
        sandbox,
        f"""
apiVersion: thrifty.dev/v1alpha1
kind: ScalingPolicy
metadata: {{name: web, namespace: {NS}}}
spec:
  targetRef: {{kind: Deployment, name: web}}
  mode: Apply
  horizontal:
    maxReplicas: 10
    metrics: [{{type: CPU, targetUtilization: 50}}]
""",
    )

    def limited() -> bool:
        obj = get(sandbox, "scalingpolicy", "web", "-n", NS)
        util = (obj.get("status", {}).get("currentUtilization") or {}).get("cpuPercent") or 0
        return condition(obj, "BudgetLimited").get("status") == "True" and util > 100

    wait_for("BudgetLimited=True while CPU is far above target", limited, 120, operator,
             show=lambda: get(sandbox, "scalingpolicy", "web", "-n", NS).get("status"))  # fmt: skip
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert get(sandbox, "deployment", "web", "-n", NS)["spec"]["replicas"] == 1
        time.sleep(1)
    status = get(sandbox, "scalingpolicy", "web", "-n", NS)["status"]
    assert status["recommendation"]["replicas"] == 1
    assert "budget block" in status["recommendation"]["reason"]
    # The other workloads are outside the selector: the budget does not hold them.
    assert budget_status(sandbox, "block")["spent"] < budget_status(sandbox, "team")["spent"]


def scaling_policy(name: str, priority: int, min_replicas: int) -> str:
    return scaling_policy_manifest(name, NS, min_replicas=min_replicas, priority=priority)


def test_scale_down_takes_the_lowest_priority_down_first_and_never_below_min_replicas(
    sandbox: SandboxEnv, history: History, operator: OperatorProcess
) -> None:
    """ScaleDown end to end: spend is past the amount, so every governed workload in scope goes down
    to its policy's minReplicas, the lowest priority first, though CPU asks for more."""
    for name in ("spot-api", "od-api"):
        kubectl(
            sandbox, "annotate", f"deployment/{name}", "-n", NS, "sandbox.thrifty.dev/cpu=3", "--overwrite"
        )
        kubectl(sandbox, "scale", f"deployment/{name}", "-n", NS, "--replicas=3")
    selector = (
        ", workloadSelector: {matchExpressions: [{key: app, operator: In, values: [spot-api, od-api]}]}"
    )
    apply(sandbox, budget("cut", 0.01, "ScaleDown", history.first_period, selector))
    apply(sandbox, scaling_policy("spot-api", priority=10, min_replicas=2))
    apply(sandbox, scaling_policy("od-api", priority=100, min_replicas=1))

    def replicas(name: str) -> int:
        return int(get(sandbox, "deployment", name, "-n", NS)["spec"]["replicas"])

    try:
        wait_for(
            "both down to their minReplicas",
            lambda: (replicas("spot-api"), replicas("od-api")) == (2, 1),
            180,
            operator,
            show=lambda: (budget_status(sandbox, "cut"), replicas("spot-api"), replicas("od-api")),
        )
        enforcement = budget_status(sandbox, "cut")["enforcement"]
        assert enforcement["active"] is True
        held = [(w["name"], w["maxReplicas"]) for w in enforcement["workloads"]]
        assert held == [("spot-api", 2), ("od-api", 1)], enforcement  # lowest priority first
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # CPU at 200% of target asks for 10: the cap holds
            assert (replicas("spot-api"), replicas("od-api")) == (2, 1)
            time.sleep(1)
        for name in ("spot-api", "od-api"):
            status = get(sandbox, "scalingpolicy", name, "-n", NS)["status"]
            assert condition({"status": status}, "BudgetLimited").get("status") == "True", status
            assert "budget cut" in status["recommendation"]["reason"], status
    finally:
        kubectl(
            sandbox, "delete", "scalingpolicy", "spot-api", "od-api", "-n", NS, "--timeout=30s", check=False
        )
        kubectl(sandbox, "delete", "resourcebudget", "cut", "--timeout=30s", check=False)


def test_stale_numbers_are_kept_while_prometheus_is_stopped(
    sandbox: SandboxEnv, history: History, operator: OperatorProcess
) -> None:
    wait_for(
        "team has a spend", lambda: budget_status(sandbox, "team").get("spent") is not None, 60, operator
    )
    before = budget_status(sandbox, "team")
    cluster.stop_prometheus(sandbox.state_dir)
    try:
        wait_for(
            "stale",
            lambda: budget_status(sandbox, "team").get("stale") is True,
            60,
            operator,
            show=lambda: budget_status(sandbox, "team"),
        )
        status = budget_status(sandbox, "team")
        assert status["spent"] == before["spent"]
        assert status["forecast"] == before["forecast"]
        known = condition(get(sandbox, "resourcebudget", "team"), "SpendKnown")
        assert (known["status"], known["reason"]) == ("False", "PrometheusUnavailable")
        assert get(sandbox, "deployment", "web", "-n", NS)["spec"]["replicas"] == 1
    finally:
        cluster.restart_prometheus(sandbox.state_dir, progress=lambda _: None)
