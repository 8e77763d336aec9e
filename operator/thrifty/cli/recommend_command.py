"""`thrifty recommend`: right-sizing for every workload in some namespaces, once, without the operator.

It reads the cluster through the Kubernetes API and Prometheus, with the same batched queries (one
set per namespace) and the same engine as the operator, and prints one row per container.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

import yaml
from kubernetes import client
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from thrifty.api.cost_policy import CostPolicy, CostPolicySpec
from thrifty.api.scaling_policy import Vertical
from thrifty.engine.policy_requests import VerticalOutcome, recommend_requests
from thrifty.engine.workload_prices import Prices
from thrifty.settings import PrometheusSettings
from thrifty.sources.kube import api_client
from thrifty.sources.prometheus_http import MetricsUnavailableError, connect
from thrifty.sources.usage import read_namespace_usage
from thrifty.sources.workloads import list_workloads

FORMATS = ("table", "json", "yaml", "csv")


@dataclass(frozen=True)
class Row:
    namespace: str
    kind: str
    workload: str
    container: str
    replicas: int
    cpu_request: str
    cpu_recommended: str
    memory_request: str
    memory_recommended: str
    status: str
    monthly_savings: float | None
    currency: str
    reason: str


def scan(
    namespaces: Sequence[str],
    vertical: Vertical,
    prices: Prices,
    settings: PrometheusSettings,
    console: Console,
) -> list[Row]:
    prometheus = connect(settings)
    rows: list[Row] = []
    end = datetime.now(UTC)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("scanning namespaces", total=len(namespaces))
        for namespace in namespaces:
            progress.update(task, description=f"scanning {namespace}")
            workloads = list_workloads(namespace)
            if workloads:
                usage = read_namespace_usage(
                    prometheus,
                    settings,
                    namespace,
                    None,
                    end,
                    lookback=timedelta(hours=vertical.history_hours),
                )
                for workload in workloads:
                    histories = list(usage.workload(workload.kind, workload.name))
                    outcome = recommend_requests(histories, usage.step_seconds, vertical, workload, prices)
                    rows += _rows(
                        namespace, workload.kind, workload.name, workload.desired_replicas, outcome, prices
                    )
            progress.advance(task)
    return rows


def _rows(
    namespace: str, kind: str, name: str, replicas: int, outcome: VerticalOutcome, prices: Prices
) -> list[Row]:
    savings = outcome.cost.monthly_savings if outcome.cost else None
    rows = []
    for index, entry in enumerate(outcome.containers):
        current = entry.current.requests if entry.current and entry.current.requests else None
        recommended = entry.recommended.requests if entry.recommended and entry.recommended.requests else None
        status = outcome.observation.reason if outcome.observation.status == "False" else "Recommended"
        rows.append(
            Row(
                namespace=namespace,
                kind=kind,
                workload=name,
                container=entry.name,
                replicas=replicas,
                cpu_request=str(current.cpu) if current and current.cpu is not None else "-",
                cpu_recommended=str(recommended.cpu) if recommended and recommended.cpu is not None else "-",
                memory_request=str(current.memory) if current and current.memory is not None else "-",
                memory_recommended=str(recommended.memory)
                if recommended and recommended.memory is not None
                else "-",
                status=status if recommended else "InsufficientHistory",
                # Savings are per workload: shown once, on its first container.
                monthly_savings=savings if index == 0 else None,
                currency=prices.currency,
                reason=entry.reason or "",
            )
        )
    return rows


def render(rows: Sequence[Row], output_format: str, console: Console) -> str | None:
    """The rows as text in the asked format; a table is printed to the console instead (None)."""
    records = [asdict(row) for row in rows]
    if output_format == "json":
        return json.dumps({"recommendations": records}, indent=2, ensure_ascii=False)
    if output_format == "yaml":
        return yaml.safe_dump({"recommendations": records}, sort_keys=False)
    if output_format == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(Row.__dataclass_fields__))
        writer.writeheader()
        writer.writerows(records)
        return out.getvalue()
    table = Table(title="Thrifty right-sizing recommendations (requests per pod)")
    for column in ("Namespace", "Workload", "Container", "Replicas", "CPU", "Memory", "Savings/mo", "Status"):
        table.add_column(column, justify="right" if column in ("Replicas", "Savings/mo") else "left")
    for row in rows:
        savings = "" if row.monthly_savings is None else f"{row.monthly_savings:.2f} {row.currency}"
        table.add_row(
            row.namespace,
            f"{row.kind.lower()}/{row.workload}",
            row.container,
            str(row.replicas),
            f"{row.cpu_request} → {row.cpu_recommended}",
            f"{row.memory_request} → {row.memory_recommended}",
            savings,
            row.status,
        )
    total = sum(row.monthly_savings or 0.0 for row in rows)
    console.print(table)
    console.print(f"Total monthly savings: {total:.2f} {rows[0].currency if rows else 'USD'}")
    return None


def prices_from(cost_policy_file: str | None) -> Prices:
    spec = CostPolicySpec()
    if cost_policy_file:
        with open(cost_policy_file) as handle:
            spec = CostPolicy.model_validate(yaml.safe_load(handle)).spec
    return Prices.on_demand(spec.pricing)


def all_namespaces() -> list[str]:
    return sorted(ns.metadata.name for ns in client.CoreV1Api(api_client()).list_namespace().items)


def run(
    namespaces: Sequence[str],
    output_format: str,
    prometheus_url: str | None,
    history_days: float,
    cost_policy_file: str | None,
) -> int:
    err = Console(stderr=True)
    settings = PrometheusSettings.from_env({"PROMETHEUS_URL": prometheus_url} if prometheus_url else None)
    vertical = Vertical(history_hours=max(3, round(history_days * 24)))
    try:
        rows = scan(namespaces or all_namespaces(), vertical, prices_from(cost_policy_file), settings, err)
    except MetricsUnavailableError as error:
        err.print(f"[red]error:[/red] {error}")
        return 1
    text = render(rows, output_format, Console())
    if text is not None:
        print(text, end="" if text.endswith("\n") else "\n")
    return 0
