"""Node pools on a sandbox of their own: a real Karpenter (its KWOK provider) launches every node, with
no static nodes; Cluster API MachineDeployments are scaled without Cluster API's controllers, as only
their replicas matter here. The operator steers the pools of the example CostPolicy.

The tests of this module run in order, each on what the one before left: the mix of 11 replicas, a
fallback while the spot pool may not grow, the MachineDeployments, governance.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from sandbox_helpers import (
    REPO,
    OperatorProcess,
    apply,
    condition,
    deployment_manifest,
    eventually,
    get,
    kubectl,
    placed_policy_manifest,
    scaling_policy_manifest,
    wait_for,
)

from thrifty.sandbox import cluster
from thrifty.sandbox.cluster import SandboxEnv
from thrifty.sandbox.karpenter import PRICE_LABEL
from thrifty.settings import CAPACITY_TYPE_ANNOTATION

NAMESPACE = "pools"
NAME = "shop"
CAPACITY = "karpenter.sh/capacity-type"
POOL = "karpenter.sh/nodepool"
HASH = "karpenter.sh/nodepool-hash"
EXAMPLES = REPO / "examples" / "karpenter"
# The example's fallback waits 300 s and returns after an hour; a test waits less.
QUICK_FALLBACK = {"spec": {"spot": {"fallback": {"pendingSeconds": 30, "returnAfterSeconds": 60}}}}


@pytest.fixture(scope="module")
def karpenter_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxEnv]:
    state_dir = tmp_path_factory.mktemp("karpenter-sandbox")
    env = cluster.up(state_dir, spot_nodes=0, on_demand_nodes=0, karpenter=True, progress=lambda _: None)
    try:
        kubectl(env, "apply", "-f", str(REPO / "crds"))
        kubectl(env, "wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
        yield env
    finally:
        cluster.down(state_dir, progress=lambda _: None)


@pytest.fixture(scope="module")
def operator(
    karpenter_env: SandboxEnv, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    env = karpenter_env
    kubectl(env, "apply", "-f", str(EXAMPLES / "nodepools.yaml"))
    kubectl(env, "apply", "-f", str(REPO / "examples" / "costpolicy.yaml"))
    _merge(env, "costpolicy", "default", QUICK_FALLBACK)
    kubectl(
        env,
        "patch",
        "costpolicy",
        "default",
        "--type",
        "merge",
        "--patch-file",
        str(EXAMPLES / "costpolicy-nodepools.yaml"),
    )
    log = tmp_path_factory.mktemp("node-pools") / "operator.log"
    with OperatorProcess(env, log) as running:
        yield running


def _merge(env: SandboxEnv, kind: str, name: str, patch: dict[str, Any], *where: str) -> None:
    kubectl(env, "patch", kind, name, *where, "--type", "merge", "-p", json.dumps(patch))


def _workload(replicas: int) -> str:
    """The Deployment (1 CPU a pod), its PodDisruptionBudget and an Apply-mode ScalingPolicy that
    places it."""
    return "\n---\n".join(
        [
            f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {NAMESPACE}}}",
            placed_policy_manifest(NAME, NAMESPACE, "maxUnavailable: 1"),
            deployment_manifest(NAME, NAMESPACE, replicas, cpu="1", memory="1Gi"),
        ]
    )


def _nodes(env: SandboxEnv) -> dict[str, dict[str, str]]:
    return {n["metadata"]["name"]: n["metadata"].get("labels", {}) for n in get(env, "nodes")["items"]}


def _mix(env: SandboxEnv) -> Counter[str]:
    """Running, Ready pods of the workload by their node's capacity type; 'pending' for the rest."""
    nodes = _nodes(env)
    counted: Counter[str] = Counter()
    for pod in get(env, "pods", "-n", NAMESPACE, "-l", f"app={NAME}")["items"]:
        if pod["metadata"].get("deletionTimestamp"):
            continue
        node = pod["spec"].get("nodeName")
        ready = any(
            c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", [])
        )
        counted[nodes.get(node, {}).get(CAPACITY, "?") if node and ready else "pending"] += 1
    return counted


def _pool(env: SandboxEnv, name: str) -> dict[str, Any]:
    return get(env, "nodepool", name, "--show-managed-fields")


