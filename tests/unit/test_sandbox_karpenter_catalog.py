"""The sandbox's Karpenter launches exactly the instance types of the example CostPolicy, at its prices,
so what Karpenter chooses in the sandbox is what Thrifty prices."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from thrifty.api.cost_policy import InstancePrice
from thrifty.engine.quantities import GiB, parse_quantity
from thrifty.sandbox.karpenter import SANDBOX_CATALOG, instance_types, write_instance_types

EXAMPLE_POLICY = Path(__file__).resolve().parents[2] / "examples" / "costpolicy.yaml"


def example_catalog() -> list[InstancePrice]:
    policy = yaml.safe_load(EXAMPLE_POLICY.read_text())
    return [InstancePrice.model_validate(entry) for entry in policy["spec"]["pricing"]["catalog"]]


def what_karpenter_sees(entry: InstancePrice) -> tuple[str, float, float, float, float | None]:
    return (entry.name, entry.vcpu, entry.memory_gib, entry.on_demand, entry.spot)


def offered_prices(instance_type: dict[str, Any]) -> dict[str, float]:
    prices = {}
    for offering in instance_type["offerings"]:
        (capacity_type,) = [
            r["values"][0] for r in offering["Requirements"] if r["key"] == "karpenter.sh/capacity-type"
        ]
        prices[capacity_type] = offering["Price"]
    return prices


def test_the_sandbox_catalog_is_the_example_policys_catalog() -> None:
    assert [what_karpenter_sees(e) for e in SANDBOX_CATALOG] == [
        what_karpenter_sees(e) for e in example_catalog()
    ]


def test_the_instance_types_file_offers_the_example_catalog_at_its_prices() -> None:
    offered = {t["name"]: t for t in instance_types(SANDBOX_CATALOG)}
    assert sorted(offered) == sorted(e.name for e in example_catalog())
    for entry in example_catalog():
        resources = offered[entry.name]["resources"]
        assert parse_quantity(resources["cpu"]) == entry.vcpu, entry.name
        assert parse_quantity(resources["memory"]) == entry.memory_gib * GiB, entry.name
        assert offered_prices(offered[entry.name]) == {"on-demand": entry.on_demand, "spot": entry.spot}


def test_offerings_label_nodes_by_capacity_type_zone_and_region_like_the_static_nodes() -> None:
    (offering, *_) = instance_types(SANDBOX_CATALOG)[0]["offerings"]
    assert {r["key"]: r["values"] for r in offering["Requirements"]} == {
        "karpenter.sh/capacity-type": ["spot"],
        "topology.kubernetes.io/zone": ["us-east-1a"],
        "topology.kubernetes.io/region": ["us-east-1"],
    }
    assert all(r["operator"] == "In" for r in offering["Requirements"])


def test_a_type_without_a_spot_price_is_offered_on_demand_only() -> None:
    entry = InstancePrice(name="c5.large", vcpu=2, memory_gib=4, on_demand=0.085)
    (only,) = instance_types([entry])
    assert offered_prices(only) == {"on-demand": 0.085}


def test_writing_the_file_says_whether_it_changed(tmp_path: Path) -> None:
    path = tmp_path / "instance-types.json"
    assert write_instance_types(path)
    assert not write_instance_types(path)
    assert json.loads(path.read_text()) == instance_types(SANDBOX_CATALOG)
    assert write_instance_types(path, SANDBOX_CATALOG[:1])
