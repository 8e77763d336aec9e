"""Acceptance of right-sizing: `thrifty run` as a real process against the sandbox's API server and
Prometheus, fed with real-trace history (google2019).

- Recommend mode: status holds requests equal to an independent numpy computation (p95 of the pooled
  per-pod CPU rates, max of memory x 1.15) over the very arrays written into Prometheus, the monthly
  cost, and `kubectl get sp` shows them.
- Short history: no recommendation, with the samples and hours it has.
- Apply mode: the Deployment gets the recommended requests (field manager thrifty, Events, lastAction)
  and later rounds patch nothing.
- Prometheus stopped: conditions say so, nothing is patched, the last recommendation stays, and the
  policy recovers once Prometheus is back.
- 500 policies in one namespace send one batch of queries per round, as one policy does.

All history is backfilled up front in one module fixture, since every backfill restarts Prometheus.
"""

from __future__ import annotations

import json
import math
import random
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sandbox_helpers import (
    OPENCOST_COST_POLICY,
    OPENCOST_RATES,
    OperatorProcess,
    apply,
    condition,
    eventually,
    get,
    kubectl,
    parse_table,
    queries_sent,
    usage_failures_logged,
    usage_rounds_logged,
    wait_for,
)

from thrifty.engine.quantities import parse_quantity
from thrifty.sandbox import cluster
from thrifty.sandbox.cluster import SandboxEnv
from thrifty.sandbox.inventory import Inventory, read_inventory
from thrifty.sandbox.series import Peak, Pod, write_openmetrics
from thrifty.sandbox.traces import FloatArray, Trace, load_trace
from thrifty.sources.usage import USAGE_QUERIES

MiB = 1024**2
GiB = 1024**3
RUN = uuid.uuid4().hex[:6]
RECOMMEND_NS = f"rs-{RUN}-recommend"
APPLY_NS = f"rs-{RUN}-apply"
MANY_NS = f"rs-{RUN}-many"
SINGLE_NS = f"rs-{RUN}-single"
KILL_NS = f"rs-{RUN}-kill"

EVALUATION_SECONDS = 5  # the module operator's round
HISTORY_SECONDS = 2 * 86400.0
SHORT_HISTORY_SECONDS = 3600.0
MANY_HISTORY_SECONDS = 6 * 3600.0
POD_OFFSET_SPAN_SECONDS = 600.0  # replicas read the trace 0, 1 and 2 rows (300 s) apart
SCRAPE_SECONDS = 60  # write_openmetrics' default scrape interval, the operator's default too
# How the operator queries (sources/usage.py, sources/promql.py) with the default historyHours 336:
# choose_step(14 d, 60 s): 1,209,600 s / 10,999 points = 110 s -> the clean step 120 s; the CPU rate
# window is two steps (240 s, also >= 4 scrapes). Grid points are multiples of the step.
STEP_SECONDS = 120
RATE_WINDOW_SECONDS = 240
HOURS_PER_MONTH = 730

WEB_PEAK = Peak(cpu_cores=0.5, memory_bytes=512 * MiB)  # usage when the trace reads 1.0
API_PEAK = Peak(cpu_cores=0.6, memory_bytes=1 * GiB)
SMALL_PEAK = Peak(cpu_cores=0.2, memory_bytes=256 * MiB)

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
        - name: app
          image: nginx
          resources:
            requests: {{cpu: {cpu}, memory: {memory}}}
"""

POLICY = """
apiVersion: thrifty.dev/v1alpha1
kind: ScalingPolicy
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  targetRef: {{kind: Deployment, name: {target}}}
  mode: {mode}
  vertical: {{}}
