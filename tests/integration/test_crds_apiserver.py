"""The CRDs in a real API server: what `kubectl apply`, `get` and `explain` show a user.

The examples create namespace `demo`, which other modules use too: it is applied here (idempotently)
and never deleted.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sandbox_helpers import REPO, eventually, kubectl, parse_table

from thrifty.api.scaling_policy import Horizontal, ScalingPolicySpec
from thrifty.sandbox.cluster import SandboxEnv

INVALID = sorted((REPO / "tests" / "manifests" / "invalid").glob("*.yaml"))
# The rejections every release must keep (file stem -> what it breaks).
REQUIRED_INVALID = {
    "sp-min-above-max": "minReplicas > maxReplicas",
    "sp-unknown-mode": "unknown mode",
    "rb-negative-amount": "negative budget amount",
    "rb-thresholds-out-of-order": "thresholds out of order",
    "sp-missing-target-ref": "missing targetRef",
    "sp-percentile-above-100": "percentile above 100",
}
EXAMPLE_OBJECTS = (
    "namespace/demo",
    "deployment.apps/web",
    "costpolicy.thrifty.dev/default",
    "resourcebudget.thrifty.dev/demo-monthly",
    "scalingpolicy.thrifty.dev/web",
)
SCALING_POLICY_COLUMNS = [
    "NAME",
    "TARGET",
    "MODE",
    "REPLICAS",
    "RECOMMENDED",
    "CPU",
    "MEMORY",
    "SAVINGS/MO",
    "READY",
    "AGE",
]
BUDGET_COLUMNS = [
    "NAME",
    "AMOUNT",
    "CURRENCY",
    "PERIOD",
    "SPENT",
    "FORECAST",
    "UTILIZATION",
    "STATE",
    "READY",
    "AGE",
]
COST_POLICY_COLUMNS = ["NAME", "CURRENCY", "SPOT-TARGET", "READY", "AGE"]


@pytest.fixture(scope="module")
def examples_applied(sandbox: SandboxEnv, crds_installed: None) -> str:
    """`kubectl apply -f examples/` output; applying again elsewhere is harmless."""
    return kubectl(sandbox, "apply", "-f", str(REPO / "examples")).stdout


def get_json(env: SandboxEnv, *args: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(kubectl(env, "get", *args, "-o", "json").stdout)
    return document


def tables(text: str) -> list[list[dict[str, str]]]:
    """kubectl prints one table per resource type, separated by a blank line."""
    return [parse_table(block) for block in re.split(r"\n\s*\n", text.strip()) if block.strip()]


def headers(text: str) -> list[list[str]]:
    return [block.splitlines()[0].split() for block in re.split(r"\n\s*\n", text.strip()) if block.strip()]


def in_order(found: list[str], wanted: list[str]) -> list[str]:
    return [name for name in found if name in wanted]


def squeeze(text: str) -> str:
    return " ".join(text.split())


# --------------------------------------------------------------------------- apply and get


def test_examples_apply_cleanly(examples_applied: str) -> None:
    for name in EXAMPLE_OBJECTS:
        assert re.search(rf"^{re.escape(name)} (created|configured|unchanged)$", examples_applied, re.M), (
            f"{name} missing from:\n{examples_applied}"
        )


def test_get_shows_the_decision_columns(sandbox: SandboxEnv, examples_applied: str) -> None:
    out = kubectl(sandbox, "get", "costpolicies,resourcebudgets,scalingpolicies", "-A").stdout

    assert len(headers(out)) == 3, out
    sp_header = next(h for h in headers(out) if "TARGET" in h)
    rb_header = next(h for h in headers(out) if "AMOUNT" in h)
    cp_header = next(h for h in headers(out) if "SPOT-TARGET" in h)
    assert in_order(sp_header, SCALING_POLICY_COLUMNS) == SCALING_POLICY_COLUMNS, out
    assert sp_header[0] == "NAMESPACE", out
    assert in_order(rb_header, BUDGET_COLUMNS) == BUDGET_COLUMNS, out
    assert in_order(cp_header, COST_POLICY_COLUMNS) == COST_POLICY_COLUMNS, out

    rows = {row["NAME"]: row for table in tables(out) for row in table}
    web = rows["scalingpolicy.thrifty.dev/web"] if "scalingpolicy.thrifty.dev/web" in rows else rows["web"]
    assert (web["NAMESPACE"], web["TARGET"], web["MODE"]) == ("demo", "web", "Recommend"), out
    budget = next(row for name, row in rows.items() if name.endswith("demo-monthly"))
    assert (budget["AMOUNT"], budget["CURRENCY"], budget["PERIOD"]) == ("25", "USD", "Monthly"), out
    cost = next(row for name, row in rows.items() if name.endswith("default"))
    assert (cost["CURRENCY"], cost["SPOT-TARGET"]) == ("USD", "70"), out


def test_thrifty_category_lists_all_three_kinds(sandbox: SandboxEnv, examples_applied: str) -> None:
    out = kubectl(sandbox, "get", "thrifty", "-A", "-o", "name").stdout.split()

    assert {
        "costpolicy.thrifty.dev/default",
        "resourcebudget.thrifty.dev/demo-monthly",
        "scalingpolicy.thrifty.dev/web",
    } <= set(out)


@pytest.mark.parametrize(
    ("short_name", "namespace", "expected"),
    [
        ("sp", "demo", "scalingpolicy.thrifty.dev/web"),
        ("scalingpol", "demo", "scalingpolicy.thrifty.dev/web"),
        ("rb", None, "resourcebudget.thrifty.dev/demo-monthly"),
        ("budget", None, "resourcebudget.thrifty.dev/demo-monthly"),
        ("cp", None, "costpolicy.thrifty.dev/default"),
        ("costpol", None, "costpolicy.thrifty.dev/default"),
    ],
)
def test_short_names(
    sandbox: SandboxEnv, examples_applied: str, short_name: str, namespace: str | None, expected: str
) -> None:
    scope = ["-n", namespace] if namespace else []

    assert expected in kubectl(sandbox, "get", short_name, *scope, "-o", "name").stdout.split()


def test_get_sp_in_namespace_shows_the_target(sandbox: SandboxEnv, examples_applied: str) -> None:
    rows = parse_table(kubectl(sandbox, "get", "sp", "-n", "demo").stdout)

    assert [(row["NAME"], row["TARGET"], row["MODE"]) for row in rows] == [("web", "web", "Recommend")]


# --------------------------------------------------------------------------- explain


def test_explain_teaches_the_api(sandbox: SandboxEnv, crds_installed: None) -> None:
    def explained() -> str:
        result = kubectl(sandbox, "explain", "scalingpolicy.spec.horizontal", check=False)
        return result.stdout if result.returncode == 0 else ""

    # The API server publishes a new CRD's OpenAPI schema shortly after it is Established.
    out = squeeze(eventually("kubectl explain scalingpolicy.spec.horizontal", explained, 60))

    horizontal = ScalingPolicySpec.model_fields["horizontal"].description
    tolerance = Horizontal.model_fields["tolerance"].description
    max_replicas = Horizontal.model_fields["max_replicas"].description
    assert horizontal is not None
    assert squeeze(horizontal) in out, out
    for field, description in (("tolerance", tolerance), ("maxReplicas", max_replicas)):
        assert description is not None
        assert field in out, out
        assert squeeze(description) in out, out


# --------------------------------------------------------------------------- validation


def expected_error(path: Path) -> str:
    for line in path.read_text().splitlines():
        if line.startswith("# expect:"):
            return line.removeprefix("# expect:").strip()
    raise AssertionError(f"{path} has no `# expect: <substring>` line")


def test_required_invalid_cases_exist() -> None:
    present = {path.stem for path in INVALID}
    missing = {stem: what for stem, what in REQUIRED_INVALID.items() if stem not in present}
    assert missing == {}
    assert all(expected_error(path) for path in INVALID)


@pytest.mark.parametrize("manifest", INVALID, ids=[path.stem for path in INVALID])
def test_invalid_manifest_is_rejected_naming_the_field(
    sandbox: SandboxEnv, examples_applied: str, manifest: Path
) -> None:
    result = kubectl(sandbox, "apply", "-f", str(manifest), check=False)

    assert result.returncode != 0, f"accepted:\n{result.stdout}"
    assert expected_error(manifest) in result.stderr

    document = yaml.safe_load(manifest.read_text())
    scope = ["-n", document["metadata"]["namespace"]] if "namespace" in document["metadata"] else []
    lookup = kubectl(sandbox, "get", document["kind"], document["metadata"]["name"], *scope, check=False)
    assert lookup.returncode != 0, f"a rejected object was stored anyway:\n{lookup.stdout}"
    assert "NotFound" in lookup.stderr


# --------------------------------------------------------------------------- defaults


def test_example_policy_keeps_its_defaults(sandbox: SandboxEnv, examples_applied: str) -> None:
    spec = get_json(sandbox, "sp", "web", "-n", "demo")["spec"]

    horizontal, vertical = spec["horizontal"], spec["vertical"]
    assert horizontal["tolerance"] == 0.1
    assert horizontal["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300
    assert horizontal["behavior"]["scaleUp"]["stabilizationWindowSeconds"] == 0
    assert spec["targetRef"]["apiVersion"] == "apps/v1"
    assert vertical["cpu"] == {"percentile": 95, "bufferPercent": 0}
    assert vertical["memory"] == {"percentile": 100, "bufferPercent": 15}
    assert vertical["controlledValues"] == "RequestsOnly"
    assert vertical["minChangePercent"] == 10


@pytest.fixture
def scratch_namespace(sandbox: SandboxEnv, crds_installed: None) -> Iterator[str]:
    name = f"crd-defaults-{uuid.uuid4().hex[:8]}"
    kubectl(sandbox, "create", "namespace", name)
    try:
        yield name
    finally:
        kubectl(sandbox, "delete", "namespace", name, "--wait=false", check=False)


def test_a_minimal_policy_gets_the_documented_defaults(sandbox: SandboxEnv, scratch_namespace: str) -> None:
    minimal = {
        "apiVersion": "thrifty.dev/v1alpha1",
        "kind": "ScalingPolicy",
        "metadata": {"name": "minimal", "namespace": scratch_namespace},
        "spec": {"targetRef": {"kind": "Deployment", "name": "app"}, "horizontal": {"maxReplicas": 4}},
    }
    kubectl(sandbox, "apply", "-f", "-", input=json.dumps(minimal))

    spec = get_json(sandbox, "sp", "minimal", "-n", scratch_namespace)["spec"]

    assert spec["mode"] == "Recommend"
    horizontal = spec["horizontal"]
    assert (horizontal["minReplicas"], horizontal["maxReplicas"]) == (1, 4)
    assert horizontal["tolerance"] == 0.1
    assert horizontal["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300
    assert horizontal["behavior"]["scaleDown"]["policies"] == [
        {"type": "Percent", "value": 100, "periodSeconds": 15}
    ]
    assert horizontal["behavior"]["scaleUp"]["stabilizationWindowSeconds"] == 0
    assert horizontal["predictive"]["enabled"] is False
