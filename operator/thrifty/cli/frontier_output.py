"""What ``thrifty simulate`` prints and draws besides the one-run table: the cost/risk frontier
(``--sweep``), and the console and time axis every output shares."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from thrifty.engine.cost_risk_frontier import FrontierPoint, compare
from thrifty.engine.simulate import SimulationSettings

# Unix times after 2000-01-01 are dates; a trace counted from 0 is in hours from its start.
DATED_AFTER: Final = 946_684_800.0
# Off a terminal, rich would wrap or cut cells at 80 columns; a file or a pipe gets every digit.
PIPE_WIDTH: Final = 200


def output_console() -> Any:
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=PIPE_WIDTH)


def time_axis(times: npt.NDArray[np.float64]) -> tuple[Any, str]:
    """The x values of a plot and their label: UTC dates when the trace has them, else hours."""
    if len(times) and float(times[0]) > DATED_AFTER:
        return np.asarray(np.round(times), dtype="datetime64[s]"), "date (UTC)"
    return (times - times[0]) / 3600.0, "hours"


def risk_label(shortfall: float) -> str:
    """0.0001 as "0.01%", 0.005 as "0.5%": the risk levels span two decades."""
    return f"{shortfall * 100:g}%"


def print_frontier(
    points: list[FrontierPoint], source: str, settings: SimulationSettings, form: str, elapsed: float
) -> None:
    comparisons = compare(points)
    if form == "json":
        document = {
            "source": source,
            "points": [
                {
                    "policy": p.policy,
                    "target_utilization" if p.policy == "hpa" else "target_shortfall_percent": (
                        p.setting if p.policy == "hpa" else p.setting * 100
                    ),
                    "cost_vs_oracle": p.cost_vs_oracle,
                    "underprovisioned_fraction": p.underprovisioned_fraction,
                }
                for p in points
            ],
            "comparisons": [
                {
                    "hpa_target_utilization": c.hpa.setting,
                    "thrifty_target_shortfall_percent": None
                    if c.thrifty is None
                    else c.thrifty.setting * 100,
                    "saving": c.saving,
                }
                for c in comparisons
            ],
            "elapsed_seconds": elapsed,
        }
        print(json.dumps(document, indent=2))
        return
    from rich import box
    from rich.table import Table

    table = Table(
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        title=f"{source}: cost/risk frontier, {settings.capacity_per_replica:g} per replica, "
        f"start-up {settings.startup_seconds:g} s",
        caption="short: share of syncs with demand above ready capacity; thrifty: the cheapest risk level "
        "short no more often than the hpa at that target",
    )
    for column in ("hpa target", "/oracle", "short", "thrifty risk", "/oracle ", "short ", "saving"):
        table.add_column(column, justify="right", no_wrap=True)
    for c in comparisons:
        ours = c.thrifty
        table.add_row(
            f"{c.hpa.setting:.0%}", f"{c.hpa.cost_vs_oracle:.3f}", f"{c.hpa.underprovisioned_fraction:.3%}",
            "none as safe" if ours is None else risk_label(ours.setting),
            "" if ours is None else f"{ours.cost_vs_oracle:.3f}",
            "" if ours is None else f"{ours.underprovisioned_fraction:.3%}",
            "" if c.saving is None else f"{c.saving:.1%}",
        )  # fmt: skip
    console = output_console()
    console.print(table)
    risks = ", ".join(
        f"{risk_label(p.setting)}: {p.cost_vs_oracle:.3f} at {p.underprovisioned_fraction:.3%} short"
        for p in points
        if p.policy == "thrifty-predictive"
    )
    console.print(f"thrifty-predictive by risk level: {risks}", soft_wrap=True)
    console.print(f"swept in {elapsed:.1f} s")


def plot_frontier(points: list[FrontierPoint], path: Path, source: str) -> None:
    """Cost ÷ oracle against the share of steps short, one line per policy, each point labelled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 5), layout="constrained")
    for policy, marker in (("hpa", "o"), ("thrifty-predictive", "s")):
        mine = sorted((p for p in points if p.policy == policy), key=lambda p: p.underprovisioned_fraction)
        x = [p.underprovisioned_fraction * 100 for p in mine]
        y = [p.cost_vs_oracle for p in mine]
        axes.plot(x, y, marker=marker, linewidth=1, label=policy)
        for (xi, yi), settings in _labelled(mine, x, y):
            label = (
                "target " + ", ".join(f"{v:.0%}" for v in settings)
                if policy == "hpa"
                else "risk " + ", ".join(risk_label(v) for v in settings)
            )
            axes.annotate(label, (xi, yi), fontsize=7, xytext=(4, 4), textcoords="offset points")
    # Most points sit below 1%: a linear axis would crowd them against a 95% target at 10%.
    axes.set_xscale("symlog", linthresh=0.1)
    axes.set_xlabel("steps under-provisioned (%, linear below 0.1, log above)")
    axes.set_ylabel("cost / oracle")
    axes.set_title(f"thrifty simulate --sweep: {source}")
    axes.grid(alpha=0.3)
    axes.legend(loc="upper right")
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _labelled(
    points: list[FrontierPoint], x: list[float], y: list[float]
) -> list[tuple[tuple[float, float], list[float]]]:
    """One label per spot: points that land on one another (risk levels that all leave the same
    few early shortfalls) share it."""
    spots: list[tuple[tuple[float, float], list[float]]] = []
    for point, xi, yi in zip(points, x, y, strict=True):
        if spots and abs(spots[-1][0][0] - xi) < 1e-3 and abs(spots[-1][0][1] - yi) < 0.01:
            spots[-1][1].append(point.setting)
        else:
            spots.append(((xi, yi), [point.setting]))
    return spots
