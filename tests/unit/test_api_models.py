"""The pydantic models: examples parse, defaults match DESIGN.md and the CRDs, wire format is camelCase."""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from thrifty.api import crdgen
from thrifty.api.common import (
    TIME_ZONE_PATTERN,
    Condition,
    LabelSelectorRequirement,
    ResourceList,
    rfc3339,
)
from thrifty.api.cost_policy import CostPolicy, CostPolicySpec
from thrifty.api.kinds import KINDS, Kind
from thrifty.api.resource_budget import ResourceBudget, ResourceBudgetSpec
from thrifty.api.scaling_policy import LastAction, ScalingPolicy, ScalingPolicySpec, ScalingPolicyStatus

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MODELS: dict[str, type[ScalingPolicy | ResourceBudget | CostPolicy]] = {
    "ScalingPolicy": ScalingPolicy,
    "ResourceBudget": ResourceBudget,
    "CostPolicy": CostPolicy,
}


def example_documents() -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        documents.extend(doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc)
    return documents


def test_examples_cover_every_kind() -> None:
    kinds = {doc["kind"] for doc in example_documents()}
    assert {"Namespace", "Deployment", "ScalingPolicy", "ResourceBudget", "CostPolicy"} <= kinds


@pytest.mark.parametrize(
    "document",
    [doc for doc in example_documents() if doc["apiVersion"] == "thrifty.dev/v1alpha1"],
    ids=lambda doc: doc["kind"],
)
def test_examples_parse(document: dict[str, Any]) -> None:
    parsed = MODELS[document["kind"]].model_validate(document)
    assert parsed.metadata.name


def test_scaling_policy_example_reads_as_intended() -> None:
    (document,) = [doc for doc in example_documents() if doc["kind"] == "ScalingPolicy"]
    policy = ScalingPolicy.model_validate(document)
    assert policy.metadata.namespace == "demo"
    assert (policy.spec.target_ref.kind, policy.spec.target_ref.name) == ("Deployment", "web")
    assert policy.spec.mode == "Recommend"
    assert policy.spec.horizontal is not None
    assert (policy.spec.horizontal.min_replicas, policy.spec.horizontal.max_replicas) == (2, 10)
    assert policy.spec.horizontal.metrics[0].target_utilization == 70
    assert policy.spec.vertical is not None


