"""The Grafana dashboard the chart ships, against the sandbox's Prometheus scraping `thrifty run`:
every panel's query is valid and returns at least one series.

The examples give every figure data (the demo workload's history prices its recommendation, the
CostPolicy places it, the budget tracks its namespace), and an Apply-mode policy whose load asks for
more replicas makes an action to count. Prometheus scrapes the operator every few seconds, so rates
over 5 minutes have two samples soon after it starts.

Then a deleted policy's series leave /metrics.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sandbox_helpers import (
    REPO,
    OperatorProcess,
    apply,
    deployment_manifest,
    kubectl,
    quick_reads,
    scaling_policy_manifest,
    wait_for,
)

from dashboard_panels import PanelQuery, load_dashboard, panel_queries
from thrifty.sandbox import cluster
from thrifty.sandbox.cluster import SandboxEnv
from thrifty.sandbox.prometheus import ScrapeJob

pytestmark = pytest.mark.usefixtures("crds_installed", "demo_history")

NS = f"dash-{uuid.uuid4().hex[:6]}"
# The dashboard finds the operator's scrape by its job's name, as a ServiceMonitor names it.
JOB = "thrifty"
SCRAPE_SECONDS = 5
# A limit for an eventual state (first readings, a scale, two scrapes of each), not a benchmark.
DEADLINE_SECONDS = 300
POLL_SECONDS = 5


@pytest.fixture(scope="module")
def operator(sandbox: SandboxEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OperatorProcess]:
    kubectl(sandbox, "create", "namespace", NS)
    # 1.2 cores on one pod of 500m is 240% against a 50% target: the policy scales it up.
    apply(sandbox, deployment_manifest("web", NS, 1, {"sandbox.thrifty.dev/cpu": "1.2"}))
    process = OperatorProcess(
        sandbox,
        tmp_path_factory.mktemp("operator") / "operator.log",
        extra_env=quick_reads(),
    ).start()
    try:
        cluster.add_scrape_job(
            sandbox.state_dir, ScrapeJob(JOB, f"127.0.0.1:{process.metrics_port}", SCRAPE_SECONDS)
        )
        kubectl(sandbox, "apply", "-f", str(REPO / "examples"))
        apply(sandbox, scaling_policy_manifest("web", NS))
        yield process
    finally:
        cluster.remove_scrape_job(sandbox.state_dir, JOB)
        kubectl(sandbox, "delete", "scalingpolicies", "--all", "-n", NS, "--timeout=30s", check=False)
        process.stop()
        kubectl(sandbox, "delete", "namespace", NS, "--wait=false", check=False)


class InvalidQueryError(AssertionError):
    pass


def series_of(env: SandboxEnv, query: PanelQuery) -> list[dict[str, Any]]:
    """The series an instant query returns now; InvalidQueryError, naming the panel, when
    Prometheus refuses the query."""
    url = f"{env.prometheus_url}/api/v1/query?{urllib.parse.urlencode({'query': query.expr})}"
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as err:
        if err.code in (400, 422):
            raise InvalidQueryError(f"{query}: {err.read().decode(errors='replace')}") from err
        raise
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def test_every_panel_query_returns_data(sandbox: SandboxEnv, operator: OperatorProcess) -> None:
    queries = panel_queries(load_dashboard())
    assert queries
    applied_scale = PanelQuery(
        "(an applied scale, counted)", "-", 'thrifty_actions_total{kind="scale",result="applied"} > 0'
    )
    empty = [*queries, applied_scale]
    answered: dict[PanelQuery, list[dict[str, Any]]] = {}
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        answered |= {query: found for query in empty if (found := series_of(sandbox, query))}
        empty = [query for query in empty if query not in answered]
        if not empty or time.monotonic() >= deadline:
            break
        time.sleep(POLL_SECONDS)
    for query, found in answered.items():
        print(f"{query.panel} [{query.ref_id}]: {len(found)} series, e.g. {found[0]['value'][1]}")
    panels = "\n".join(f"  {query}" for query in empty)
    assert not empty, (
        f"{len(empty)} of {len(queries) + 1} queries returned nothing within {DEADLINE_SECONDS} s:\n"
        f"{panels}\noperator log:\n{operator.tail()}"
    )


def policy_series(operator: OperatorProcess, namespace: str) -> list[str]:
    """The thrifty_policy_ series of ``namespace`` on the operator's /metrics."""
    with urllib.request.urlopen(operator.metrics_url, timeout=10) as response:
        text = response.read().decode()
    return [
        f"{sample.name}{sample.labels}"
        for family in text_string_to_metric_families(text)
        if family.name.startswith("thrifty_policy_")
        for sample in family.samples
        if sample.labels.get("namespace") == namespace
    ]


def test_a_deleted_policy_leaves_no_series(sandbox: SandboxEnv, operator: OperatorProcess) -> None:
    wait_for("the policy's series on /metrics", lambda: bool(policy_series(operator, NS)), 60, operator)
    kubectl(sandbox, "delete", "scalingpolicy", "web", "-n", NS, "--timeout=30s")
    wait_for(
        "no series of the deleted policy",
        lambda: not policy_series(operator, NS),
        60,
        operator,
        show=lambda: policy_series(operator, NS),
    )
