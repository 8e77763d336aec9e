"""The queries of the Grafana dashboard the chart ships, panel by panel: the unit test checks them
against what the operator exports, the integration test runs them against Prometheus scraping one."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

DASHBOARD: Final = Path(__file__).resolve().parents[1] / "charts" / "thrifty" / "dashboards" / "thrifty.json"
DATASOURCE_VARIABLE: Final = "datasource"
# A template variable other than the data source stands for every value when a query is run here.
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


@dataclass(frozen=True)
class PanelQuery:
    panel: str  # the panel's title, with the row it is in
    ref_id: str
    expr: str

    def __str__(self) -> str:
        return f"{self.panel} [{self.ref_id}]: {self.expr}"


def load_dashboard(path: Path = DASHBOARD) -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(path.read_text())
    return dashboard


def panels(dashboard: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every panel that is not a row, with its row's title, including those of collapsed rows."""
    row = ""
    for item in dashboard.get("panels", []):
        if item.get("type") == "row":
            row = str(item.get("title", ""))
            for inner in item.get("panels", []):
                yield row, inner
        else:
            yield row, item


def panel_queries(dashboard: Mapping[str, Any]) -> list[PanelQuery]:
    """Each panel's PromQL, with the dashboard's template variables (other than the data source)
    replaced by ``.*``."""
    variables = {
        v["name"] for v in dashboard.get("templating", {}).get("list", []) if v.get("type") != "datasource"
    }

    def substituted(expr: str) -> str:
        return _VARIABLE.sub(lambda m: ".*" if (m.group(1) or m.group(2)) in variables else m.group(0), expr)

    return [
        PanelQuery(
            f"{row} / {panel.get('title', '')}", str(target.get("refId", "")), substituted(target["expr"])
        )
        for row, panel in panels(dashboard)
        for target in panel.get("targets", [])
        if target.get("expr")
    ]
