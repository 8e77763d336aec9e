"""Cost: OpenCost's rates, node-price split and allocation, checked against the design's worked example."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from thrifty.engine.cost import (
    CPU_TO_RAM_PRICE_RATIO,
    HOURS_PER_MONTH,
    OPENCOST_ON_DEMAND,
    OPENCOST_SPOT,
    GpuPrices,
    InstanceType,
    NodeCapacity,
    NodeRates,
    PriceBook,
    Rates,
    SpotLabel,
    allocation_cost,
    capacity_type,
    monthly_request_cost,
    node_label,
    node_rates,
    rates_for_node,
    spend,
    spend_at_node_prices,
    spend_on_nodes,
)
from thrifty.engine.quantities import GiB

# m5.large: 0.096 per hour for 2 vCPU and 8 GiB. The design's figures are matched to their last digit
# (within half a unit of it).
M5_LARGE = node_rates(0.096, vcpus=2, memory_gib=8)


def test_opencost_default_rates() -> None:
    assert Rates(0.031611, 0.004237) == OPENCOST_ON_DEMAND
    assert Rates(0.006655, 0.000892) == OPENCOST_SPOT
    assert HOURS_PER_MONTH == 730


def test_node_price_splits_like_opencost() -> None:
    assert M5_LARGE.cpu_per_core_hour == pytest.approx(0.031247, abs=5e-7)
    assert M5_LARGE.memory_per_gib_hour == pytest.approx(0.004188, abs=5e-7)
    assert M5_LARGE.cpu_per_core_hour / M5_LARGE.memory_per_gib_hour == pytest.approx(CPU_TO_RAM_PRICE_RATIO)
    assert 2 * M5_LARGE.cpu_per_core_hour + 8 * M5_LARGE.memory_per_gib_hour == pytest.approx(0.096)


@pytest.mark.parametrize("step_seconds", [60.0, 300.0, 3600.0])
def test_allocation_is_max_of_request_and_usage_over_time(step_seconds: float) -> None:
    # Requests 0.5 CPU and 1 GiB, uses 0.2 CPU and 1.5 GiB, for 24 h.
    samples = round(24 * 3600 / step_seconds)
    cost = allocation_cost(
        0.5, 1 * GiB, np.full(samples, 0.2), np.full(samples, 1.5 * GiB), step_seconds, M5_LARGE
    )
    assert cost.cpu == pytest.approx(0.37497, abs=5e-6)
    assert cost.memory == pytest.approx(0.15078, abs=5e-6)
    assert cost.total == pytest.approx(0.37497 + 0.15078, abs=1e-5)


def test_missing_usage_samples_are_charged_the_request() -> None:
    usage = np.array([np.nan, 2.0, np.nan])
    cost = allocation_cost(1.0, 0.0, usage, np.zeros(3), 3600.0, Rates(1.0, 1.0))
    assert cost.cpu == pytest.approx(1.0 + 2.0 + 1.0)


def test_monthly_request_cost_scales_with_replicas_and_hours() -> None:
    one = monthly_request_cost(0.5, 2 * GiB, OPENCOST_ON_DEMAND)
    assert one.cpu == pytest.approx(0.5 * 0.031611 * 730)
    assert one.memory == pytest.approx(2 * 0.004237 * 730)
    three = monthly_request_cost(0.5, 2 * GiB, OPENCOST_ON_DEMAND, replicas=3)
    assert three.total == pytest.approx(3 * one.total)
    assert monthly_request_cost(1, GiB, OPENCOST_SPOT, hours_per_month=1).total == pytest.approx(
        0.006655 + 0.000892
    )


def test_negative_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        Rates(-1.0, 0.0)
    with pytest.raises(ValueError, match="non-negative"):
        monthly_request_cost(-1, 0, OPENCOST_ON_DEMAND)
    with pytest.raises(ValueError, match="positive vCPUs"):
        node_rates(0.1, vcpus=0, memory_gib=8)


# ----- capacity type and node rates -----


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({"karpenter.sh/capacity-type": "spot"}, "spot"),
        ({"karpenter.sh/capacity-type": "on-demand"}, "on-demand"),
        ({"eks.amazonaws.com/capacityType": "SPOT"}, "spot"),
        ({"eks.amazonaws.com/capacityType": "ON_DEMAND"}, "on-demand"),
        ({"cloud.google.com/gke-spot": "true"}, "spot"),
        ({"cloud.google.com/gke-preemptible": "true"}, "spot"),
        ({"kubernetes.azure.com/scalesetpriority": "spot"}, "spot"),
        ({"label_karpenter_sh_capacity_type": "spot"}, "spot"),  # as kube_node_labels exports it
        ({"kubernetes.io/arch": "amd64"}, "on-demand"),
        ({}, "on-demand"),
    ],
)
def test_capacity_type_from_default_labels(labels: dict[str, str], expected: str) -> None:
    assert capacity_type(labels) == expected


def test_capacity_type_first_key_present_wins_and_values_are_configurable() -> None:
    keys = (SpotLabel("example.com/lifecycle", ("Ec2Spot", "preemptible")), SpotLabel("other", ("spot",)))
    assert capacity_type({"example.com/lifecycle": "preemptible"}, keys) == "spot"
    assert capacity_type({"example.com/lifecycle": "normal", "other": "spot"}, keys) == "on-demand"
    assert capacity_type({"other": "spot"}, keys) == "spot"
    assert capacity_type({"karpenter.sh/capacity-type": "spot"}, keys) == "on-demand"
    assert node_label({"label_a_b_c": "x"}, "a.b/c") == "x"


M5_XLARGE = InstanceType("m5.xlarge", vcpus=4, memory_gib=16, on_demand=0.192, spot=0.07)
P3 = InstanceType("p3.2xlarge", vcpus=8, memory_gib=61, gpus=1, on_demand=3.06)
BOOK = PriceBook(
    on_demand_gpu=GpuPrices(0.95, {"Tesla-V100-SXM2-16GB": 2.0}),
    spot_gpu=GpuPrices(None, {"Tesla-T4": 0.2}),
    catalog={
        "m5.large": InstanceType("m5.large", vcpus=2, memory_gib=8, on_demand=0.096),
        "m5.xlarge": M5_XLARGE,
        "r5.large": InstanceType("r5.large", vcpus=2, memory_gib=16, on_demand=0.126, reserved=0.08),
        "p3.2xlarge": P3,
    },
)
INSTANCE = "node.kubernetes.io/instance-type"
SPOT = {"karpenter.sh/capacity-type": "spot"}


def test_catalog_on_demand_price_is_split_like_opencost() -> None:
    rates = rates_for_node({INSTANCE: "m5.large"}, NodeCapacity(2, 8), BOOK)
    assert rates.cpu_per_core_hour == pytest.approx(0.031247, abs=5e-7)
    assert rates.memory_per_gib_hour == pytest.approx(0.004188, abs=5e-7)
    assert (rates.capacity_type, rates.source, rates.hourly_price) == (
        "on-demand",
        "catalog m5.large on-demand",
        0.096,
    )
    assert rates.gpu_per_hour == 0.95


def test_catalog_spot_price_on_spot_nodes() -> None:
    rates = rates_for_node({INSTANCE: "m5.xlarge", **SPOT}, None, BOOK)
    assert rates.source == "catalog m5.xlarge spot"
    assert 4 * rates.cpu_per_core_hour + 16 * rates.memory_per_gib_hour == pytest.approx(0.07)
    assert rates.rates == node_rates(0.07, 4, 16)


def test_spot_node_without_catalog_spot_price_uses_spot_rates() -> None:
    rates = rates_for_node(
        {INSTANCE: "m5.large", "cloud.google.com/gke-spot": "true"}, NodeCapacity(2, 8), BOOK
    )
    assert rates.rates == OPENCOST_SPOT
    assert rates.source == "default spot rates (catalog m5.large has no spot price)"
    assert rates.hourly_price == pytest.approx(2 * 0.006655 + 8 * 0.000892)


def test_reserved_price_wins_on_on_demand_nodes_only() -> None:
    assert rates_for_node({INSTANCE: "r5.large"}, None, BOOK).source == "catalog r5.large reserved"
    assert rates_for_node({INSTANCE: "r5.large"}, None, BOOK).hourly_price == 0.08
    assert rates_for_node({INSTANCE: "r5.large", **SPOT}, None, BOOK).rates == OPENCOST_SPOT


def test_unlisted_instance_types_use_default_rates() -> None:
    on_demand = rates_for_node({INSTANCE: "c7g.medium"}, NodeCapacity(1, 2), BOOK)
    assert (on_demand.rates, on_demand.source) == (OPENCOST_ON_DEMAND, "default on-demand rates")
    assert on_demand.instance_type == "c7g.medium"
    assert on_demand.hourly_price == pytest.approx(0.031611 + 2 * 0.004237)
    spot = rates_for_node(SPOT, None, BOOK)
    assert (spot.rates, spot.source, spot.hourly_price) == (OPENCOST_SPOT, "default spot rates", None)
    beta = rates_for_node({"beta.kubernetes.io/instance-type": "m5.xlarge"}, None, BOOK)
    assert beta.source == "catalog m5.xlarge on-demand"


def test_gpus_priced_per_model_with_fallbacks() -> None:
    v100 = {"nvidia.com/gpu.product": "Tesla-V100-SXM2-16GB"}
    t4 = {"nvidia.com/gpu.product": "Tesla-T4"}
    assert rates_for_node(v100, None, BOOK).gpu_per_hour == 2.0
    assert rates_for_node(t4, None, BOOK).gpu_per_hour == 0.95  # on-demand: no T4 price, the default
    assert rates_for_node({**t4, **SPOT}, None, BOOK).gpu_per_hour == 0.2  # spot price of the model
    # Spot without a spot price for the model or a spot default: the on-demand price of the model.
    assert rates_for_node({**v100, **SPOT}, None, BOOK).gpu_per_hour == 2.0
    with_spot_default = PriceBook(spot_gpu=GpuPrices(0.3))
    assert rates_for_node({**v100, **SPOT}, None, with_spot_default).gpu_per_hour == 0.3
    assert rates_for_node({"cloud.google.com/gke-accelerator": "Tesla-V100-SXM2-16GB"}, None, BOOK).gpu_model


def test_catalog_gpu_part_comes_off_before_the_split() -> None:
    labels = {INSTANCE: "p3.2xlarge", "nvidia.com/gpu.product": "Tesla-V100-SXM2-16GB"}
    rates = rates_for_node(labels, NodeCapacity(8, 61, 1), BOOK)
    assert rates.gpu_per_hour == 2.0
    assert rates.rates == node_rates(3.06 - 2.0, 8, 61)
    whole = 8 * rates.cpu_per_core_hour + 61 * rates.memory_per_gib_hour + 1 * rates.gpu_per_hour
    assert whole == pytest.approx(3.06)
    # A GPU rate above the whole price: the GPUs take the price, CPU and RAM are free.
    dear = PriceBook(on_demand_gpu=GpuPrices(5.0), catalog={"p3.2xlarge": P3})
    capped = rates_for_node({INSTANCE: "p3.2xlarge"}, None, dear)
    assert (capped.gpu_per_hour, capped.cpu_per_core_hour, capped.memory_per_gib_hour) == (3.06, 0.0, 0.0)


def test_price_book_checks() -> None:
    with pytest.raises(ValueError, match="on-demand GPU price"):
        PriceBook(on_demand_gpu=GpuPrices(None))
    with pytest.raises(ValueError, match="names"):
        PriceBook(catalog={"m5.large": M5_XLARGE})
    with pytest.raises(ValueError, match="positive"):
        InstanceType("x", vcpus=0, memory_gib=1, on_demand=1)
    with pytest.raises(ValueError, match="spot value"):
        SpotLabel("k", ())


# ----- spend over (containers, steps) -----


def test_spend_reproduces_the_worked_example() -> None:
    steps = 24 * 12  # 24 h at 300 s
    m5 = rates_for_node({INSTANCE: "m5.large"}, None, BOOK)
    result = spend(
        np.full((1, steps), 0.5),
        np.full((1, steps), 0.2),
        np.full((1, steps), 1.0 * GiB),
        np.full((1, steps), 1.5 * GiB),
        np.full((1, steps), np.nan),
        m5.cpu_per_core_hour,
        m5.memory_per_gib_hour,
        m5.gpu_per_hour,
        300.0,
    )
    # 4 significant digits: 0.3750 and 0.1508.
    assert result.cpu == pytest.approx(0.37497, rel=5e-5)
    assert result.memory == pytest.approx(0.15078, rel=5e-5)
    assert float(f"{result.cpu:.4g}") == 0.375
    assert float(f"{result.memory:.4g}") == 0.1508
    assert result.gpu == 0.0
    assert result.total == pytest.approx(0.37497 + 0.15078, rel=5e-5)
    assert result.per_container == pytest.approx([result.total])
    assert result.per_step.shape == (steps,)
    assert result.per_step.sum() == pytest.approx(result.total)


def test_spend_nan_rules_and_per_node_rates() -> None:
    nan = np.nan
    cpu_request = np.array([[1.0, 1.0, nan, nan], [2.0, 2.0, 2.0, 2.0]])
    cpu_usage = np.array([[nan, 3.0, 0.5, nan], [1.0, 1.0, 1.0, 1.0]])
    zeros = np.zeros((2, 4))
    gpu = np.array([[nan, nan, nan, nan], [1.0, 1.0, nan, 1.0]])
    cpu_rate = np.array([[1.0], [10.0]])  # one node per container
    result = spend(cpu_request, cpu_usage, zeros, zeros, gpu, cpu_rate, 0.0, 0.5, 3600.0)
    # Row 0: request (usage missing), max(1, 3), usage (request missing), nothing (absent).
    assert result.per_container[0] == pytest.approx(1 + 3 + 0.5)
    assert result.per_container[1] == pytest.approx(4 * 2 * 10 + 3 * 0.5)
    assert result.cpu == pytest.approx(4.5 + 80)
    assert result.gpu == pytest.approx(1.5)
    assert result.per_step == pytest.approx([1 + 20.5, 3 + 20.5, 0.5 + 20, 20.5])


def test_spend_on_nodes_matches_spend_with_gathered_rates() -> None:
    rng = np.random.default_rng(7)
    shape = (5, 40)
    nodes = [
        rates_for_node({INSTANCE: "m5.xlarge"}, None, BOOK),
        rates_for_node({INSTANCE: "m5.xlarge", **SPOT}, None, BOOK),
    ]
    unknown = rates_for_node({}, None, BOOK)
    index = rng.integers(-1, 2, size=shape)
    arrays = [rng.uniform(0, 4, size=shape) for _ in range(4)]
    arrays[1][rng.random(shape) < 0.2] = np.nan
    gpu = np.where(rng.random(shape) < 0.1, 1.0, np.nan)
    table = [*nodes, unknown]
    gathered = [
        np.array([getattr(table[i], name) for i in index.ravel()]).reshape(shape)
        for name in ("cpu_per_core_hour", "memory_per_gib_hour", "gpu_per_hour")
    ]
    cpu_request, cpu_usage, memory_request, memory_usage = arrays
    samples = (cpu_request, cpu_usage, memory_request, memory_usage, gpu)
    direct = spend(*samples, gathered[0], gathered[1], gathered[2], 60.0)
    by_node = spend_on_nodes(*samples, index, nodes, unknown, 60.0)
    assert by_node.total == pytest.approx(direct.total)
    assert by_node.per_step == pytest.approx(direct.per_step)
    assert by_node.per_container == pytest.approx(direct.per_container)


def test_spend_refuses_bad_inputs() -> None:
    ones = np.ones((2, 3))
    with pytest.raises(ValueError, match="must match"):
        spend(ones, np.ones((2, 4)), ones, ones, ones, 1.0, 1.0, 1.0, 60)
    with pytest.raises(ValueError, match="finite"):
        spend(ones, ones, ones, ones, ones, np.array([[np.nan], [1.0]]), 1.0, 1.0, 60)
    with pytest.raises(ValueError, match="broadcast"):
        spend(ones, ones, ones, ones, ones, np.ones(2), 1.0, 1.0, 60)
    with pytest.raises(ValueError, match="positive"):
        spend(ones, ones, ones, ones, ones, 1.0, 1.0, 1.0, 0)
    unknown = rates_for_node({}, None, BOOK)
    with pytest.raises(ValueError, match="node_index"):
        spend_on_nodes(ones, ones, ones, ones, ones, np.full((2, 3), 1), [], unknown, 60)


@settings(max_examples=60, deadline=None)
@given(
    requests=hnp.arrays(np.float64, (3, 6), elements=st.one_of(st.just(np.nan), st.floats(0, 8))),
    usage=hnp.arrays(np.float64, (3, 6), elements=st.one_of(st.just(np.nan), st.floats(0, 8))),
)
def test_spend_is_never_below_requests_or_usage(requests: np.ndarray, usage: np.ndarray) -> None:
    zeros = np.zeros_like(requests)
    charged = spend(requests, usage, zeros, zeros, zeros, 1.0, 1.0, 1.0, 3600.0)
    assert charged.cpu >= np.nansum(requests) * (1 - 1e-12) - 1e-12
    assert charged.cpu >= np.nansum(usage) * (1 - 1e-12) - 1e-12
    assert charged.cpu <= np.nansum(requests) + np.nansum(usage) + 1e-9
    assert np.isfinite(charged.per_step).all()


def test_opencost_allocations_at_its_node_prices_and_a_fallback_for_unknown_nodes() -> None:
    hours = 24
    # Two containers, one on node 0 (priced as the m5.large example), one on an unknown node.
    node_index = np.array([[0] * hours, [-1] * hours])
    fallback = NodeRates(0.031611, 0.004237, 0.95, "on-demand", "default on-demand rates")
    breakdown = spend_at_node_prices(
        np.full((2, hours), 0.5),
        np.full((2, hours), 1.5 * 2**30),
        np.zeros((2, hours)),
        node_index,
        np.full((1, hours), 0.031247),
        np.full((1, hours), 0.004188),
        np.zeros((1, hours)),
        fallback,
        3600.0,
    )
    first = hours * (0.5 * 0.031247 + 1.5 * 0.004188)
    second = hours * (0.5 * 0.031611 + 1.5 * 0.004237)
    assert breakdown.per_container.tolist() == pytest.approx([first, second])
    assert breakdown.total == pytest.approx(first + second)
