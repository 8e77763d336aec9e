"""Risk-weighted spot savings: catalog entries carry AWS Spot Advisor's interruption frequency, and a
placed workload's status.cost gives what its spot pods save a month, and that times (1 - risk)."""

from __future__ import annotations

from typing import Any

import kopf
import numpy as np
import pytest
from pydantic import ValidationError

from thrifty.api import crdgen
from thrifty.api.cost_policy import INTERRUPTION_RISK, CostPolicySpec, Pricing
from thrifty.api.scaling_policy import Cost, Vertical
from thrifty.engine.cost import SpotInterruption
from thrifty.engine.policy_requests import recommend_requests
from thrifty.engine.quantities import GiB
from thrifty.engine.spot_mix import split_replicas
from thrifty.engine.spot_savings import spot_risk
from thrifty.engine.workload_prices import Prices, price_book
from thrifty.engine.workload_records import ContainerHistory, TemplateContainer, Workload
from thrifty.handlers import status_writer
from thrifty.handlers.scaling_policy import policy_reconcile
from thrifty.handlers.scaling_policy.vertical_step import VerticalResult

BANDS = ["<5%", "5-10%", "10-15%", "15-20%", ">20%"]
# m5.large: 2 vCPU and 8 GiB, so a pod requesting 0.5 CPU and 2 GiB takes a quarter of one and pays a
# quarter of its price: 0.024 an hour on-demand, 0.00875 on spot.
PRICING = Pricing.model_validate(
    {
        "catalog": [
            {"name": "m5.large", "vcpu": 2, "memoryGiB": 8, "onDemand": 0.096, "spot": 0.035,
             "interruptionFrequency": "5-10%"},
            {"name": "m5.xlarge", "vcpu": 4, "memoryGiB": 16, "onDemand": 0.192, "spot": 0.07,
             "interruptionFrequency": "<5%"},
            {"name": "c5.large", "vcpu": 2, "memoryGiB": 4, "onDemand": 0.085, "spot": 0.033},
        ]
    }
)  # fmt: skip
BOOK = price_book(PRICING)


def node(instance_type: str | None, capacity: str) -> dict[str, str]:
    labels = {"karpenter.sh/capacity-type": capacity}
    if instance_type is not None:
        labels["node.kubernetes.io/instance-type"] = instance_type
    return labels


def catalog_entry_schema() -> dict[str, Any]:
    schema = crdgen.model_schema(CostPolicySpec)
    entry: dict[str, Any] = schema["properties"]["pricing"]["properties"]["catalog"]["items"]
    return entry


# ----- the API -----


def test_the_schema_accepts_exactly_the_spot_advisor_bands() -> None:
    frequency = catalog_entry_schema()["properties"]["interruptionFrequency"]
    assert frequency["type"] == "string"
    assert frequency["enum"] == BANDS
    assert "interruptionFrequency" not in catalog_entry_schema().get("required", [])
    # kubectl explain says what each band counts as.
    assert "(0.05, 0.10, 0.15, 0.20) and >20% at 0.25" in frequency["description"]


def test_a_band_that_is_not_one_of_them_is_refused_naming_the_field() -> None:
    entry = {"name": "m5.large", "vcpu": 2, "memoryGiB": 8, "onDemand": 0.096, "interruptionFrequency": "3%"}
    with pytest.raises(ValidationError) as refused:
        CostPolicySpec.model_validate({"pricing": {"catalog": [entry]}})
    # What a CostPolicy's status says of a spec stored before the schema refused it.
    message = status_writer._spec_errors(refused.value)
    assert message.startswith("spec.pricing.catalog.0.interruptionFrequency: ")
    assert "'<5%', '5-10%', '10-15%', '15-20%' or '>20%'" in message


def test_each_band_counts_at_its_upper_bound_and_above_twenty_percent_at_a_quarter() -> None:
    assert dict(INTERRUPTION_RISK) == {
        "<5%": 0.05,
        "5-10%": 0.10,
        "10-15%": 0.15,
        "15-20%": 0.20,
        ">20%": 0.25,
    }
    assert BOOK.catalog["m5.large"].interruption == SpotInterruption("5-10%", 0.10)
    assert BOOK.catalog["m5.xlarge"].interruption == SpotInterruption("<5%", 0.05)
    assert BOOK.catalog["c5.large"].interruption is None


# ----- the numbers -----


def recommended_cost(prices: Prices, replicas: int) -> Cost:
    """status.cost of a workload whose one container is held at 0.5 CPU and 2 GiB by its bounds."""
    template = TemplateContainer("web", 0.5, None, 2 * GiB, None)
    workload = Workload("Deployment", "demo", "web", "uid", replicas, replicas, (template,))
    history = ContainerHistory(
        kind="Deployment", workload="web", container="web", pods=("web-1",),
        cpu_cores=np.full((1, 200), 0.3), memory_bytes=np.full((1, 200), 1.0 * GiB),
        cpu_request=0.5, cpu_limit=None, memory_request=2 * GiB, memory_limit=None, oom_killed=False,
    )  # fmt: skip
    bounds = {"cpu": "500m", "memory": "2Gi"}
    vertical = Vertical.model_validate({"minAllowed": bounds, "maxAllowed": bounds})
    cost = recommend_requests([history], 300.0, vertical, workload, prices).cost
    assert cost is not None
    return cost