"""

# (namespace, name, replicas, cpu request, memory request)
WORKLOADS = [
    (RECOMMEND_NS, "web", 3, "500m", "512Mi"),
    (RECOMMEND_NS, "short", 2, "200m", "256Mi"),
    (APPLY_NS, "api", 2, "2", "2Gi"),
    *((MANY_NS, f"w{i}", 2, "250m", "256Mi") for i in range(3)),
    (SINGLE_NS, "solo", 2, "250m", "256Mi"),
    (KILL_NS, "resize", 2, "2", "2Gi"),
]


@dataclass(frozen=True)
class History:
    trace: Trace  # the rows the `web` replicas read, from row 0
    web_pods: tuple[Pod, ...]
    now: float  # the series end at floor((now - 120) / 60) * 60


# ----------------------------------------------------------------------------- helpers


def policy(env: SandboxEnv, name: str, namespace: str) -> dict[str, Any]:
    return get(env, "scalingpolicy", name, "-n", namespace)


def recommended_requests(obj: dict[str, Any]) -> dict[str, str] | None:
    containers = (obj.get("status", {}).get("recommendation") or {}).get("containers") or []
    if not containers:
        return None
    requests: dict[str, str] | None = (containers[0].get("recommended") or {}).get("requests")
    return requests


def template_requests(deployment: dict[str, Any]) -> dict[str, str]:
    requests: dict[str, str] = deployment["spec"]["template"]["spec"]["containers"][0]["resources"][
        "requests"
    ]
    return requests


def pods_running(env: SandboxEnv, namespace: str, expected: dict[str, int]) -> Inventory | None:
    inventory = read_inventory(env.kubeconfig, namespace)
    counts = {name: sum(p.deployment == name for p in inventory.pods) for name in expected}
    return inventory if counts == expected else None


# What ScalingPolicies read for right-sizing: usage history, and the pods' nodes for their prices.
# (ResourceBudgets left in the cluster by other tests send their own queries, with other labels.)
RIGHTSIZING_READS = frozenset(
    {"cpu_usage", "memory_working_set", "resource_requests", "resource_limits", "oom_kills", "presence"}
    | {"pod_nodes", "node_labels"}
)


def monthly_cost(pods: tuple[Pod, ...], cpu_cores: float, memory_bytes: float) -> float:
    """Each pod's requests for 730 h at the rates of its node (sandbox nodes are named by capacity type)."""
    total = 0.0
    for pod in pods:
        cpu_rate, memory_rate = OPENCOST_RATES["spot" if "spot" in pod.node else "on-demand"]
        total += HOURS_PER_MONTH * (cpu_cores * cpu_rate + memory_bytes / GiB * memory_rate)
    return total


# ----------------------------------------------------------------------------- the independent answer