def test_workload_example_tolerates_kwok_nodes() -> None:
    deployment = next(doc for doc in example_documents() if doc["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert {"key": "kwok.x-k8s.io/node", "operator": "Equal", "value": "fake", "effect": "NoSchedule"} in pod[
        "tolerations"
    ]
    (container,) = pod["containers"]
    assert container["resources"] == {
        "requests": {"cpu": "500m", "memory": "512Mi"},
        "limits": {"cpu": "1", "memory": "1Gi"},
    }
    # The namespace must exist before the namespaced ScalingPolicy: its file sorts first.
    assert sorted(EXAMPLES.glob("*.yaml"))[0].name == "00-workload.yaml"


def test_scaling_policy_defaults() -> None:
    spec = ScalingPolicySpec.model_validate(
        {"targetRef": {"kind": "Deployment", "name": "web"}, "horizontal": {"maxReplicas": 5}, "vertical": {}}
    )
    assert spec.mode == "Recommend"
    assert spec.target_ref.api_version == "apps/v1"
    assert spec.horizontal is not None
    assert spec.vertical is not None
    horizontal, vertical = spec.horizontal, spec.vertical
    assert horizontal.min_replicas == 1
    assert horizontal.tolerance == 0.1
    assert horizontal.behavior.scale_up.stabilization_window_seconds == 0
    assert horizontal.behavior.scale_down.stabilization_window_seconds == 300
    assert [(p.type, p.value, p.period_seconds) for p in horizontal.behavior.scale_up.policies] == [
        ("Percent", 100, 15),
        ("Pods", 4, 15),
    ]
    assert [(p.type, p.value) for p in horizontal.behavior.scale_down.policies] == [("Percent", 100)]
    assert horizontal.predictive.enabled is False
    assert (vertical.cpu.percentile, vertical.cpu.buffer_percent) == (95, 0)
    assert (vertical.memory.percentile, vertical.memory.buffer_percent) == (100, 15)
    assert vertical.min_change_percent == 10
    assert vertical.controlled_values == "RequestsOnly"
    assert (vertical.oom_bump.min_increase, vertical.oom_bump.multiplier) == ("100Mi", 1.2)


def test_resource_budget_defaults() -> None:
    spec = ResourceBudgetSpec.model_validate({"amount": 100, "scope": {"namespaceSelector": {}}})
    assert spec.thresholds == [50, 80, 100]
    assert spec.enforcement == "Alert"
    assert spec.period == "Monthly"
    assert spec.currency == "USD"
    assert (spec.period_start.day_of_month, spec.period_start.time_zone) == (1, "UTC")
    assert spec.scope.namespace_selector is not None
    assert spec.scope.namespaces is None


def test_cost_policy_defaults_are_opencost() -> None:
    pricing = CostPolicySpec.model_validate({}).pricing
    assert pricing.hours_per_month == 730
    assert (pricing.on_demand.cpu, pricing.on_demand.memory, pricing.on_demand.gpu) == (
        0.031611,
        0.004237,
        0.95,
    )
    assert (pricing.spot.cpu, pricing.spot.memory) == (0.006655, 0.000892)
    assert "karpenter.sh/capacity-type" in [label.key for label in pricing.node_labels.capacity_type]
    assert pricing.node_labels.instance_type[0] == "node.kubernetes.io/instance-type"


def apply_crd_defaults(value: Any, schema: dict[str, Any]) -> Any:
    """What the apiserver's structural defaulting does: fill absent fields, then recurse."""
    if isinstance(value, dict) and "properties" in schema:
        for name, sub in schema["properties"].items():
            if name not in value and "default" in sub:
                value[name] = sub["default"]
            if name in value:
                value[name] = apply_crd_defaults(value[name], sub)
    elif isinstance(value, list) and "items" in schema:
        return [apply_crd_defaults(item, schema["items"]) for item in value]
    return value


def assert_subset(expected: Any, actual: Any, path: str = "spec") -> None:
    if isinstance(expected, dict):
        assert isinstance(actual, dict), path
        for key, sub in expected.items():
            assert key in actual, f"{path}.{key}"
            assert_subset(sub, actual[key], f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), path
        assert len(expected) == len(actual), path
        for index, (sub, other) in enumerate(zip(expected, actual, strict=True)):
            assert_subset(sub, other, f"{path}[{index}]")
    else:
        assert expected == actual, path


MINIMAL_SPECS: dict[str, dict[str, Any]] = {
    "ScalingPolicy": {
        "targetRef": {"kind": "Deployment", "name": "web"},
        "horizontal": {"maxReplicas": 5, "schedules": [{"name": "n", "start": "20:00", "end": "06:00"}]},
        "vertical": {},
    },
    "ResourceBudget": {"amount": 1, "scope": {"namespaces": ["demo"]}},
    "CostPolicy": {
        "spot": {"targetPercent": 50},
        "nodePools": [{"kind": "NodePool", "name": "a", "capacityType": "Spot"}],
    },
}


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.kind)
def test_crd_defaults_agree_with_model_defaults(kind: Kind) -> None:
    # The apiserver fills defaults from the CRD; the operator reads objects through pydantic. Both must
    # arrive at the same values, or `kubectl get -o yaml` would show something the operator does not do.
    minimal = MINIMAL_SPECS[kind.kind]
    defaulted = apply_crd_defaults(dict(minimal), crdgen.model_schema(kind.spec_model))
    from_model = kind.spec_model.model_validate(minimal).to_wire()
    assert defaulted != minimal  # defaults did apply
    assert_subset(defaulted, from_model)


