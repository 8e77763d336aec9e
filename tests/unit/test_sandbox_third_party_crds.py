"""Other projects' CRDs in the sandbox, where none of their controllers (or webhooks) run."""

from __future__ import annotations

from typing import Any

from thrifty.sandbox.third_party_crds import servable_without_controllers


def crd(conversion: dict[str, Any] | None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "group": "cluster.x-k8s.io",
        "versions": [
            {"name": "v1beta1", "served": True, "storage": False},
            {"name": "v1beta2", "served": True, "storage": True},
        ],
    }
    if conversion is not None:
        spec["conversion"] = conversion
    return {"kind": "CustomResourceDefinition", "metadata": {"name": "machinedeployments.x"}, "spec": spec}


def served(definition: dict[str, Any]) -> list[str]:
    return [v["name"] for v in definition["spec"]["versions"] if v["served"]]


def test_a_conversion_webhook_gives_way_to_no_conversion() -> None:
    webhook = {"strategy": "Webhook", "webhook": {"clientConfig": {"service": {"name": "capi-webhook"}}}}
    original = crd(webhook)
    servable = servable_without_controllers(original)
    assert servable["spec"]["conversion"] == {"strategy": "None"}
    assert original["spec"]["conversion"] == webhook, "the input is left as it was"


def test_only_the_storage_version_is_served() -> None:
    assert served(servable_without_controllers(crd(None))) == ["v1beta2"]
    assert "conversion" not in servable_without_controllers(crd(None))["spec"]


def test_a_crd_of_one_version_is_unchanged() -> None:
    single = crd(None)
    single["spec"]["versions"] = [{"name": "v1", "served": True, "storage": True}]
    assert servable_without_controllers(single) == single
