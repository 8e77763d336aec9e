"""CostPolicy.spec.governance: the instance types and regions pods and node pools may use, and the most
a workload may cost an hour.

- ``allowed_values``: the instance types a pod placed by Thrifty may go to, as node affinity needs
  them (exact values, not patterns): those of the catalog and of the cluster's nodes that match.
- ``pool_violations``: what a node pool's requirements allow beyond governance.
- ``cost_cap``: the most replicas whose requests stay within ``maxHourlyCostPerWorkload``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Final

from thrifty.api.condition_types import PolicyCondition, PolicyReason
from thrifty.api.conditions import Observation
from thrifty.api.cost_policy import DEFAULT_INSTANCE_TYPE_LABELS, DEFAULT_REGION_LABELS, CostPolicySpec
from thrifty.engine.cost import PriceBook, Rates, node_instance_type
from thrifty.engine.node_pool_steering import Requirement
from thrifty.engine.workload_records import Workload

__all__ = [
    "COST_CAP_LABEL",
    "CostCap",
    "allowed_values",
    "cost_cap",
    "cost_cap_observation",
    "governed_node_values",
    "matches_any",
    "per_replica_hourly",
    "pool_violations",
]

COST_CAP_LABEL: Final = "governance maxHourlyCostPerWorkload"
# Karpenter's providers name an instance family under their own group (karpenter.k8s.aws/,
# karpenter.kwok.sh/, ...); a family stands for every type "<family>.<size>".
_FAMILY_SUFFIX: Final = "/instance-family"


def matches_any(value: str, patterns: Sequence[str]) -> bool:
    """Whether ``value`` matches one of the patterns ("*" stands for any run of characters)."""
    return any(fnmatchcase(value, pattern) for pattern in patterns)


def allowed_values(patterns: Sequence[str], known: Iterable[str]) -> list[str]:
    """The known values (catalog and cluster instance types) the patterns allow, sorted."""
    return sorted({value for value in known if matches_any(value, patterns)})


def governed_node_values(
    cost_policy: CostPolicySpec | None, book: PriceBook, cluster_nodes: Sequence[Mapping[str, str]]
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The node label values a pod placed by Thrifty must land on: the instance types of the catalog
    and of the cluster's nodes that governance allows (on the first instance-type key), and the
    allowed regions (on the first region key). A restriction no known value meets is left out, since
    it would keep every pod Pending; the node pools' check reports it instead."""
    governance = cost_policy.governance if cost_policy is not None else None
    if cost_policy is None or governance is None:
        return ()
    found: list[tuple[str, tuple[str, ...]]] = []
    if governance.allowed_instance_types and book.instance_type_labels:
        known = set(book.catalog) | {
            kind
            for labels in cluster_nodes
            if (kind := node_instance_type(labels, book.instance_type_labels))
        }
        types = allowed_values(governance.allowed_instance_types, known)
        if types:
            found.append((book.instance_type_labels[0], tuple(types)))
    regions = cost_policy.pricing.node_labels.region
    if governance.allowed_regions and regions:
        found.append((regions[0], tuple(sorted(governance.allowed_regions))))
    return tuple(found)


def pool_violations(
    requirements: Sequence[Requirement],
    allowed_types: Sequence[str],
    allowed_regions: Sequence[str],
    type_keys: Sequence[str] = DEFAULT_INSTANCE_TYPE_LABELS,
    region_keys: Sequence[str] = DEFAULT_REGION_LABELS,
) -> list[str]:
    """What the requirements allow that governance does not, as phrases ("instance types c6i.large",
    "any region"); empty when the pool stays within it. A restriction that is empty allows anything.
    ``type_keys`` and ``region_keys``: the node labels that name them (the CostPolicy's nodeLabels)."""
    found = []
    if allowed_types:
        found += _beyond(requirements, type_keys, allowed_types, "instance type", family=True)
    if allowed_regions:
        found += _beyond(requirements, region_keys, allowed_regions, "region", family=False)
    return found


def _beyond(
    requirements: Sequence[Requirement], keys: Sequence[str], allowed: Sequence[str], what: str, family: bool
) -> list[str]:
    listed: list[str] | None = None
    for requirement in requirements:
        key = requirement.key
        if requirement.operator != "In":
            continue
        if key in keys:
            values = list(requirement.values)
        elif family and key.endswith(_FAMILY_SUFFIX):
            values = [f"{name}.*" for name in requirement.values]
        else:
            continue
        # Requirements AND together; listing the union can only name more, never hide a type.
        listed = values if listed is None else [*listed, *values]
    if listed is None:
        return [f"any {what} (no In requirement on {keys[0]})"]
    outside = sorted({v for v in listed if not matches_any(v, allowed)})
    if not outside:
        return []
    plural = "s" if len(outside) > 1 else ""
    return [f"{what}{plural} {', '.join(outside)}"]


@dataclass(frozen=True)
class CostCap:
    """The replicas a workload may have within the hourly cost limit, and the figures behind it."""

    replicas: int
    limit: float
    per_replica: float
    currency: str

    @property
    def label(self) -> str:
        return f"{COST_CAP_LABEL} {self.limit:g} {self.currency}/h"


def per_replica_hourly(workload: Workload, rates: Rates) -> float | None:
    """What one pod of the workload's template requests, per hour at ``rates``; None when it requests
    nothing to price."""
    cpu = workload.pod_request("cpu") or 0.0
    memory = workload.pod_request("memory") or 0.0
    hourly = cpu * rates.cpu_per_core_hour + memory / 2**30 * rates.memory_per_gib_hour
    return hourly if hourly > 0 else None


def cost_cap(
    limit: float | None, per_replica_hourly: float | None, min_replicas: int, currency: str
) -> CostCap | None:
    """The most replicas whose pods cost no more than ``limit`` an hour (never below minReplicas);
    None without a limit or without a known price per replica."""
    if limit is None or per_replica_hourly is None or not math.isfinite(per_replica_hourly):
        return None
    if per_replica_hourly <= 0:
        return None
    # A hair of slack so that a limit set to exactly n replicas' cost allows n.
    fitting = math.floor(limit / per_replica_hourly * (1 + 1e-9))
    return CostCap(max(fitting, min_replicas), limit, per_replica_hourly, currency)


def cost_cap_observation(cap: CostCap | None, limited_by: str | None, replicas: int | None) -> Observation:
    """GovernanceLimited: True while the cap held the replicas this round."""
    kind = PolicyCondition.GOVERNANCE_LIMITED
    if cap is None:
        return Observation(kind, "False", PolicyReason.WITHIN_COST_LIMIT, "no hourly cost limit applies")
    figures = (
        f"maxHourlyCostPerWorkload {cap.limit:g} {cap.currency}/h at {cap.per_replica:.4f} "
        f"{cap.currency}/h per replica allows {cap.replicas} replicas"
    )
    if limited_by is not None and limited_by.startswith(COST_CAP_LABEL):
        return Observation(kind, "True", PolicyReason.COST_CAPPED, f"held at {replicas} replicas: {figures}")
    return Observation(kind, "False", PolicyReason.WITHIN_COST_LIMIT, figures)