def test_wire_format_is_camel_case_without_nulls() -> None:
    status = ScalingPolicyStatus(
        observed_generation=3,
        current_replicas=3,
        last_action=LastAction(action="ScaleDown", from_="3", to="2"),
    )
    assert status.to_wire() == {
        "observedGeneration": 3,
        "conditions": [],
        "currentReplicas": 3,
        "lastAction": {"action": "ScaleDown", "from": "3", "to": "2"},
    }
    assert LastAction.model_validate({"from": "5"}).from_ == "5"


def test_unknown_fields_are_ignored_when_reading() -> None:
    spec = ResourceBudgetSpec.model_validate({"amount": 5, "scope": {"namespaces": ["a"]}, "addedLater": 1})
    assert spec.amount == 5


@pytest.mark.parametrize("value", ["500m", "1Gi", "1.5", "2e3", 2, "100Mi"])
def test_quantities_accept_kubernetes_spellings(value: int | str) -> None:
    assert ResourceList.model_validate({"cpu": value}).cpu == value


@pytest.mark.parametrize("value", ["abc", "-1", "1 Gi", -1, "1GB"])
def test_quantities_reject_malformed_values(value: int | str) -> None:
    with pytest.raises(ValidationError):
        ResourceList.model_validate({"memory": value})


def test_condition_shape() -> None:
    condition = Condition(
        type="Ready", status="True", reason="Evaluated", last_transition_time="2025-01-31T12:00:00Z"
    )
    assert condition.to_wire() == {
        "type": "Ready",
        "status": "True",
        "reason": "Evaluated",
        "message": "",
        "lastTransitionTime": "2025-01-31T12:00:00Z",
    }
    with pytest.raises(ValidationError):
        Condition(type="Ready", status="Yes", last_transition_time="2025-01-31T12:00:00Z")  # type: ignore[arg-type]


def test_rfc3339_is_utc_whole_seconds() -> None:
    moment = datetime(2025, 1, 31, 13, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1)))
    assert rfc3339(moment) == "2025-01-31T12:00:00Z"
    assert rfc3339(datetime(2025, 1, 1, tzinfo=UTC)) == "2025-01-01T00:00:00Z"


def test_time_zone_pattern_accepts_every_iana_zone() -> None:
    # The schema may only refuse names that cannot be zones; every zone the operator can load passes.
    pattern = re.compile(TIME_ZONE_PATTERN)
    refused = sorted(zone for zone in zoneinfo.available_timezones() if not pattern.search(zone))
    assert refused == []
    for made_up in ("Mars/Olympus_Mons", "Europe/../etc", "/UTC", "Europe Berlin", ""):
        assert not pattern.search(made_up), made_up


@pytest.mark.parametrize(
    ("key", "valid"),
    [
        ("app", True),
        ("app.kubernetes.io/name", True),
        ("karpenter.sh/capacity-type", True),
        ("eks.amazonaws.com/capacityType", True),
        ("a" * 63, True),
        ("bad key!", False),
        ("a" * 64, False),
        ("Example.com/name", False),
        ("example.com/", False),
        ("-app", False),
        ("a/b/c", False),
    ],
)
def test_label_keys_follow_kubernetes_syntax(key: str, valid: bool) -> None:
    requirement = {"key": key, "operator": "Exists"}
    if valid:
        assert LabelSelectorRequirement.model_validate(requirement).key == key
    else:
        with pytest.raises(ValidationError):
            LabelSelectorRequirement.model_validate(requirement)


@pytest.mark.parametrize("price", [1e308, 1e7, -0.01])
def test_prices_outside_their_bounds_are_refused(price: float) -> None:
    # A price of 1e308 made spend infinite and status patches unserializable.
    with pytest.raises(ValidationError):
        CostPolicySpec.model_validate({"pricing": {"onDemand": {"cpu": price}}})


def test_budget_amount_is_bounded() -> None:
    with pytest.raises(ValidationError):
        ResourceBudgetSpec.model_validate({"amount": 1e308, "scope": {"namespaces": ["demo"]}})
