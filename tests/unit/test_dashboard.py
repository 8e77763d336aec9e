"""The Grafana dashboard the chart ships, without Grafana or Prometheus: its shape (Grafana 10's
schema, one Prometheus data source variable) and its queries, which must parse and read only what
the operator exports (tests/integration/test_dashboard_queries.py runs them against a live one)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import promql_parser
import pytest
from prometheus_client import REGISTRY

from dashboard_panels import DATASOURCE_VARIABLE, load_dashboard, panel_queries, panels
from thrifty.handlers import registry  # noqa: F401  (imports every module that exports a metric)

DASHBOARD = load_dashboard()
PANELS = list(panels(DASHBOARD))
QUERIES = panel_queries(DASHBOARD)
DATASOURCE = {"type": "prometheus", "uid": f"${{{DATASOURCE_VARIABLE}}}"}
# Prometheus' own series of a scrape, beside the operator's.
SCRAPE_SERIES = {"up"}


def exported_series() -> set[str]:
    """The series names of every thrifty_ metric the operator registers (a counter's _total, a
    histogram's _bucket, _sum and _count), with or without samples yet."""
    names = set()
    for family in REGISTRY.collect():
        if not family.name.startswith("thrifty_"):
            continue
        if family.type == "counter":
            names.add(f"{family.name}_total")
        elif family.type == "histogram":
            names |= {f"{family.name}_{suffix}" for suffix in ("bucket", "sum", "count")}
        else:
            names.add(family.name)
    return names


def selected_series(expr: str) -> set[str]:
    found: set[str] = set()

    def visit(node: object) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            found.add(node.name)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return found


def test_the_dashboard_is_grafana_10s_schema_with_a_prometheus_data_source_variable() -> None:
    assert DASHBOARD["schemaVersion"] >= 38  # Grafana 10.0
    assert DASHBOARD["uid"] == "thrifty-overview"
    assert DASHBOARD["title"] == "Thrifty"
    variables = DASHBOARD["templating"]["list"]
    source = next(v for v in variables if v["name"] == DATASOURCE_VARIABLE)
    assert (source["type"], source["query"]) == ("datasource", "prometheus")
    ids = Counter(item["id"] for item in DASHBOARD["panels"])
    assert all(count == 1 for count in ids.values()), ids


@pytest.mark.parametrize(
    "panel", [panel for _, panel in PANELS], ids=[f"{row} / {panel['title']}" for row, panel in PANELS]
)
def test_every_panel_reads_the_chosen_data_source(panel: dict[str, Any]) -> None:
    assert panel["datasource"] == DATASOURCE
    assert panel["targets"], "a panel without a query"
    for target in panel["targets"]:
        assert target["datasource"] == DATASOURCE
    grid = panel["gridPos"]
    assert grid["x"] + grid["w"] <= 24


@pytest.mark.parametrize("query", QUERIES, ids=str)
def test_every_query_parses_and_reads_only_what_the_operator_exports(query: Any) -> None:
    series = selected_series(query.expr)
    assert series, "a query that reads no series"
    unknown = series - exported_series() - SCRAPE_SERIES
    assert not unknown, f"{query.panel} reads series the operator does not export: {sorted(unknown)}"


def test_the_dashboard_covers_every_policy_gauge_and_the_operators_health() -> None:
    read = set().union(*(selected_series(q.expr) for q in QUERIES))
    assert {
        "thrifty_policy_monthly_cost",
        "thrifty_policy_recommended_monthly_cost",
        "thrifty_policy_spot_share",
        "thrifty_policy_stale",
        "thrifty_budget_spent",
        "thrifty_budget_amount",
        "thrifty_budget_utilization_percent",
        "thrifty_budget_forecast",
        "thrifty_budget_threshold_fired",
        "thrifty_budget_stale",
        "thrifty_actions_total",
        "thrifty_reconcile_duration_seconds_bucket",
        "thrifty_evaluation_round_duration_seconds_bucket",
        "thrifty_prometheus_queries_total",
        "up",
    } <= read
