"""Spot placement on the sandbox (3 spot and 2 on-demand KWOK nodes, the real scheduler): the mix as
replicas change, 20 pods at once, fallback and return under a PodDisruptionBudget, and the operator
away."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from kubernetes import client
from sandbox_helpers import (
    OperatorProcess,
    apply,
    condition,
    deployment_manifest,
    eventually,
    get,
    kubectl,
    placed_policy_manifest,
    wait_for,
)

from thrifty.sandbox.cluster import SandboxEnv
from thrifty.sandbox.nodes import ready_node_names, reconcile_nodes
from thrifty.settings import CAPACITY_TYPE_ANNOTATION

NAMESPACE = "placed"
NAME = "shop"

COST_POLICY = """
apiVersion: thrifty.dev/v1alpha1
kind: CostPolicy
metadata: {name: default}
spec:
  spot:
    targetPercent: 70
    onDemandBase: 1
    namespaceSelector:
      matchExpressions: [{key: kubernetes.io/metadata.name, operator: In, values: [placed]}]
    eligibility: {minReplicas: 1, requirePodDisruptionBudget: true}
    fallback: {pendingSeconds: 30, returnAfterSeconds: 60}
"""


def _placed_policy(app: str, placement: str = "") -> str:
    return placed_policy_manifest(app, NAMESPACE, "minAvailable: 90%", placement)


WORKLOAD = f"""
apiVersion: v1
kind: Namespace
metadata: {{name: {NAMESPACE}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {NAME}, namespace: {NAMESPACE}, labels: {{app: {NAME}}}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: {NAME}}}}}
  template:
    metadata: {{labels: {{app: {NAME}}}}}
    spec:
      containers:
      - name: {NAME}
        image: registry.example/{NAME}:1
        resources: {{requests: {{cpu: 100m, memory: 64Mi}}}}
---
{_placed_policy(NAME)}"""


def _capacity_of_nodes(env: SandboxEnv) -> dict[str, str]:
    nodes = get(env, "nodes")["items"]
    return {
        n["metadata"]["name"]: n["metadata"]["labels"].get("karpenter.sh/capacity-type", "") for n in nodes
    }


def _mix(env: SandboxEnv, app: str = NAME) -> Counter[str]:
    """Running, Ready pods by their node's capacity type; 'pending' for pods without a node."""
    capacity = _capacity_of_nodes(env)
    counted: Counter[str] = Counter()
    for pod in get(env, "pods", "-n", NAMESPACE, "-l", f"app={app}")["items"]:
        if pod["metadata"].get("deletionTimestamp"):
            continue
        node = pod["spec"].get("nodeName")
        ready = any(
            c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", [])
        )
        counted["pending" if not node else capacity.get(node, "?") if ready else "starting"] += 1
    return counted


def _moves(env: SandboxEnv) -> list[str]:
    """The PodMoved Events on the policy that were evictions, oldest first, one per eviction."""
    events = get(
        env,
        "events",
        "-n",
        NAMESPACE,
        "--field-selector",
        "reason=PodMoved,involvedObject.kind=ScalingPolicy",
    )["items"]
    events.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
    return [
        f"{e.get('lastTimestamp')}: {e['message']}"
        for e in events
        if "evicted" in e.get("message", "")
        for _ in range(int(e.get("count") or 1))
    ]


def _evictions(env: SandboxEnv) -> int:
    return len(_moves(env))


def _policy(env: SandboxEnv, app: str = NAME) -> dict[str, object]:
    return get(env, "scalingpolicy", app, "-n", NAMESPACE)


def _wait_mix(
    env: SandboxEnv,
    operator: OperatorProcess,
    on_demand: int,
    spot: int,
    timeout: float = 120,
    app: str = NAME,
) -> None:
    wait_for(
        f"{on_demand} on-demand and {spot} spot pods of {app} Running",
        lambda: _mix(env, app) == Counter({"on-demand": on_demand, "spot": spot}),
        timeout,
        operator,
        show=lambda: {
            "pods": _mix(env, app),
            "placement": _policy(env, app).get("status", {}).get("placement"),  # type: ignore[union-attr]
            "condition": condition(_policy(env, app), "SpotPlacement").get("message"),
            **_admissions(env, app),
        },
    )


