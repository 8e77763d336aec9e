"""What a workload's spot pods save a month, and the same weighted by the chance their capacity is
taken back:

    savings = spot pods x (on-demand - spot price of what each requests) x hours per month
    risk-weighted = savings x (1 - risk)

Each price is the mean rate of the cluster's nodes of that capacity type, as the planned cost is
priced (``Prices.at_mix``). ``risk`` is the mean interruption risk of the cluster's spot nodes, each
node counting once, from the interruption frequency the catalog gives its instance type. When any
spot node's frequency is unknown (its type is not in the catalog, or its entry gives none) the risk
is unknown: a mean over the known nodes alone would pass the unknown ones off as safe.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from thrifty.engine.cost import PriceBook, Rates, SpotInterruption, monthly_request_cost, node_instance_type

__all__ = ["SpotPlan", "SpotRisk", "SpotSavings", "spot_risk"]


@dataclass(frozen=True)
class SpotRisk:
    """The interruption risk of the cluster's spot capacity as a fraction, or None when it is unknown;
    ``note`` says where it comes from or why it is unknown, for status."""

    risk: float | None
    note: str


def spot_risk(book: PriceBook, spot_nodes: Sequence[Mapping[str, str]]) -> SpotRisk:
    """The mean interruption risk of ``spot_nodes`` (their labels), from ``book``'s catalog."""
    if not spot_nodes:
        return SpotRisk(None, "interruption frequency unknown: the cluster has no spot nodes")
    known: list[tuple[str, SpotInterruption]] = []
    unknown_types: set[str] = set()
    unlabelled = 0
    for labels in spot_nodes:
        name = node_instance_type(labels, book.instance_type_labels)
        entry = book.catalog.get(name) if name is not None else None
        if name is None:
            unlabelled += 1
        elif entry is None or entry.interruption is None:
            unknown_types.add(name)
        else:
            known.append((name, entry.interruption))
    if unknown_types or unlabelled:
        missing = [f"instance types {', '.join(sorted(unknown_types))}"] if unknown_types else []
        if unlabelled:
            nodes = "spot node" if unlabelled == 1 else "spot nodes"
            missing.append(f"{unlabelled} {nodes} without an instance-type label")
        return SpotRisk(None, f"interruption frequency unknown for {' and '.join(missing)}")
    risk = sum(interruption.risk for _, interruption in known) / len(known)
    types = sorted({(name, interruption.frequency, interruption.risk) for name, interruption in known})
    if len(types) == 1:
        name, frequency, one = types[0]
        return SpotRisk(risk, f"risk {frequency} ({one:.2f}) from {name}")
    each = ", ".join(f"{name} {frequency} ({one:.2f})" for name, frequency, one in types)
    return SpotRisk(risk, f"risk {risk:.3f}, the mean over {len(known)} spot nodes: {each}")


@dataclass(frozen=True)
class SpotSavings:
    """A month's savings of the spot pods, and the same weighted by (1 - risk); None when the risk is
    unknown. ``note`` is the risk's."""

    monthly: float
    risk_weighted: float | None
    note: str


@dataclass(frozen=True)
class SpotPlan:
    """What pricing needs of the mix placement steers a workload to: the pods on spot, the mean rates
    of the cluster's on-demand and spot nodes, and the spot nodes' interruption risk."""

    spot_pods: int
    on_demand: Rates
    spot: Rates
    risk: SpotRisk

    def savings(self, cpu_cores: float, memory_bytes: float, hours_per_month: float) -> SpotSavings:
        """The savings of the spot pods when each requests ``cpu_cores`` and ``memory_bytes``."""

        def monthly_at(rates: Rates) -> float:
            return monthly_request_cost(
                cpu_cores, memory_bytes, rates, replicas=self.spot_pods, hours_per_month=hours_per_month
            ).total

        monthly = monthly_at(self.on_demand) - monthly_at(self.spot)
        weighted = None if self.risk.risk is None else monthly * (1 - self.risk.risk)
        return SpotSavings(monthly, weighted, self.risk.note)
