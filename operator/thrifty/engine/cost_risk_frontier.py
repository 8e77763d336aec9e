"""The cost/risk frontier of one trace: the HPA at a range of targets against Thrifty's predictive
scaling at a range of risks, each point its cost ÷ the oracle's and its share of steps short.

A platform team picks an operating point from this, not from one run: the HPA buys safety with a
lower target, Thrifty with a lower ``target_shortfall``. Every point is one ``simulate()`` run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from thrifty.engine.simulate import SimulationSettings, simulate

HPA_TARGETS: Final = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
THRIFTY_RISKS: Final = (0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05)


@dataclass(frozen=True)
class FrontierPoint:
    policy: Literal["hpa", "thrifty-predictive"]
    setting: float  # the HPA's target utilization, or Thrifty's target shortfall (fractions)
    cost_vs_oracle: float
    underprovisioned_fraction: float


@dataclass(frozen=True)
class Comparison:
    """For one HPA target: the cheapest Thrifty risk level short no more often than the HPA there."""

    hpa: FrontierPoint
    thrifty: FrontierPoint | None  # None: no risk level is as safe as the HPA at this target

    @property
    def saving(self) -> float | None:
        """The share of the HPA's cost that Thrifty saves at that point."""
        if self.thrifty is None:
            return None
        return 1 - self.thrifty.cost_vs_oracle / self.hpa.cost_vs_oracle


def frontier(
    seconds: npt.ArrayLike,
    demand: npt.ArrayLike,
    settings: SimulationSettings,
    targets: tuple[float, ...] = HPA_TARGETS,
    risks: tuple[float, ...] = THRIFTY_RISKS,
) -> list[FrontierPoint]:
    """One point per HPA target and per Thrifty risk level, at ``settings`` otherwise."""
    t, d = np.asarray(seconds, dtype=np.float64), np.asarray(demand, dtype=np.float64)
    points = []
    for target in targets:
        result = simulate(t, d, replace(settings, target_utilization=target), ("oracle", "hpa"))
        hpa = result.results["hpa"]
        points.append(FrontierPoint("hpa", target, hpa.cost_vs_oracle, hpa.underprovisioned_fraction))
    for risk in risks:
        predictive = replace(settings.predictive, target_shortfall=risk)
        result = simulate(t, d, replace(settings, predictive=predictive), ("oracle", "thrifty-predictive"))
        ours = result.results["thrifty-predictive"]
        points.append(
            FrontierPoint("thrifty-predictive", risk, ours.cost_vs_oracle, ours.underprovisioned_fraction)
        )
    return points


def compare(points: list[FrontierPoint]) -> list[Comparison]:
    """Each HPA point against the cheapest Thrifty point short no more often than it."""
    ours = [p for p in points if p.policy == "thrifty-predictive"]
    comparisons = []
    for hpa in (p for p in points if p.policy == "hpa"):
        safe = [p for p in ours if p.underprovisioned_fraction <= hpa.underprovisioned_fraction]
        comparisons.append(Comparison(hpa, min(safe, key=lambda p: p.cost_vs_oracle, default=None)))
    return comparisons