def _managers(obj: dict[str, Any], field: str) -> set[str]:
    """The field managers that own ``spec.<field>`` of the object."""
    return {
        entry["manager"]
        for entry in obj["metadata"].get("managedFields", [])
        if f"f:{field}" in (entry.get("fieldsV1") or {}).get("f:spec", {})
    }


def _pool_status(env: SandboxEnv, name: str) -> dict[str, Any]:
    pools = get(env, "costpolicy", "default").get("status", {}).get("nodePools") or []
    return next((p for p in pools if p["name"] == name), {})


def test_karpenter_launches_both_pools_and_the_pods_run_4_on_demand_and_7_spot(
    karpenter_env: SandboxEnv, operator: OperatorProcess
) -> None:
    env = karpenter_env
    apply(env, _workload(2))
    wait_for(
        "the workload placed at 2 replicas",
        lambda: (
            condition(get(env, "scalingpolicy", NAME, "-n", NAMESPACE), "SpotPlacement").get("reason")
            == "Placed"
        ),
        240,
        operator,
        lambda: get(env, "scalingpolicy", NAME, "-n", NAMESPACE).get("status"),
    )
    kubectl(env, "scale", "deployment", NAME, "-n", NAMESPACE, "--replicas=11")
    wait_for(
        "11 replicas running at 4 on-demand and 7 spot",
        lambda: _mix(env) == Counter({"on-demand": 4, "spot": 7}),
        420,
        operator,
        lambda: dict(_mix(env)),
    )
    # Governance allows m5.* and c5.*: pods the webhook placed may go to the catalog's m5 types only.
    allowed = {
        "key": "node.kubernetes.io/instance-type",
        "operator": "In",
        "values": ["m5.large", "m5.xlarge"],
    }
    placed = [
        pod
        for pod in get(env, "pods", "-n", NAMESPACE, "-l", f"app={NAME}")["items"]
        if CAPACITY_TYPE_ANNOTATION in pod["metadata"].get("annotations", {})
    ]
    assert len(placed) >= 9, [p["metadata"]["name"] for p in placed]
    for pod in placed:
        required = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert all(allowed in term["matchExpressions"] for term in required["nodeSelectorTerms"]), pod
    nodes = _nodes(env)
    pools = Counter(labels.get(POOL) for labels in nodes.values())
    assert pools["spot-pool"] >= 1, pools
    assert pools["on-demand-pool"] >= 1, pools
    # The example's catalog is the sandbox's (a unit test holds them together); it also gives
    # m5.xlarge a reserved price, which the CostPolicy uses for on-demand nodes of that type.
    example = yaml.safe_load((REPO / "examples" / "costpolicy.yaml").read_text())
    catalog = {entry["name"]: entry for entry in example["spec"]["pricing"]["catalog"]}
    listed = priced = 0.0
    for name, labels in nodes.items():
        entry = catalog[labels["node.kubernetes.io/instance-type"]]
        spot = labels[CAPACITY] == "spot"
        assert float(labels[PRICE_LABEL]) == pytest.approx(entry["spot"] if spot else entry["onDemand"]), name
        listed += float(labels[PRICE_LABEL])
        priced += entry["spot"] if spot else entry.get("reserved", entry["onDemand"])
    print(
        f"nodes by pool: {dict(pools)}; their price labels sum to {listed:.4f} an hour, "
        f"{priced:.4f} with the catalog's reserved price for on-demand m5.xlarge"
    )

    def summed() -> float | None:
        summary = get(env, "costpolicy", "default").get("status", {}).get("summary") or {}
        cost = summary.get("hourlyCost")
        matches = summary.get("nodes") == len(_nodes(env)) and cost == pytest.approx(priced, rel=0.01)
        return cost if matches else None

    cost = eventually("CostPolicy summary of the Karpenter nodes", summed, 120)
    print(f"CostPolicy status.summary.hourlyCost {cost} against {priced:.4f} from the nodes and the catalog")
    spot_pool, on_demand_pool = _pool(env, "spot-pool"), _pool(env, "on-demand-pool")
    assert (spot_pool["spec"].get("weight"), on_demand_pool["spec"].get("weight")) == (100, 1)
    assert "thrifty" in _managers(spot_pool, "weight")
    shown = _pool_status(env, "spot-pool")
    assert shown["capacityType"] == "Spot"
    assert shown["nodes"] == pools["spot-pool"]
    assert condition(get(env, "costpolicy", "default"), "NodePoolsReady")["status"] == "True"


