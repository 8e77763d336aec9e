"""CostPolicy status.summary: the cluster's nodes, its spot nodes, what they cost an hour, and how
much of the replicas placement may put on spot runs there; only for the CostPolicy in use."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import kopf
import pytest

from thrifty.api.cost_policy import CostPolicySpec
from thrifty.api.scaling_policy import Placement, PlacementStatus
from thrifty.engine.cost import NodeCapacity
from thrifty.engine.cost_policy_summary import (
    PlacedReplicas,
    cost_policy_summary,
    placed_replicas,
    spot_replica_percent,
)
from thrifty.handlers import status_writer
from thrifty.handlers.cluster_indexes import NodeSeen, StoredPolicy, nodes
from thrifty.handlers.cost_policy import reconcile_cost_policy

SPEC = {
    "pricing": {
        "catalog": [
            {
                "name": "m5.xlarge",
                "vcpu": 4,
                "memoryGiB": 16,
                "onDemand": 0.192,
                "spot": 0.07,
                "reserved": 0.121,
            }
        ]
    },
    "spot": {"targetPercent": 70, "onDemandBase": 1},
}
POLICY = CostPolicySpec.model_validate(SPEC)


def node(instance_type: str, capacity: str) -> dict[str, str]:
    return {"node.kubernetes.io/instance-type": instance_type, "karpenter.sh/capacity-type": capacity}


# ----- the engine -----


def test_nodes_are_priced_from_the_catalog_or_their_capacity_at_the_rates() -> None:
    nodes = [
        (node("m5.xlarge", "spot"), None),  # catalog spot price: 0.07
        (node("m5.xlarge", "spot"), None),
        (node("m5.xlarge", "on-demand"), None),  # reserved: 0.121
        (
            node("m5.2xlarge", "on-demand"),
            NodeCapacity(vcpus=8, memory_gib=32),
        ),  # 8 x 0.031611 + 32 x 0.004237
        (node("m5.2xlarge", "on-demand"), None),  # neither in the catalog nor of known capacity
    ]
    summary = cost_policy_summary(POLICY, nodes, [])
    assert (summary.nodes, summary.spot_nodes, summary.unpriced_nodes) == (5, 2, 1)
    # 0.07 + 0.07 + 0.121 + 0.388472 = 0.649472, to 4 decimals.
    assert summary.hourly_cost == 0.6495
    assert summary.pricing_source == "Catalog"
    assert summary.spot_replica_percent is None


def test_without_a_catalog_prices_come_from_the_rates() -> None:
    rates_only = CostPolicySpec.model_validate({})
    summary = cost_policy_summary(rates_only, [(node("m5.large", "on-demand"), NodeCapacity(2, 8))], [])
    assert summary.pricing_source == "Rates"
    assert summary.hourly_cost == round(2 * 0.031611 + 8 * 0.004237, 4)


def test_an_hourly_cost_is_only_given_when_some_node_is_priced() -> None:
    unknown = cost_policy_summary(POLICY, [(node("c5.large", "on-demand"), None)], [])
    assert (unknown.hourly_cost, unknown.unpriced_nodes) == (None, 1)
    empty = cost_policy_summary(POLICY, [], [])
    assert (empty.nodes, empty.hourly_cost) == (0, 0.0)


def test_spot_replica_percent_counts_the_replicas_above_each_base() -> None:
    workloads = [
        PlacedReplicas(on_demand=4, spot=7, base=1),  # 10 above the base, 7 on spot
        PlacedReplicas(on_demand=1, spot=0, base=1),  # none above it
        PlacedReplicas(on_demand=0, spot=3, base=1),  # drifted: 2 above the base, both on spot
    ]
    assert spot_replica_percent(workloads) == 100 * (7 + 2) / (10 + 2)
    assert cost_policy_summary(POLICY, [], workloads).spot_replica_percent == 75.0
    assert cost_policy_summary(POLICY, [], [PlacedReplicas(2, 1, 0)]).spot_replica_percent == 33.3
    assert spot_replica_percent([PlacedReplicas(1, 0, 1)]) is None


def test_the_base_is_the_policys_own_else_the_cost_policys() -> None:
    placement = PlacementStatus(on_demand=3, spot=7)
    assert placed_replicas(POLICY, None, placement, "Placed") == PlacedReplicas(3, 7, 1)
    assert placed_replicas(POLICY, Placement(on_demand_base=2), placement, "Recommended") == PlacedReplicas(
        3, 7, 2
    )


def test_workloads_placement_does_not_consider_are_not_counted() -> None:
    placement = PlacementStatus(on_demand=3, spot=0)
    assert placed_replicas(POLICY, None, placement, "NotEligible") is None
    assert placed_replicas(POLICY, None, placement, "NotConfigured") is None
    assert placed_replicas(POLICY, Placement(enabled=False), placement, "Placed") is None
    assert placed_replicas(POLICY, None, None, None) is None


# ----- the handler -----


@pytest.fixture
def written(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The status patches the reconcile commits, caught here rather than sent; no Events either."""
    patches: list[dict[str, Any]] = []
    monkeypatch.setattr(status_writer, "post_event", lambda *args: None)
    monkeypatch.setattr(
        status_writer, "commit", lambda body, patch, plural: patches.append(dict(patch.status))
    )
    return patches