def _admissions(env: SandboxEnv, app: str = NAME) -> dict[str, object]:
    """What a wrong mix needs explained: each pod's node type and what the webhook did to it, where
    the API server sends admissions, and what it said about calling the webhook."""
    capacity = _capacity_of_nodes(env)
    pods = []
    for pod in get(env, "pods", "-n", NAMESPACE, "-l", f"app={app}")["items"]:
        meta = pod["metadata"]
        annotations = meta.get("annotations") or {}
        pods.append(
            f"{meta['name']} on {capacity.get(pod['spec'].get('nodeName') or '', 'no node')}, sent to "
            f"{annotations.get(CAPACITY_TYPE_ANNOTATION, 'nothing')}"
            f"{', deleting' if meta.get('deletionTimestamp') else ''}, created {meta['creationTimestamp']}"
        )
    webhook = get(env, "mutatingwebhookconfiguration", "thrifty-pod-placement")["webhooks"][0]
    log = (env.state_dir / "logs" / "kube-apiserver.log").read_text(errors="replace").splitlines()
    return {
        "pod list": sorted(pods),
        "webhook url": webhook["clientConfig"].get("url"),
        "api server on the webhook": [line[-300:] for line in log if "pod-placement.thrifty.dev" in line][
            -5:
        ],
    }


class _BudgetWatch:
    """Counts the Ready pods every second while a fixed number of replicas moves: the PodDisruption
    Budget (minAvailable 90%) is violated when fewer than ``wanted`` are Ready."""

    def __init__(self, env: SandboxEnv, wanted: int) -> None:
        self.env, self.wanted, self.lowest = env, wanted, 10**6
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self.stop.wait(1.0):
            pods = get(self.env, "pods", "-n", NAMESPACE, "-l", f"app={NAME}")["items"]
            ready = sum(
                not p["metadata"].get("deletionTimestamp")
                and any(
                    c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", [])
                )
                for p in pods
            )
            self.lowest = min(self.lowest, ready)

    def __enter__(self) -> _BudgetWatch:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join()


def _placed_or_held(env: SandboxEnv) -> bool:
    """Placed, or a move the PodDisruptionBudget refuses (what a pod placed before the plan meets)."""
    placement = condition(_policy(env), "SpotPlacement")
    return placement.get("reason") == "Placed" or "was refused" in placement.get("message", "")