def test_a_spot_pool_that_may_not_grow_falls_back_on_demand_limits_rise_and_are_restored(
    karpenter_env: SandboxEnv, operator: OperatorProcess
) -> None:
    env = karpenter_env
    # The on-demand pool may hold what it holds now and no more, so the pods a fallback sends there
    # wait for a node until Thrifty raises its limits.
    in_use = _pool(env, "on-demand-pool")["status"]["resources"]["cpu"]
    _merge(env, "nodepool", "on-demand-pool", {"spec": {"limits": {"cpu": in_use}}})
    hashes = {
        name: _pool(env, name)["metadata"]["annotations"][HASH] for name in ("spot-pool", "on-demand-pool")
    }
    limits = dict(_pool(env, "on-demand-pool")["spec"]["limits"])
    _merge(env, "nodepool", "spot-pool", {"spec": {"limits": {"cpu": "0"}}})
    kubectl(env, "scale", "deployment", NAME, "-n", NAMESPACE, "--replicas=15")
    wait_for(
        "a spot fallback",
        lambda: bool(
            (get(env, "scalingpolicy", NAME, "-n", NAMESPACE).get("status", {}).get("placement") or {}).get(
                "fallbackSince"
            )
        ),
        240,
        operator,
        lambda: get(env, "scalingpolicy", NAME, "-n", NAMESPACE).get("status", {}).get("placement"),
    )
    wait_for(
        "on-demand-pool's limits raised by thrifty",
        lambda: (
            _pool(env, "on-demand-pool")["spec"].get("limits") != limits
            and "thrifty" in _managers(_pool(env, "on-demand-pool"), "limits")
        ),
        240,
        operator,
        lambda: _pool(env, "on-demand-pool")["spec"],
    )
    raised = _pool(env, "on-demand-pool")
    print(f"on-demand-pool limits {limits} -> {raised['spec']['limits']}")
    wait_for(
        "15 replicas running, the new spot ones on on-demand",
        lambda: _mix(env) == Counter({"on-demand": 8, "spot": 7}),
        420,
        operator,
        lambda: dict(_mix(env)),
    )
    assert _pool_status(env, "on-demand-pool")["limitsBeforeRaise"] == limits
    kubectl(
        env,
        "patch",
        "nodepool",
        "spot-pool",
        "--type",
        "json",
        "-p",
        '[{"op": "remove", "path": "/spec/limits"}]',
    )
    wait_for(
        "the mix back at 6 on-demand and 9 spot",
        lambda: _mix(env) == Counter({"on-demand": 6, "spot": 9}),
        600,
        operator,
        lambda: dict(_mix(env)),
    )
    wait_for(
        "on-demand-pool's limits restored",
        lambda: _pool(env, "on-demand-pool")["spec"].get("limits") == limits,
        240,
        operator,
        lambda: _pool(env, "on-demand-pool")["spec"],
    )
    after = {
        name: _pool(env, name)["metadata"]["annotations"][HASH] for name in ("spot-pool", "on-demand-pool")
    }
    assert after == hashes, "a change to spec.template would make Karpenter replace the pool's nodes"
    reasons = {
        e["reason"] for e in get(env, "events", "--field-selector", "involvedObject.kind=CostPolicy")["items"]
    }
    assert {"NodePoolLimitsRaised", "NodePoolLimitsRestored"} <= reasons


def _machine_deployments() -> list[dict[str, Any]]:
    return list(
        yaml.safe_load_all(
            (REPO / "tests" / "manifests" / "cluster-api" / "machinedeployments.yaml").read_text()
        )
    )