def test_a_placed_workload_shows_its_spot_savings_and_the_same_weighted_by_the_risk() -> None:
    # 5 replicas at onDemandBase 1 and 100% spot: 1 on-demand, 4 spot. The cluster: one on-demand and
    # two spot m5.large (5-10%, counted as 0.10).
    mix = split_replicas(5, base=1, spot_percent=100)
    cluster = [node("m5.large", "on-demand"), node("m5.large", "spot"), node("m5.large", "spot")]
    prices = Prices.on_nodes(BOOK, []).at_mix(BOOK, cluster, mix)

    cost = recommended_cost(prices, replicas=5)

    # 4 spot pods x (0.024 - 0.00875) x 730 h = 44.53; x (1 - 0.10) = 40.077.
    assert cost.monthly_spot_savings == 44.53
    assert cost.monthly_spot_savings_risk_weighted == 40.08
    assert cost.spot_risk == "risk 5-10% (0.10) from m5.large"
    # The same savings as pricing all 5 pods on-demand (5 x 0.024 x 730 = 87.60) against the mix.
    assert cost.monthly_recommended == 43.07
    assert round(87.60 - cost.monthly_recommended, 2) == cost.monthly_spot_savings


def test_the_risk_is_the_mean_over_the_spot_nodes() -> None:
    risk = spot_risk(BOOK, [node("m5.large", "spot"), node("m5.xlarge", "spot"), node("m5.xlarge", "spot")])
    assert risk.risk == pytest.approx((0.10 + 0.05 + 0.05) / 3)
    assert risk.note == (
        "risk 0.067, the mean over 3 spot nodes: m5.large 5-10% (0.10), m5.xlarge <5% (0.05)"
    )


def test_an_unknown_frequency_leaves_the_weighted_figure_out_and_says_which_types() -> None:
    # c5.large has no frequency, r5.large no catalog entry: a mean over m5.large alone would pass
    # them off as safe.
    cluster = [
        node("m5.large", "on-demand"),
        node("m5.large", "spot"),
        node("c5.large", "spot"),
        node("r5.large", "spot"),
    ]
    prices = Prices.on_nodes(BOOK, []).at_mix(BOOK, cluster, split_replicas(4, base=1, spot_percent=100))

    cost = recommended_cost(prices, replicas=4)

    # What the spot pods save is still known; only its weighting is not.
    assert cost.monthly_spot_savings is not None
    assert cost.monthly_spot_savings > 0
    assert cost.monthly_spot_savings_risk_weighted is None
    assert cost.spot_risk == "interruption frequency unknown for instance types c5.large, r5.large"


def test_spot_nodes_without_an_instance_type_or_none_at_all_are_unknown_risk() -> None:
    assert spot_risk(BOOK, [node(None, "spot"), node("c5.large", "spot")]).note == (
        "interruption frequency unknown for instance types c5.large and 1 spot node without an "
        "instance-type label"
    )
    none = spot_risk(BOOK, [])
    assert none.risk is None
    assert none.note == "interruption frequency unknown: the cluster has no spot nodes"


def test_a_workload_placement_does_not_consider_gets_no_spot_figures() -> None:
    cost = recommended_cost(Prices.on_nodes(BOOK, [node("m5.large", "on-demand")]), replicas=3)
    assert cost.monthly_spot_savings is None
    assert cost.monthly_spot_savings_risk_weighted is None
    assert cost.spot_risk is None


# ----- status -----


def test_spot_figures_a_new_cost_no_longer_has_are_removed_from_status(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A merge patch keeps what it leaves out: once the workload leaves placement (or a spot node's
    frequency becomes unknown) the old figures must be deleted, not left standing."""
    monkeypatch.setattr(status_writer, "post_event", lambda *args: None)
    unplaced = Cost(monthly_current=70.08, monthly_recommended=70.08, monthly_savings=0.0, currency="USD")
    monkeypatch.setattr(policy_reconcile, "vertical_step", lambda *args: VerticalResult(cost=unplaced))
    before = {
        "monthlyCurrent": 70.08, "monthlyRecommended": 43.07, "monthlySavings": 27.01, "currency": "USD",
        "monthlySpotSavings": 44.53, "monthlySpotSavingsRiskWeighted": 40.08,
        "spotRisk": "risk 5-10% (0.10) from m5.large",
    }  # fmt: skip
    web = Workload(
        "Deployment", "demo", "web", "uid-web", 3, 3, (TemplateContainer("web", 0.5, None, None, None),)
    )
    indexes: dict[str, Any] = {
        "deployments": {("Deployment", "demo", "web"): [web]},
        "statefulsets": {},
        "horizontal_autoscalers": {},
        "vertical_autoscalers": {},
        "budgets": {},
        "cost_policies": {},
        "replica_sets_by_deployment": {},
        "pods_by_owner": {},
        "nodes": {},
    }
    body = kopf.Body(
        {  # type: ignore[arg-type]
            "metadata": {"name": "web", "namespace": "demo", "uid": "uid-spot-cost", "generation": 1},
            "spec": {"targetRef": {"kind": "Deployment", "name": "web"}, "vertical": {}},
            "status": {"cost": before},
        }
    )

    patch = policy_reconcile.conclude_policy(body, indexes)

    assert patch.status["cost"] == {
        **unplaced.to_wire(),
        "monthlySpotSavings": None,
        "monthlySpotSavingsRiskWeighted": None,
        "spotRisk": None,
    }
