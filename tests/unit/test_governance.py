"""Governance in the engine: node pools that allow more than it does, the values placed pods are held
to, and the replica cap of maxHourlyCostPerWorkload."""

from __future__ import annotations

from thrifty.api.cost_policy import CostPolicySpec
from thrifty.engine.cost import Rates
from thrifty.engine.governance import (
    cost_cap,
    cost_cap_observation,
    governed_node_values,
    per_replica_hourly,
    pool_violations,
)
from thrifty.engine.node_pool_steering import Requirement
from thrifty.engine.workload_prices import price_book
from thrifty.engine.workload_records import TemplateContainer, Workload

TYPE = "node.kubernetes.io/instance-type"
REGION = "topology.kubernetes.io/region"


def test_a_pool_that_allows_c6i_while_governance_allows_m5_is_named_with_what_it_allows() -> None:
    requirements = [Requirement(TYPE, "In", ("c6i.large", "c6i.xlarge", "m5.large"))]
    assert pool_violations(requirements, ["m5.*"], []) == ["instance types c6i.large, c6i.xlarge"]


def test_an_instance_family_requirement_stands_for_every_type_of_the_family() -> None:
    assert pool_violations(
        [Requirement("karpenter.k8s.aws/instance-family", "In", ("c6i",))], ["m5.*"], []
    ) == ["instance type c6i.*"]
    assert (
        pool_violations([Requirement("karpenter.kwok.sh/instance-family", "In", ("m5",))], ["m5.*"], []) == []
    )


def test_a_pool_without_an_in_requirement_allows_anything() -> None:
    found = pool_violations([Requirement(TYPE, "NotIn", ("t3.nano",))], ["m5.*"], ["eu-west-1"])
    assert found == [
        f"any instance type (no In requirement on {TYPE})",
        f"any region (no In requirement on {REGION})",
    ]


def test_a_pool_within_governance_is_not_reported() -> None:
    requirements = [
        Requirement(TYPE, "In", ("m5.large", "m5.xlarge")),
        Requirement(REGION, "In", ("eu-west-1",)),
    ]
    assert pool_violations(requirements, ["m5.*", "c5.*"], ["eu-west-1"]) == []
    assert pool_violations([], [], []) == []


def test_placed_pods_are_held_to_the_allowed_catalog_and_cluster_types_and_regions() -> None:
    policy = CostPolicySpec.model_validate(
        {
            "pricing": {
                "catalog": [
                    {"name": "m5.large", "vcpu": 2, "memoryGiB": 8, "onDemand": 0.096},
                    {"name": "c6i.large", "vcpu": 2, "memoryGiB": 4, "onDemand": 0.085},
                ]
            },
            "governance": {"allowedInstanceTypes": ["m5.*"], "allowedRegions": ["eu-west-1"]},
        }
    )
    nodes = [{TYPE: "m5.2xlarge"}, {TYPE: "r5.large"}, {}]
    assert governed_node_values(policy, price_book(policy.pricing), nodes) == (
        (TYPE, ("m5.2xlarge", "m5.large")),
        (REGION, ("eu-west-1",)),
    )


def test_a_type_pattern_nothing_known_matches_holds_no_pod_back() -> None:
    policy = CostPolicySpec.model_validate({"governance": {"allowedInstanceTypes": ["x9.*"]}})
    assert governed_node_values(policy, price_book(policy.pricing), [{TYPE: "m5.large"}]) == ()
    assert governed_node_values(CostPolicySpec(), price_book(CostPolicySpec().pricing), []) == ()


def _workload(cpu: float, memory: float) -> Workload:
    return Workload(
        "Deployment", "ns", "web", "uid", 3, 3, (TemplateContainer("web", cpu, None, memory, None),)
    )


def test_the_cap_is_the_most_replicas_whose_requests_fit_the_hourly_limit() -> None:
    rates = Rates(cpu_per_core_hour=0.031611, memory_per_gib_hour=0.004237)
    hourly = per_replica_hourly(_workload(1.0, 2**30), rates)
    assert hourly is not None
    assert abs(hourly - 0.035848) < 1e-9
    cap = cost_cap(0.15, hourly, min_replicas=1, currency="USD")
    assert cap is not None
    assert cap.replicas == 4
    exactly = cost_cap(hourly * 3, hourly, min_replicas=1, currency="USD")
    assert exactly is not None
    assert exactly.replicas == 3


def test_the_cap_never_goes_below_min_replicas_and_needs_a_limit_and_a_price() -> None:
    cap = cost_cap(0.01, 0.05, min_replicas=2, currency="USD")
    assert cap is not None
    assert cap.replicas == 2
    assert cost_cap(None, 0.05, 1, "USD") is None
    assert cost_cap(1.0, None, 1, "USD") is None
    assert per_replica_hourly(_workload(0.0, 0.0), Rates(1.0, 1.0)) is None


def test_governance_limited_says_the_limit_while_it_holds_the_replicas() -> None:
    cap = cost_cap(0.15, 0.035848, 1, "USD")
    assert cap is not None
    held = cost_cap_observation(cap, f"{cap.label} (cap 4)", 4)
    assert (held.type, held.status, held.reason) == ("GovernanceLimited", "True", "CostCapped")
    assert "maxHourlyCostPerWorkload 0.15 USD/h" in held.message
    assert "allows 4 replicas" in held.message
    free = cost_cap_observation(cap, "scaleUp stabilization window", 3)
    assert (free.status, free.reason) == ("False", "WithinCostLimit")
    assert cost_cap_observation(None, None, 3).status == "False"
