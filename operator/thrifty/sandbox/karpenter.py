"""Karpenter's KWOK cloud provider in the sandbox: the instance types it may launch, priced exactly
like the example CostPolicy's catalog, so what Karpenter picks is what Thrifty prices."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from thrifty.api.cost_policy import InstancePrice
from thrifty.engine.quantities import GiB, format_cpu, format_memory
from thrifty.sandbox.nodes import CAPACITY_TYPE_LABEL, REGION, ZONES

ZONE_LABEL = "topology.kubernetes.io/zone"
REGION_LABEL = "topology.kubernetes.io/region"
# Karpenter writes the chosen offering's price on every node it launches (for eks-node-viewer).
PRICE_LABEL = "eks-node-viewer/instance-price"
# One zone is enough to choose between spot and on-demand; the static nodes' first zone, so both
# kinds of node read alike.
ZONE: Final = ZONES[0]

# Must equal spec.pricing.catalog of examples/costpolicy.yaml (a unit test holds them together).
SANDBOX_CATALOG: Final = (
    InstancePrice(name="m5.large", vcpu=2, memory_gib=8, on_demand=0.096, spot=0.035),
    InstancePrice(name="m5.xlarge", vcpu=4, memory_gib=16, on_demand=0.192, spot=0.07),
)


def instance_types(catalog: Sequence[InstancePrice], zone: str = ZONE) -> list[dict[str, Any]]:
    """The provider's `--instance-types-file-path` JSON: an on-demand offering of every type, and a
    spot one where the catalog gives a spot price (Karpenter cannot derive one from rates)."""
    return [
        {
            "name": entry.name,
            "offerings": [
                _offering(capacity_type, price, zone)
                for capacity_type, price in (("spot", entry.spot), ("on-demand", entry.on_demand))
                if price is not None
            ],
            "architecture": "amd64",
            "operatingSystems": ["linux"],
            "resources": {
                "cpu": format_cpu(entry.vcpu),
                "memory": format_memory(entry.memory_gib * GiB),
                "pods": "110",
                "ephemeral-storage": "100Gi",
            },
        }
        for entry in catalog
    ]


def write_instance_types(path: Path, catalog: Sequence[InstancePrice] = SANDBOX_CATALOG) -> bool:
    """Write the file; whether it changed (Karpenter reads it only when it starts)."""
    text = json.dumps(instance_types(catalog), indent=2) + "\n"
    if path.exists() and path.read_text() == text:
        return False
    path.write_text(text)
    return True


def _offering(capacity_type: str, price: float, zone: str) -> dict[str, Any]:
    # Single-valued requirements become labels of the nodes launched from the offering.
    requirements = [(CAPACITY_TYPE_LABEL, capacity_type), (ZONE_LABEL, zone), (REGION_LABEL, REGION)]
    return {
        "Price": price,
        "Available": True,
        "Requirements": [{"key": key, "operator": "In", "values": [value]} for key, value in requirements],
    }