def stored_policy(uid: str, placement: dict[str, Any], reason: str, ready: str = "True") -> StoredPolicy:
    body = {
        "metadata": {"namespace": "demo", "name": uid, "uid": uid},
        "spec": {"targetRef": {"kind": "Deployment", "name": uid}},
        "status": {
            "placement": placement,
            "conditions": [
                {"type": "Ready", "status": ready, "reason": "Evaluated"},
                {"type": "SpotPlacement", "status": "True", "reason": reason},
            ],
        },
    }
    return StoredPolicy("demo", uid, json.dumps(body))


INDEXES: dict[str, Any] = {
    "nodes": {
        "kwok-spot-0": [NodeSeen(node("m5.xlarge", "spot"), True, NodeCapacity(4, 16))],
        "kwok-spot-1": [NodeSeen(node("m5.xlarge", "spot"), True, NodeCapacity(4, 16))],
        "kwok-on-demand-0": [NodeSeen(node("m5.2xlarge", "on-demand"), True, NodeCapacity(8, 32))],
        "kwok-on-demand-1": [NodeSeen(node("m5.2xlarge", "on-demand"), True, None)],
    },
    "scaling_policy_bodies": {
        "web": [stored_policy("web", {"onDemand": 2, "spot": 3}, "Placed")],
        "db": [stored_policy("db", {"onDemand": 3, "spot": 0}, "NotEligible")],
        # Its Deployment is gone (Ready=False): the placement it last showed counts no more.
        "gone": [stored_policy("gone", {"onDemand": 1, "spot": 9}, "Placed", ready="False")],
    },
}


def reconcile(name: str, status: dict[str, Any]) -> None:
    body = kopf.Body(
        {  # type: ignore[arg-type]
            "metadata": {"name": name, "uid": f"uid-cost-policy-{name}", "generation": 1},
            "spec": SPEC,
            "status": status,
        }
    )
    reconcile_cost_policy(body=body, spec=body.spec, name=name, patch=kopf.Patch(), **INDEXES)


def test_the_cost_policy_in_use_sums_up_the_cluster_and_writes_it_once(written: list[dict[str, Any]]) -> None:
    reconcile("default", {})

    assert written[0]["summary"] == {
        "pricingSource": "Catalog",
        "nodes": 4,
        "spotNodes": 2,
        # two m5.xlarge spot nodes from the catalog, an m5.2xlarge at the default rates by its capacity
        "hourlyCost": round(2 * 0.07 + 8 * 0.031611 + 32 * 0.004237, 4),
        "unpricedNodes": 1,  # the node that reports no capacity
        "spotReplicaPercent": 75.0,  # web: 3 of the 4 replicas above onDemandBase 1; db is not eligible
    }
    # The next resync finds the same figures: nothing to write.
    reconcile("default", written[0])
    assert written[1] == {}


def test_a_cost_policy_not_in_use_gets_no_summary(written: list[dict[str, Any]]) -> None:
    reconcile("staging", {})

    assert "summary" not in written[0]
    in_use = next(c for c in written[0]["conditions"] if c["type"] == "InUse")
    assert (in_use["status"], in_use["reason"]) == ("False", "NotInUse")


def test_the_node_index_keeps_the_capacity_a_node_reports() -> None:
    body = {
        "metadata": {"name": "kwok-on-demand-0", "labels": node("m5.2xlarge", "on-demand")},
        "status": {
            "capacity": {"cpu": "8", "memory": "32Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }
    seen = asyncio.run(nodes(name="kwok-on-demand-0", body=kopf.Body(body)))  # type: ignore[arg-type]
    assert seen["kwok-on-demand-0"] == NodeSeen(node("m5.2xlarge", "on-demand"), True, NodeCapacity(8, 32))
    body["status"] = {"conditions": []}
    assert asyncio.run(nodes(name="n", body=kopf.Body(body)))["n"].capacity is None  # type: ignore[arg-type]