def test_a_machine_deployment_asked_for_more_than_its_max_size_is_scaled_to_it(
    karpenter_env: SandboxEnv, operator: OperatorProcess
) -> None:
    env = karpenter_env
    documents = _machine_deployments()
    kubectl(env, "apply", "-f", str(REPO / "tests" / "manifests" / "cluster-api" / "machinedeployments.yaml"))
    deployments = [d for d in documents if d.get("kind") == "MachineDeployment"]
    pools = get(env, "costpolicy", "default")["spec"]["nodePools"]
    for md in deployments:
        labels = md["spec"]["template"]["metadata"]["labels"]
        pools.append(
            {
                "kind": "MachineDeployment",
                "name": md["metadata"]["name"],
                "namespace": md["metadata"]["namespace"],
                "capacityType": "Spot" if labels.get(CAPACITY) == "spot" else "OnDemand",
                "allowedChanges": ["Replicas"],
            }
        )
    _merge(env, "costpolicy", "default", {"spec": {"nodePools": pools}})
    spot = next(d for d in deployments if d["spec"]["template"]["metadata"]["labels"].get(CAPACITY) == "spot")
    name, namespace = spot["metadata"]["name"], spot["metadata"]["namespace"]
    wait_for(
        "the spot MachineDeployment at its max size 5",
        lambda: get(env, "machinedeployment", name, "-n", namespace)["spec"].get("replicas") == 5,
        120,
        operator,
        lambda: _pool_status(env, name),
    )
    written = get(env, "machinedeployment", name, "-n", namespace, "--show-managed-fields")
    by_thrifty = [e for e in written["metadata"]["managedFields"] if e["manager"] == "thrifty"]
    assert [e.get("subresource") for e in by_thrifty] == ["scale"]
    shown = _pool_status(env, name)
    assert "asks for 7; held at 5" in shown["lastChange"]["reason"]
    print(f"MachineDeployment {namespace}/{name}: {shown['lastChange']}")


def test_a_node_pool_that_allows_c6i_while_governance_allows_m5_is_a_governance_violation(
    karpenter_env: SandboxEnv, operator: OperatorProcess
) -> None:
    env = karpenter_env
    _merge(env, "costpolicy", "default", {"spec": {"governance": {"allowedInstanceTypes": ["m5.*"]}}})
    c6i = yaml.safe_load((EXAMPLES / "nodepools.yaml").read_text().split("---")[1])
    c6i["metadata"]["name"] = "c6i-pool"
    c6i["spec"]["template"]["spec"]["requirements"][1]["values"] = ["c6i.large", "c6i.xlarge"]
    apply(env, yaml.safe_dump(c6i))
    pools = get(env, "costpolicy", "default")["spec"]["nodePools"]
    pools.append({"kind": "NodePool", "name": "c6i-pool", "capacityType": "Spot"})
    _merge(env, "costpolicy", "default", {"spec": {"nodePools": pools}})
    wait_for(
        "GovernanceViolation naming c6i-pool",
        lambda: condition(get(env, "costpolicy", "default"), "GovernanceViolation").get("status") == "True",
        120,
        operator,
        lambda: get(env, "costpolicy", "default").get("status", {}).get("conditions"),
    )
    found = condition(get(env, "costpolicy", "default"), "GovernanceViolation")
    assert "NodePool c6i-pool allows instance types c6i.large, c6i.xlarge" in found["message"]
    assert "spot-pool" not in found["message"]
    print(f"GovernanceViolation: {found['message']}")


def test_a_policy_whose_load_asks_for_more_than_the_hourly_cost_limit_is_held_at_the_cap(
    karpenter_env: SandboxEnv, operator: OperatorProcess
) -> None:
    env = karpenter_env
    _merge(env, "costpolicy", "default", {"spec": {"governance": {"maxHourlyCostPerWorkload": 0.05}}})
    name = "capped"
    # 5 cores at 50% of 500m requests asks for 20 replicas, so maxReplicas 10, far beyond the limit.
    apply(env, deployment_manifest(name, NAMESPACE, 1, annotations={"sandbox.thrifty.dev/cpu": "5"}))
    apply(env, scaling_policy_manifest(name, NAMESPACE))

    def held() -> dict[str, Any] | None:
        policy = get(env, "scalingpolicy", name, "-n", NAMESPACE)
        limited = condition(policy, "GovernanceLimited")
        replicas = get(env, "deployment", name, "-n", NAMESPACE)["spec"]["replicas"]
        cap = policy.get("status", {}).get("recommendation", {}).get("replicas")
        return policy if limited.get("status") == "True" and cap == replicas else None

    policy = eventually("the policy held at the hourly cost cap", held, 420)
    limited = condition(policy, "GovernanceLimited")
    replicas = policy["status"]["recommendation"]["replicas"]
    assert "maxHourlyCostPerWorkload 0.05 USD/h" in limited["message"]
    assert f"allows {replicas} replicas" in limited["message"]
    assert 1 <= replicas < 10
    print(f"GovernanceLimited: {limited['message']}; reason: {policy['status']['recommendation']['reason']}")