@pytest.fixture(scope="module")
def placed(
    sandbox: SandboxEnv, crds_installed: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    apply(sandbox, COST_POLICY)
    apply(sandbox, WORKLOAD)
    log = tmp_path_factory.mktemp("placement") / "operator.log"
    operator = OperatorProcess(sandbox, log, resync_seconds=5).start()
    try:
        wait_for(
            "the policy to report SpotPlacement",
            lambda: _placed_or_held(sandbox),
            90,
            operator,
            show=lambda: _policy(sandbox).get("status"),
        )
        if condition(_policy(sandbox), "SpotPlacement").get("reason") != "Placed":
            # The first pod came before the operator's first round, so the scheduler chose its node,
            # and on spot a PodDisruptionBudget at 90% of one replica lets no eviction move it (the
            # status says so). Started again, it goes through the webhook, which has the plan now.
            kubectl(sandbox, "delete", "pods", "-n", NAMESPACE, "-l", f"app={NAME}", "--wait=false")
            wait_for(
                "the policy to report SpotPlacement Placed",
                lambda: condition(_policy(sandbox), "SpotPlacement").get("reason") == "Placed",
                90,
                operator,
                show=lambda: _policy(sandbox).get("status"),
            )
        yield operator
    finally:
        # While the operator runs: kopf's finalizer on the CostPolicy needs it to let the object go.
        kubectl(sandbox, "delete", "costpolicy", "default", "--ignore-not-found", "--wait=false")
        kubectl(sandbox, "delete", "namespace", NAMESPACE, "--wait=false")
        time.sleep(2)
        operator.stop()


def test_the_mix_holds_as_replicas_change_and_twenty_pods_at_once_need_no_eviction(
    sandbox: SandboxEnv, placed: OperatorProcess
) -> None:
    # The first pod came before the policy, wherever the scheduler put it: it may have been moved.
    before = _evictions(sandbox)
    kubectl(sandbox, "scale", f"deployment/{NAME}", "-n", NAMESPACE, "--replicas=21")
    _wait_mix(sandbox, placed, on_demand=7, spot=14, timeout=60)
    assert _evictions(sandbox) == before
    kubectl(sandbox, "scale", f"deployment/{NAME}", "-n", NAMESPACE, "--replicas=11")
    _wait_mix(sandbox, placed, on_demand=4, spot=7, timeout=60)
    kubectl(sandbox, "scale", f"deployment/{NAME}", "-n", NAMESPACE, "--replicas=21")
    _wait_mix(sandbox, placed, on_demand=7, spot=14, timeout=60)
    kubectl(sandbox, "scale", f"deployment/{NAME}", "-n", NAMESPACE, "--replicas=11")
    _wait_mix(sandbox, placed, on_demand=4, spot=7, timeout=60)
    # Reported, not asserted: a scale-down the ReplicaSet did against the deletion costs is corrected
    # by one eviction (seen once in 1 -> 21 -> 11 -> 21 -> 11).
    moves = _moves(sandbox)[before:]
    print(f"evictions for 1 -> 21 -> 11 -> 21 -> 11: {len(moves)}", *moves, sep="\n  ")
    wait_for(
        "status.placement to show 4 on-demand and 7 spot",
        lambda: (_policy(sandbox).get("status", {}).get("placement") or {}).get("spot") == 7,  # type: ignore[union-attr]
        30,
        placed,
        show=lambda: _policy(sandbox).get("status"),
    )
    status = _policy(sandbox)["status"]
    assert status["placement"]["targetOnDemand"] == 4  # type: ignore[index]
    assert status["placement"]["spotPercent"] == 64  # type: ignore[index]
    table = kubectl(sandbox, "get", "scalingpolicy", NAME, "-n", NAMESPACE).stdout
    assert "64" in table.splitlines()[1]


def test_spot_pods_that_stay_pending_fall_back_and_return_one_eviction_at_a_time(
    sandbox: SandboxEnv, placed: OperatorProcess
) -> None:
    spot_nodes = [n for n, c in _capacity_of_nodes(sandbox).items() if c == "spot"]
    for node in spot_nodes:
        kubectl(sandbox, "cordon", node)
    try:
        kubectl(sandbox, "scale", f"deployment/{NAME}", "-n", NAMESPACE, "--replicas=15")
        wait_for("new spot pods Pending", lambda: _mix(sandbox)["pending"] > 0, 60, placed)
        wait_for(
            "SpotPlacement=False, reason Fallback",
            lambda: condition(_policy(sandbox), "SpotPlacement").get("reason") == "Fallback",
            90,
            placed,
            show=lambda: _policy(sandbox).get("status"),
        )
        # The 4 new spot pods run on on-demand: 4 + 4 on-demand, the 7 running spot pods stay.
        _wait_mix(sandbox, placed, on_demand=8, spot=7, timeout=90)
        assert condition(_policy(sandbox), "SpotPlacement")["status"] == "False"
    finally:
        for node in spot_nodes:
            kubectl(sandbox, "uncordon", node)
    before = _evictions(sandbox)
    # 15 replicas: 1 + ceil(14 x 0.3) = 6 on-demand and 9 spot, after returnAfterSeconds (60); 14
    # Ready is 90% of 15.
    with _BudgetWatch(sandbox, wanted=14) as watch:
        _wait_mix(sandbox, placed, on_demand=6, spot=9, timeout=240)
    moves = _moves(sandbox)[before:]
    print(f"return to the mix: {len(moves)} evictions; fewest Ready pods seen: {watch.lowest} of 15")
    assert len(moves) == 2, moves
    assert watch.lowest >= watch.wanted
    wait_for(
        "SpotPlacement=True, reason Placed, and the fallback over",
        lambda: (
            condition(_policy(sandbox), "SpotPlacement").get("reason") == "Placed"
            and "fallbackSince" not in _policy(sandbox)["status"]["placement"]
        ),  # type: ignore[index,operator]
        30,
        placed,
        show=lambda: _policy(sandbox).get("status"),
    )
    returns = get(sandbox, "events", "-n", NAMESPACE, "--field-selector", "reason=SpotReturn")["items"]
    assert sum(int(e.get("count") or 1) for e in returns) == 2  # one on the policy, one on the Deployment
    events = get(sandbox, "events", "-n", NAMESPACE, "--field-selector", "involvedObject.kind=Deployment")[
        "items"
    ]
    reasons = {e["reason"] for e in events}
    assert {"SpotFallback", "SpotReturn", "PodMoved", "PodsPlaced"} <= reasons


def test_without_the_operator_pods_are_created_and_the_mix_is_restored_after(
    sandbox: SandboxEnv, placed: OperatorProcess
) -> None:
    placed.stop()
    try:
        kubectl(sandbox, "scale", f"deployment/{NAME}", "-n", NAMESPACE, "--replicas=18")
        wait_for(
            "18 pods Running with the operator away",
            lambda: sum(v for k, v in _mix(sandbox).items() if k in ("spot", "on-demand")) == 18,
            90,
            placed,
            show=lambda: _mix(sandbox),
        )
    finally:
        placed.start()
    # 18 replicas: 1 + ceil(17 x 0.3) = 7 on-demand, 11 spot.
    _wait_mix(sandbox, placed, on_demand=7, spot=11, timeout=240)


# OpenCost's default prices, which the module's CostPolicy keeps (no catalog): per vCPU-hour and
# GiB-hour, on-demand and spot; 730 hours a month.
RATES = {"on-demand": (0.031611, 0.004237), "spot": (0.006655, 0.000892)}
HOURS_PER_MONTH = 730


def _gib(quantity: str) -> float:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    suffix = quantity[-2:]
    return float(quantity[:-2]) * units[suffix] / 2**30 if suffix in units else float(quantity) / 2**30


def _cores(quantity: str) -> float:
    return float(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def _monthly_cost_of_pods(env: SandboxEnv) -> float:
    """What the workload's running pods cost a month, each at its node's rates, from the API alone."""
    capacity = _capacity_of_nodes(env)
    total = 0.0
    for pod in get(env, "pods", "-n", NAMESPACE, "-l", f"app={NAME}")["items"]:
        node = pod["spec"].get("nodeName")
        if pod["metadata"].get("deletionTimestamp") or node not in capacity:
            continue
        cpu, memory = RATES["spot" if capacity[node] == "spot" else "on-demand"]
        for container in pod["spec"]["containers"]:
            requests = container["resources"]["requests"]
            total += (_cores(requests["cpu"]) * cpu + _gib(requests["memory"]) * memory) * HOURS_PER_MONTH
    return total


def test_the_cost_in_status_is_what_the_pods_nodes_charge(
    sandbox: SandboxEnv, placed: OperatorProcess
) -> None:
    def both() -> tuple[float, dict[str, object]]:
        return _monthly_cost_of_pods(sandbox), _policy(sandbox).get("status", {}).get("cost") or {}  # type: ignore[union-attr]

    def close() -> bool:
        expected, cost = both()
        current = cost.get("monthlyCurrent")
        return isinstance(current, float | int) and abs(current - expected) <= 0.01 * expected

    # 18 replicas at 7 on-demand and 11 spot, as the test before left them.
    wait_for("status.cost.monthlyCurrent within 1% of the pods' nodes' rates", close, 60, placed, show=both)
    expected, cost = both()
    print(f"monthly cost: status {cost['monthlyCurrent']}, from the pods' nodes {expected:.2f}")
    # At the target mix (reached), the recommended size is the current one while history is short.
    assert abs(float(cost["monthlyRecommended"]) - expected) <= 0.01 * expected  # type: ignore[arg-type]
    od, spot = RATES["on-demand"], RATES["spot"]
    spot_savings = 11 * (0.1 * (od[0] - spot[0]) + 64 / 1024 * (od[1] - spot[1])) * HOURS_PER_MONTH
    assert abs(float(cost["monthlySpotSavings"]) - spot_savings) <= 0.01 * spot_savings  # type: ignore[arg-type]
    # The module's CostPolicy has no catalog: no interruption frequency is known.
    assert "monthlySpotSavingsRiskWeighted" not in cost
    assert "unknown" in str(cost["spotRisk"])


def test_the_cost_policy_sums_up_the_cluster(sandbox: SandboxEnv, placed: OperatorProcess) -> None:
    nodes = get(sandbox, "nodes")["items"]
    hourly = 0.0
    for node in nodes:
        kind = (
            "spot" if node["metadata"]["labels"].get("karpenter.sh/capacity-type") == "spot" else "on-demand"
        )
        capacity = node["status"]["capacity"]
        hourly += _cores(capacity["cpu"]) * RATES[kind][0] + _gib(capacity["memory"]) * RATES[kind][1]
    spot_nodes = sum(n["metadata"]["labels"].get("karpenter.sh/capacity-type") == "spot" for n in nodes)
    wanted = {
        "pricingSource": "Rates",
        "nodes": len(nodes),
        "spotNodes": spot_nodes,
        "hourlyCost": round(hourly, 4),
        "unpricedNodes": 0,
        # 18 replicas at onDemandBase 1: 11 of the 17 above the base run on spot.
        "spotReplicaPercent": round(100 * 11 / 17, 1),
    }

    def summary() -> object:
        return (get(sandbox, "costpolicy", "default").get("status") or {}).get("summary")

    wait_for("CostPolicy status.summary", lambda: summary() == wanted, 60, placed, show=summary)
    columns = kubectl(sandbox, "get", "costpolicy", "default").stdout.splitlines()
    assert str(len(nodes)) in columns[1].split()


def test_a_reclaimed_spot_node_s_pods_come_back_in_the_mix(
    sandbox: SandboxEnv, placed: OperatorProcess, api_client: client.ApiClient
) -> None:
    capacity = _capacity_of_nodes(sandbox)
    on_node = Counter(
        pod["spec"].get("nodeName")
        for pod in get(sandbox, "pods", "-n", NAMESPACE, "-l", f"app={NAME}")["items"]
        if capacity.get(pod["spec"].get("nodeName") or "") == "spot"
    )
    reclaimed, lost = on_node.most_common(1)[0]
    started = time.monotonic()
    kubectl(sandbox, "delete", "node", reclaimed, "--wait=false")
    try:
        # The pod garbage collector removes the pods of the node that is gone; their replacements
        # go to the spot nodes left. Pods still bound to the lost node count as '?', never as placed.
        _wait_mix(sandbox, placed, on_demand=7, spot=11, timeout=240)
        print(f"spot reclaim: {lost} pods of {reclaimed} back on spot in {time.monotonic() - started:.0f} s")
        assert not any(
            pod["spec"].get("nodeName") == reclaimed
            for pod in get(sandbox, "pods", "-n", NAMESPACE, "-l", f"app={NAME}")["items"]
        )
    finally:
        reconcile_nodes(client.CoreV1Api(api_client), spot=3, on_demand=2)
        eventually(
            "the reclaimed node back and Ready",
            lambda: reclaimed in ready_node_names(client.CoreV1Api(api_client)) or None,
            120,
        )


CART = "cart"
CART_POLICY = f"""
{_placed_policy(CART, "  placement: {targetPercent: 0}")}
---
apiVersion: thrifty.dev/v1alpha1
kind: ResourceBudget
metadata: {{name: {CART}}}
spec:
  amount: 1000
  currency: USD
  period: Daily
  scope:
    namespaces: [{NAMESPACE}]
    workloadSelector: {{matchLabels: {{app: {CART}}}}}
  thresholds: [80]
  enforcement: Alert
"""


# A Daily budget reads from a week before its period, so its spend grid's step is 10 minutes: the
# newest step shows a new mix within one, and the test waits for two and the moves between them.
@pytest.mark.timeout(2100)
def test_a_budget_s_spend_per_hour_falls_once_the_mix_is_in_place(
    sandbox: SandboxEnv, placed: OperatorProcess
) -> None:
    # Each pod requests 500m and 256Mi (deployment_manifest) and uses less: it pays its requests.
    per_pod = {kind: 0.5 * cpu + 0.25 * memory for kind, (cpu, memory) in RATES.items()}
    all_on_demand = 11 * per_pod["on-demand"]
    at_the_mix = 4 * per_pod["on-demand"] + 7 * per_pod["spot"]  # 70% of the 10 above the base

    def rate() -> object:
        return (get(sandbox, "resourcebudget", CART).get("status") or {}).get("hourlyRate")

    def near(expected: float) -> Callable[[], bool]:
        return lambda: isinstance(value := rate(), float | int) and abs(value - expected) <= 0.01 * expected

    apply(sandbox, CART_POLICY)
    apply(sandbox, deployment_manifest(CART, NAMESPACE, 1))
    try:
        # Applied together, the first pod can come before the round has published the plan, and then
        # land on spot: at one replica its PodDisruptionBudget (90%) allows no eviction, and the status
        # says so. The scale to 11 below allows one, and the mix is reached from there.
        def placed_or_refused() -> bool:
            said = condition(_policy(sandbox, CART), "SpotPlacement")
            refused = "PodDisruptionBudget allows no disruption" in said.get("message", "")
            return said.get("reason") == "Placed" or refused

        wait_for(
            "cart's policy placing it, or saying why it cannot",
            placed_or_refused,
            90,
            placed,
            show=lambda: _policy(sandbox, CART).get("status"),
        )
        kubectl(sandbox, "scale", f"deployment/{CART}", "-n", NAMESPACE, "--replicas=11")
        _wait_mix(sandbox, placed, on_demand=11, spot=0, timeout=120, app=CART)
        # The spend grid's step is 5 minutes for a day: the newest step shows the new mix within one.
        wait_for(
            f"hourlyRate {all_on_demand:.4f} (all on on-demand)", near(all_on_demand), 780, placed, show=rate
        )
        before = rate()
        kubectl(
            sandbox, "patch", "scalingpolicy", CART, "-n", NAMESPACE, "--type=merge",
            "-p", '{"spec": {"placement": {"targetPercent": 70}}}',
        )  # fmt: skip
        _wait_mix(sandbox, placed, on_demand=4, spot=7, timeout=240, app=CART)
        wait_for(
            f"hourlyRate {at_the_mix:.4f} (4 on-demand, 7 spot)", near(at_the_mix), 780, placed, show=rate
        )
        print(f"budget spend per hour: {before} on on-demand, {rate()} at the mix")
        table = kubectl(sandbox, "get", "resourcebudget", CART).stdout
        assert "PER-HOUR" in table.splitlines()[0]
    finally:
        kubectl(sandbox, "delete", "resourcebudget", CART, "--ignore-not-found")
        kubectl(
            sandbox, "delete", "scalingpolicy,deployment,pdb", CART, "-n", NAMESPACE, "--ignore-not-found"
        )


OUTSIDE = """
apiVersion: v1
kind: Namespace
metadata: {name: unplaced}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web, namespace: unplaced}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: web}}
---
apiVersion: thrifty.dev/v1alpha1
kind: ScalingPolicy
metadata: {name: web, namespace: unplaced}
spec:
  targetRef: {kind: Deployment, name: web}
  mode: Apply
  vertical: {containers: [web]}
"""


def test_pods_outside_the_scope_are_never_touched(sandbox: SandboxEnv, placed: OperatorProcess) -> None:
    apply(sandbox, OUTSIDE)
    apply(sandbox, deployment_manifest("web", "unplaced", 4))
    apply(sandbox, deployment_manifest("system-web", "kube-system", 2))
    try:
        wait_for(
            "SpotPlacement=False, reason NotEligible, outside the namespaceSelector",
            lambda: (
                condition(get(sandbox, "scalingpolicy", "web", "-n", "unplaced"), "SpotPlacement").get(
                    "reason"
                )
                == "NotEligible"
            ),
            60,
            placed,
        )
        kubectl(sandbox, "rollout", "status", "deployment/web", "-n", "unplaced", "--timeout=60s")
        kubectl(sandbox, "rollout", "status", "deployment/system-web", "-n", "kube-system", "--timeout=60s")
        for namespace in ("unplaced", "kube-system"):
            for pod in get(sandbox, "pods", "-n", namespace)["items"]:
                meta, spec = pod["metadata"], pod["spec"]
                assert not any(k.startswith("thrifty.dev/") for k in meta.get("annotations") or {}), meta[
                    "name"
                ]
                assert "affinity" not in spec, meta["name"]
        webhook = get(sandbox, "mutatingwebhookconfiguration", "thrifty-pod-placement")["webhooks"][0]
        assert webhook["failurePolicy"] == "Ignore"
        assert "kube-system" in webhook["namespaceSelector"]["matchExpressions"][0]["values"]
    finally:
        kubectl(sandbox, "delete", "namespace", "unplaced", "--wait=false")
        kubectl(sandbox, "delete", "deployment", "system-web", "-n", "kube-system", "--ignore-not-found")