def written_usage(history: History, peak: Peak) -> tuple[FloatArray, FloatArray, FloatArray]:
    """What write_openmetrics wrote for the `web` pods: per pod, one value per scrape (60 s).

    The window holds ceil(history / 60) samples ending at floor((now - 120) / 60) * 60; replica r (in
    name order) reads the trace from row r (offset r x 300 s), each row holding for five scrapes.
    CPU is the rate in force from each sample to the next; memory is the gauge, rounded to bytes.
    Returns (sample times, cpu cores (pods, samples), memory bytes (pods, samples)).
    """
    samples = math.ceil(HISTORY_SECONDS / SCRAPE_SECONDS)
    end = math.floor((history.now - 120) / SCRAPE_SECONDS) * SCRAPE_SECONDS
    times = end - SCRAPE_SECONDS * np.arange(samples - 1, -1, -1, dtype=np.float64)
    step = int(history.trace.step_seconds) // SCRAPE_SECONDS
    rows = np.array([rank + np.arange(samples) // step for rank in range(len(history.web_pods))])
    return (
        times,
        history.trace.cpu[rows] * peak.cpu_cores,
        np.rint(history.trace.memory[rows] * peak.memory_bytes),
    )


def independent_recommendation(history: History, peak: Peak) -> tuple[float, float, int]:
    """(CPU p95 in cores, memory max x 1.15 in bytes, pooled CPU samples), in numpy from the written
    arrays, as Prometheus 2.x answers the operator's queries at each grid point t (multiple of 120 s):

    - CPU: rate(counter[240s]) with the samples at t-240 .. t (closed range): the counter rises by
      cpu x 60 per scrape, so the rate is the mean of the four per-scrape rates from t-240 to t-60.
      Only windows that lie wholly inside the series are taken: Prometheus adds a few extrapolated
      ones at each end, well inside the 5 % tolerance of a p95 over thousands of samples.
    - memory: max_over_time over one step; every sample lands in some window, so the pooled maximum
      is the maximum of all samples written.
    """
    times, cpu, memory = written_usage(history, peak)
    first = math.ceil((times[0] + RATE_WINDOW_SECONDS) / STEP_SECONDS) * STEP_SECONDS
    grid = np.arange(first, times[-1] + 1, STEP_SECONDS)
    at = ((grid - times[0]) // SCRAPE_SECONDS).astype(np.intp)  # index of the sample at t
    per_window = RATE_WINDOW_SECONDS // SCRAPE_SECONDS
    rates = np.mean([cpu[:, at - back] for back in range(1, per_window + 1)], axis=0)
    pooled = rates.ravel()
    return float(np.percentile(pooled, 95)), float(memory.max()) * 1.15, len(pooled)


# ----------------------------------------------------------------------------- fixtures


def series(path: Path, pods: tuple[Pod, ...], inventory: Inventory, trace: Trace, **kwargs: Any) -> Path:
    write_openmetrics(
        path,
        pods,
        inventory.nodes,
        trace,
        pod_offset_span_seconds=POD_OFFSET_SPAN_SECONDS,
        state_interval_seconds=240.0,
        **kwargs,
    )
    return path


@pytest.fixture(scope="module")
def history(
    sandbox: SandboxEnv, crds_installed: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[History]:
    """Every Deployment of the module with its pods Running, and all their history in Prometheus."""
    namespaces = [RECOMMEND_NS, APPLY_NS, MANY_NS, SINGLE_NS, KILL_NS]
    for namespace in namespaces:
        kubectl(sandbox, "create", "namespace", namespace)
    # The prices `monthly_cost` expects, whatever CostPolicy other tests left (the example's has a catalog).
    apply(sandbox, OPENCOST_COST_POLICY)
    try:
        apply(
            sandbox,
            "---".join(
                DEPLOYMENT.format(namespace=ns, name=name, replicas=replicas, cpu=cpu, memory=memory)
                for ns, name, replicas, cpu, memory in WORKLOADS
            ),
        )
        inventories = {
            namespace: eventually(
                f"the pods of {namespace} Running",
                lambda ns=namespace: pods_running(  # type: ignore[misc]
                    sandbox, ns, {name: replicas for n, name, replicas, *_ in WORKLOADS if n == ns}
                ),
                90,
            )
            for namespace in namespaces
        }
        full = load_trace("google2019")
        # Exactly the history plus the replicas' offsets: each `web` replica starts at row 0, 1 or 2.
        rows = int((HISTORY_SECONDS + POD_OFFSET_SPAN_SECONDS) // full.step_seconds)
        trace = Trace(full.seconds[:rows], full.cpu[:rows], full.memory[:rows])
        recommend = inventories[RECOMMEND_NS]
        web = tuple(p for p in recommend.pods if p.deployment == "web")
        short = tuple(p for p in recommend.pods if p.deployment == "short")
        now = time.time()
        scratch = tmp_path_factory.mktemp("rightsizing")
        files = [
            series(scratch / "web.om", web, recommend, trace, peak=lambda *_: WEB_PEAK,
                   history_seconds=HISTORY_SECONDS, now=now),
            series(scratch / "short.om", short, recommend, full, peak=lambda *_: SMALL_PEAK,
                   history_seconds=SHORT_HISTORY_SECONDS, now=now),
            series(scratch / "api.om", inventories[APPLY_NS].pods, inventories[APPLY_NS], trace,
                   peak=lambda *_: API_PEAK, history_seconds=HISTORY_SECONDS, now=now),
            series(scratch / "resize.om", inventories[KILL_NS].pods, inventories[KILL_NS], trace,
                   peak=lambda *_: API_PEAK, history_seconds=HISTORY_SECONDS, now=now),
            series(scratch / "many.om", inventories[MANY_NS].pods + inventories[SINGLE_NS].pods,
                   inventories[MANY_NS], full, peak=lambda *_: SMALL_PEAK,
                   history_seconds=MANY_HISTORY_SECONDS, now=now),
        ]  # fmt: skip
        cluster.restart_prometheus(sandbox.state_dir, files, progress=lambda _: None)
        yield History(trace=trace, web_pods=web, now=now)
    finally:
        for namespace in namespaces:
            kubectl(sandbox, "delete", "namespace", namespace, "--wait=false", check=False)


@pytest.fixture(scope="module")
def operator(
    sandbox: SandboxEnv, history: History, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    process = OperatorProcess(
        sandbox,
        tmp_path_factory.mktemp("operator") / "operator.log",
        extra_env={"THRIFTY_EVALUATION_SECONDS": str(EVALUATION_SECONDS)},
        namespaces=[RECOMMEND_NS, APPLY_NS],
    ).start()
    try:
        yield process
    finally:
        # Policies go while the operator runs, so it can release them.
        kubectl(
            sandbox, "delete", "scalingpolicies", "--all", "-n", RECOMMEND_NS, "--timeout=30s", check=False
        )
        kubectl(sandbox, "delete", "scalingpolicies", "--all", "-n", APPLY_NS, "--timeout=30s", check=False)
        process.stop()


# ----------------------------------------------------------------------------- Recommend mode


@pytest.fixture(scope="module")
def recommended(sandbox: SandboxEnv, operator: OperatorProcess) -> dict[str, Any]:
    """The `web` policy in Recommend mode, once it has a recommendation."""
    apply(sandbox, POLICY.format(name="web", namespace=RECOMMEND_NS, target="web", mode="Recommend"))
    wait_for(
        "a recommendation for web",
        lambda: (
            condition(policy(sandbox, "web", RECOMMEND_NS), "Recommendation").get("reason") == "Recommended"
        ),
        6 * EVALUATION_SECONDS + 30,
        operator,
        show=lambda: policy(sandbox, "web", RECOMMEND_NS).get("status"),
    )
    return policy(sandbox, "web", RECOMMEND_NS)


def test_recommendation_matches_an_independent_computation(
    recommended: dict[str, Any], history: History
) -> None:
    requests = recommended_requests(recommended)
    assert requests is not None, recommended["status"]
    cpu_p95, memory_target, pooled = independent_recommendation(history, WEB_PEAK)
    cpu, memory = parse_quantity(requests["cpu"]), parse_quantity(requests["memory"])
    print(
        f"\nweb: recommended cpu {requests['cpu']} ({cpu:.4f} cores) vs independent p95 {cpu_p95:.4f} "
        f"over {pooled} pooled samples; memory {requests['memory']} ({memory / MiB:.1f} MiB) vs "
        f"independent max x 1.15 = {memory_target / MiB:.1f} MiB"
    )
    assert cpu == pytest.approx(cpu_p95, rel=0.05)
    assert memory == pytest.approx(memory_target, rel=0.05)
    # Rounding goes up (5m above 100m, 1 MiB below 1 GiB), never below what usage needs.
    assert cpu >= cpu_p95 * 0.995
    assert memory >= memory_target * 0.995

    container = recommended["status"]["recommendation"]["containers"][0]
    assert container["name"] == "app"
    assert container["current"]["requests"] == {"cpu": "500m", "memory": "512Mi"}
    assert "p95" in container["reason"]
    assert recommended["status"]["currentReplicas"] == 3


def test_cost_is_in_status_and_consistent(recommended: dict[str, Any], history: History) -> None:
    cost = recommended["status"]["cost"]
    requests = recommended_requests(recommended)
    assert requests is not None
    assert cost["currency"] == "USD"
    assert cost["monthlyCurrent"] > cost["monthlyRecommended"] > 0
    assert cost["monthlySavings"] == pytest.approx(
        cost["monthlyCurrent"] - cost["monthlyRecommended"], abs=0.011
    )
    # 3 replicas x 730 h, each at the rates of the node it runs on (spot or on-demand).
    assert len(history.web_pods) == 3
    assert cost["monthlyCurrent"] == pytest.approx(monthly_cost(history.web_pods, 0.5, 512 * MiB), abs=0.011)
    expected = monthly_cost(
        history.web_pods, parse_quantity(requests["cpu"]), parse_quantity(requests["memory"])
    )
    assert cost["monthlyRecommended"] == pytest.approx(expected, abs=0.011)


def test_kubectl_get_shows_the_decision(sandbox: SandboxEnv, recommended: dict[str, Any]) -> None:
    requests = recommended_requests(recommended)
    assert requests is not None
    table = parse_table(kubectl(sandbox, "get", "sp", "web", "-n", RECOMMEND_NS).stdout)
    print("\n" + kubectl(sandbox, "get", "sp", "web", "-n", RECOMMEND_NS).stdout)
    assert len(table) == 1
    row = table[0]
    assert row["CPU"] == f"500m→{requests['cpu']}"
    assert row["MEMORY"] == f"512Mi→{requests['memory']}"
    assert row["SAVINGS/MO"] == f"{recommended['status']['cost']['monthlySavings']:.2f} USD"
    assert row["MODE"] == "Recommend"
    assert row["TARGET"] == "web"


def test_short_history_gives_no_recommendation(sandbox: SandboxEnv, operator: OperatorProcess) -> None:
    apply(sandbox, POLICY.format(name="short", namespace=RECOMMEND_NS, target="short", mode="Recommend"))
    wait_for(
        "Recommendation=False, reason InsufficientHistory",
        lambda: (
            condition(policy(sandbox, "short", RECOMMEND_NS), "Recommendation").get("reason")
            == "InsufficientHistory"
        ),
        6 * EVALUATION_SECONDS + 30,
        operator,
        show=lambda: policy(sandbox, "short", RECOMMEND_NS).get("status"),
    )
    obj = policy(sandbox, "short", RECOMMEND_NS)
    found = condition(obj, "Recommendation")
    assert found["status"] == "False"
    match = re.search(r"(\d+) samples over ([\d.]+) h", found["message"])
    assert match is not None, found["message"]
    samples, hours = int(match.group(1)), float(match.group(2))
    print(f"\nshort: {found['message']}")
    # Two replicas, one hour at the 120 s step: about 60 samples over about 1 h.
    assert 0 < samples < 100
    assert 0.5 <= hours <= 1.5
    assert "100 samples and 3 h" in found["message"]
    assert recommended_requests(obj) is None


# ----------------------------------------------------------------------------- Apply mode


@dataclass(frozen=True)
class Applied:
    policy: dict[str, Any]
    deployment: dict[str, Any]


@pytest.fixture(scope="module")
def applied(sandbox: SandboxEnv, operator: OperatorProcess) -> Applied:
    """The over-sized `api` Deployment under a policy in Apply mode, once it has been resized."""
    assert template_requests(get(sandbox, "deployment", "api", "-n", APPLY_NS)) == {
        "cpu": "2",
        "memory": "2Gi",
    }
    apply(sandbox, POLICY.format(name="api", namespace=APPLY_NS, target="api", mode="Apply"))

    def resized() -> bool:
        obj = policy(sandbox, "api", APPLY_NS)
        wanted = recommended_requests(obj)
        last = obj.get("status", {}).get("lastAction") or {}
        deployment = get(sandbox, "deployment", "api", "-n", APPLY_NS)
        return (
            last.get("action") == "Resize" and wanted is not None and template_requests(deployment) == wanted
        )

    wait_for(
        "the Deployment resized to the recommendation",
        resized,
        6 * EVALUATION_SECONDS + 30,
        operator,
        show=lambda: policy(sandbox, "api", APPLY_NS).get("status"),
    )
    return Applied(
        policy(sandbox, "api", APPLY_NS),
        get(sandbox, "deployment", "api", "-n", APPLY_NS, "--show-managed-fields"),
    )


def test_apply_writes_the_recommendation_as_field_manager_thrifty(applied: Applied) -> None:
    requests = recommended_requests(applied.policy)
    assert requests is not None
    assert template_requests(applied.deployment) == requests
    assert parse_quantity(requests["cpu"]) < 2
    assert parse_quantity(requests["memory"]) < 2 * GiB
    managers = {entry["manager"]: entry for entry in applied.deployment["metadata"]["managedFields"]}
    assert "thrifty" in managers, sorted(managers)
    fields = json.dumps(managers["thrifty"]["fieldsV1"])
    assert '"f:requests"' in fields
    assert '"f:cpu"' in fields
    assert '"f:memory"' in fields


def test_apply_records_the_last_action(applied: Applied) -> None:
    requests = recommended_requests(applied.policy)
    assert requests is not None
    last = applied.policy["status"]["lastAction"]
    assert last["action"] == "Resize"
    assert last["time"]
    assert last["from"] == "app cpu 2 memory 2Gi"
    assert last["to"] == f"app cpu {requests['cpu']} memory {requests['memory']}"
    assert last["reason"]


def resized_events(env: SandboxEnv, kind: str) -> list[dict[str, Any]]:
    events = get(env, "events", "-n", APPLY_NS, "--field-selector", "involvedObject.name=api,reason=Resized")
    return [e for e in events["items"] if e["involvedObject"]["kind"] == kind]


@pytest.mark.parametrize("kind", ["ScalingPolicy", "Deployment"])
def test_apply_posts_a_resized_event(
    sandbox: SandboxEnv, operator: OperatorProcess, applied: Applied, kind: str
) -> None:
    requests = recommended_requests(applied.policy)
    assert requests is not None
    wait_for(
        f"an Event with reason Resized on the {kind}",
        lambda: bool(resized_events(sandbox, kind)),
        10,
        operator,
        show=lambda: get(sandbox, "events", "-n", APPLY_NS)["items"],
    )
    message = resized_events(sandbox, kind)[0]["message"]
    assert "cpu 2 memory 2Gi" in message
    assert f"cpu {requests['cpu']} memory {requests['memory']}" in message
    assert "usage history" in message  # why


def test_later_rounds_patch_nothing(sandbox: SandboxEnv, operator: OperatorProcess, applied: Applied) -> None:
    generation = applied.deployment["metadata"]["generation"]
    rounds_before = len(usage_rounds_logged(operator, APPLY_NS))
    # Let several evaluation rounds pass (the operator logs one batch of queries per round).
    wait_for(
        "four more evaluation rounds",
        lambda: len(usage_rounds_logged(operator, APPLY_NS)) >= rounds_before + 4,
        8 * EVALUATION_SECONDS + 30,
        operator,
    )
    obj = policy(sandbox, "api", APPLY_NS)
    assert get(sandbox, "deployment", "api", "-n", APPLY_NS)["metadata"]["generation"] == generation
    assert obj["status"]["lastAction"] == applied.policy["status"]["lastAction"]
    unchanged = condition(obj, "Recommendation")
    assert (unchanged["status"], unchanged["reason"]) == ("True", "Unchanged"), unchanged
    assert recommended_requests(obj) == recommended_requests(applied.policy)


# ----------------------------------------------------------------------------- Prometheus stopped


def test_prometheus_outage_is_reported_changes_nothing_and_recovers(
    sandbox: SandboxEnv, operator: OperatorProcess, recommended: dict[str, Any], applied: Applied
) -> None:
    pid = operator.proc.pid if operator.proc else None
    before = {
        "web": policy(sandbox, "web", RECOMMEND_NS)["status"]["recommendation"],
        "api": policy(sandbox, "api", APPLY_NS)["status"]["recommendation"],
    }
    generations = {
        name: get(sandbox, "deployment", name, "-n", ns)["metadata"]["generation"]
        for name, ns in (("web", RECOMMEND_NS), ("api", APPLY_NS))
    }
    targets = (("web", RECOMMEND_NS), ("api", APPLY_NS))

    def unavailable() -> bool:
        for name, ns in targets:
            obj = policy(sandbox, name, ns)
            metrics, ready = condition(obj, "MetricsAvailable"), condition(obj, "Ready")
            if (metrics.get("status"), metrics.get("reason")) != ("False", "PrometheusUnavailable"):
                return False
            if (ready.get("status"), ready.get("reason")) != ("False", "PrometheusUnavailable"):
                return False
        return True

    cluster.stop_prometheus(sandbox.state_dir)
    try:
        wait_for(
            "MetricsAvailable=False and Ready=False, reason PrometheusUnavailable",
            unavailable,
            4 * EVALUATION_SECONDS + 30,
            operator,
            show=lambda: policy(sandbox, "web", RECOMMEND_NS).get("status"),
        )
        for name, ns in targets:
            obj = policy(sandbox, name, ns)
            for kind in ("MetricsAvailable", "Ready"):
                message = condition(obj, kind)["message"]
                assert sandbox.prometheus_url in message, message
                assert "nothing is changed" in message, message
            # The last recommendation stays, and nothing is patched.
            assert obj["status"]["recommendation"] == before[name]
            assert get(sandbox, "deployment", name, "-n", ns)["metadata"]["generation"] == generations[name]
        print(f"\nweb, Prometheus stopped: {condition(policy(sandbox, 'web', RECOMMEND_NS), 'Ready')}")
    finally:
        cluster.restart_prometheus(sandbox.state_dir, progress=lambda _: None)

    def recovered() -> bool:
        for name, ns in targets:
            obj = policy(sandbox, name, ns)
            if condition(obj, "MetricsAvailable").get("status") != "True":
                return False
            if condition(obj, "Ready").get("status") != "True":
                return False
        return True

    wait_for(
        "MetricsAvailable=True and Ready=True again",
        recovered,
        4 * EVALUATION_SECONDS + 30,
        operator,
        show=lambda: policy(sandbox, "web", RECOMMEND_NS).get("status"),
    )
    assert operator.proc is not None
    assert operator.proc.pid == pid
    assert operator.proc.poll() is None
    for name, ns in targets:
        assert (
            policy(sandbox, name, ns)["status"]["recommendation"]["containers"] == before[name]["containers"]
        )
        assert get(sandbox, "deployment", name, "-n", ns)["metadata"]["generation"] == generations[name]


# ----------------------------------------------------------------------------- 500 policies

MANY_POLICIES = 500
MANY_RESYNC_SECONDS = 30  # 500 timers every 30 s stay within 2 CPUs
MANY_EVALUATION_SECONDS = 20
MEASURED_ROUNDS = 3
# Rounds come as timers fire: about one per resync for the single policy. The deadline is for them to
# happen at all, however slowly; nothing asserts how many fit in it.
ROUNDS_DEADLINE_SECONDS = 3 * MEASURED_ROUNDS * MANY_RESYNC_SECONDS + 60
USAGE_READS = frozenset(
    {"cpu_usage", "memory_working_set", "resource_requests", "resource_limits", "oom_kills", "presence"}
)
PRICING_READS = frozenset({"pod_nodes", "node_labels"})  # a round's pods' nodes, for their prices
PRICING_QUERIES = len(PRICING_READS)


def many_policies() -> str:
    targets = ["w0", "w1", "w2", "absent"]  # three with history, one that does not exist
    return "---".join(
        POLICY.format(name=f"p{i:03d}", namespace=MANY_NS, target=targets[i % len(targets)], mode="Recommend")
        for i in range(MANY_POLICIES)
    )


@dataclass(frozen=True)
class Counted:
    """An operator's logged usage rounds and, at the same moment, its right-sizing queries on /metrics."""

    rounds: list[int]
    usage_queries: float  # of the batches that succeeded
    pricing_queries: float
    failed: list[int]  # queries of each batch that failed part-way, retried the next round


def counted_between_rounds(operator: OperatorProcess, namespace: str) -> Counted | None:
    """The counts, or None while a round is in flight (its queries counted, its line not yet logged):
    then /metrics and the log do not describe the same rounds."""
    rounds, failed = usage_rounds_logged(operator, namespace), usage_failures_logged(operator, namespace)
    usage, pricing = queries_sent(operator, USAGE_READS), queries_sent(operator, PRICING_READS)
    now = usage_rounds_logged(operator, namespace), usage_failures_logged(operator, namespace)
    if now != (rounds, failed) or usage != sum(rounds) + sum(failed):
        return None
    return Counted(rounds, usage - sum(failed), pricing, failed)


def round_number(moment: float) -> int:
    """The round a moment belongs to, as the operator numbers rounds (handlers/round_cache.py)."""
    return int(moment // MANY_EVALUATION_SECONDS)


def rounds_logged_since(operator: OperatorProcess, namespace: str, at_least: int) -> bool:
    return len(usage_rounds_logged(operator, namespace)) >= at_least


def test_query_count_does_not_grow_with_policies(
    sandbox: SandboxEnv, history: History, tmp_path_factory: pytest.TempPathFactory
) -> None:
    apply(sandbox, POLICY.format(name="solo", namespace=SINGLE_NS, target="solo", mode="Recommend"))
    apply(sandbox, many_policies())
    logs = tmp_path_factory.mktemp("many")
    env = {"THRIFTY_EVALUATION_SECONDS": str(MANY_EVALUATION_SECONDS)}
    # One operator per namespace, so each log and /metrics holds one namespace's rounds and queries.
    many = OperatorProcess(sandbox, logs / "many.log", MANY_RESYNC_SECONDS, env, [MANY_NS])
    single = OperatorProcess(sandbox, logs / "single.log", MANY_RESYNC_SECONDS, env, [SINGLE_NS])
    measured = {"500 policies": (many, MANY_NS), "1 policy": (single, SINGLE_NS)}
    try:
        for op in (many, single):
            op.start()

        def evaluated() -> bool:
            items = get(sandbox, "scalingpolicies", "-n", MANY_NS)["items"]
            done = [i for i in items if condition(i, "Ready").get("observedGeneration") == 1]
            with_history = [i for i in done if condition(i, "MetricsAvailable").get("status") == "True"]
            return len(done) == MANY_POLICIES and len(with_history) == 3 * MANY_POLICIES // 4

        wait_for("all 500 policies evaluated", evaluated, 240, many)
        wait_for(
            "the single policy evaluated",
            lambda: condition(policy(sandbox, "solo", SINGLE_NS), "MetricsAvailable").get("status") == "True",
            60,
            single,
        )
        # Rounds once every policy has been evaluated: all 500 reconcile in each of them.
        started = time.time()
        first = {what: len(usage_rounds_logged(op, ns)) for what, (op, ns) in measured.items()}
        for what, (op, ns) in measured.items():
            wait_for(
                f"{MEASURED_ROUNDS} more logged rounds with {what}",
                partial(rounds_logged_since, op, ns, first[what] + MEASURED_ROUNDS),
                ROUNDS_DEADLINE_SECONDS,
                op,
            )
        last = {what: len(usage_rounds_logged(op, ns)) for what, (op, ns) in measured.items()}
        ended = time.time()
        counted: dict[str, Counted] = {}
        for what, (op, ns) in measured.items():
            try:
                counted[what] = eventually(
                    f"{what}: /metrics and the log agree between rounds",
                    partial(counted_between_rounds, op, ns),
                    2 * MANY_EVALUATION_SECONDS + 30,
                )
            except AssertionError as error:
                raise AssertionError(
                    f"{error}\nlogged rounds {usage_rounds_logged(op, ns)}, "
                    f"failed {usage_failures_logged(op, ns)}, usage queries on /metrics "
                    f"{queries_sent(op, USAGE_READS):.0f}\noperator log:\n{op.tail()}"
                ) from None
        reconciled = many.log.read_text(errors="replace").count("succeeded")
    finally:
        # kopf puts a finalizer on resources with timers: delete the policies while the operators run.
        for namespace in (MANY_NS, SINGLE_NS):
            kubectl(
                sandbox, "delete", "scalingpolicies", "--all", "-n", namespace, "--wait=false", check=False
            )
        kubectl(
            sandbox,
            "wait",
            "--for=delete",
            "scalingpolicies",
            "--all",
            "-n",
            MANY_NS,
            "--timeout=90s",
            check=False,
        )
        for op in (many, single):
            op.stop()
    print(
        f"\n{reconciled} handler runs for {MANY_POLICIES} policies; per logged round: "
        + "; ".join(
            f"{what}: {c.usage_queries:.0f} usage queries in {len(c.rounds)} rounds {c.rounds}, "
            f"{c.pricing_queries:.0f} pricing queries, failed batches {c.failed}"
            for what, c in counted.items()
        )
    )
    for what, c in counted.items():
        # Every round of a namespace is one batch of five queries (CPU, memory, requests, limits, OOM
        # kills; history exists, so no presence check), however many policies read it ...
        measured_rounds = c.rounds[first[what] :]
        assert measured_rounds == [USAGE_QUERIES] * len(measured_rounds), (what, c.rounds)
        # ... and the operator sends no usage query outside a logged batch (counted_between_rounds) ...
        assert c.usage_queries == sum(c.rounds), (what, c)
        # ... and prices the pods at the nodes the pod index shows them on. Only a workload whose pods
        # the index does not show yet looks their nodes up in Prometheus, once per round for all: at
        # most two lookups per logged round (one may straddle a round's boundary), where one per
        # policy would be hundreds.
        assert c.pricing_queries <= PRICING_QUERIES * 2 * len(c.rounds), (what, c)
        # One batch per round, not one per policy: a round is a number, time // round length, and a
        # namespace's batch is read at most once per number. Between the two readings, batches began
        # in rounds numbered from `started`'s to `ended`'s, plus one that may have been in flight at
        # `started`. A bound, not a count: a loaded machine logs fewer rounds, never more.
        round_numbers = round_number(ended) - round_number(started) + 1
        assert 0 < last[what] - first[what] <= round_numbers + 1, (what, c.rounds, round_numbers)
    # The same rounds, whatever the number of policies.
    assert set(counted["500 policies"].rounds[first["500 policies"] :]) == set(
        counted["1 policy"].rounds[first["1 policy"] :]
    )


# ----------------------------------------------------------------------------- kills while resizing

RESIZE_KILLS_AT_RANDOM = 3


def test_kills_at_any_point_of_a_resize_neither_lose_nor_repeat_it(
    sandbox: SandboxEnv, history: History, tmp_path: Path
) -> None:
    """The over-sized `resize` Deployment under an Apply policy, its own operator SIGKILLed at random
    points while it decides, then right after the resize reaches the Deployment. The template changes
    once, status records that one resize, and nothing stays pending."""
    rng = random.Random(20261202)
    generation = int(get(sandbox, "deployment", "resize", "-n", KILL_NS)["metadata"]["generation"])
    log = tmp_path / "operator.log"

    def start() -> OperatorProcess:
        return OperatorProcess(
            sandbox,
            log,
            extra_env={"THRIFTY_EVALUATION_SECONDS": str(EVALUATION_SECONDS)},
            namespaces=[KILL_NS],
        ).start()

    def generation_now() -> int:
        return int(get(sandbox, "deployment", "resize", "-n", KILL_NS)["metadata"]["generation"])

    operator = start()
    try:
        apply(sandbox, POLICY.format(name="resize", namespace=KILL_NS, target="resize", mode="Apply"))
        for _ in range(RESIZE_KILLS_AT_RANDOM):
            time.sleep(rng.uniform(1.0, 2.0 * EVALUATION_SECONDS))
            operator.kill()
            operator = start()
        deadline = time.monotonic() + 6 * EVALUATION_SECONDS + 60
        while generation_now() == generation:
            assert time.monotonic() < deadline, operator.tail()
            time.sleep(0.05)
        operator.kill()  # the resize is in the Deployment; its record may not be in status yet
        operator = start()
        wait_for(
            "the resize recorded, and nothing pending",
            lambda: (
                (policy(sandbox, "resize", KILL_NS).get("status", {}).get("lastAction") or {}).get("action")
                == "Resize"
                and "pendingAction" not in policy(sandbox, "resize", KILL_NS).get("status", {})
            ),
            6 * EVALUATION_SECONDS + 60,
            operator,
            show=lambda: policy(sandbox, "resize", KILL_NS).get("status"),
        )
        rounds = len(usage_rounds_logged(operator, KILL_NS))
        wait_for(
            "three more rounds of the last operator",
            lambda: len(usage_rounds_logged(operator, KILL_NS)) >= rounds + 3,
            6 * EVALUATION_SECONDS + 60,
            operator,
        )
        assert generation_now() == generation + 1  # one template change: the resize, once
        status = policy(sandbox, "resize", KILL_NS).get("status", {})
        wanted = recommended_requests(policy(sandbox, "resize", KILL_NS))
        assert template_requests(get(sandbox, "deployment", "resize", "-n", KILL_NS)) == wanted, status
    finally:
        kubectl(sandbox, "delete", "scalingpolicy", "resize", "-n", KILL_NS, "--timeout=30s", check=False)
        operator.stop()
    assert "Traceback" not in log.read_text(errors="replace")
