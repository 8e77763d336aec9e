"""The Helm chart installed into the sandbox, and the operator run with its ServiceAccount's token and
nothing more: the examples become Ready, Apply mode scales and resizes, a budget reads the one
Secret it is granted and no other, and the operator never meets a 403. `kubectl auth can-i` then
confirms what the ServiceAccount may not do. With watchNamespaces the same holds in those
namespaces only, and the operator-written webhook configuration is allowed exactly.

The sandbox runs no pod for real (KWOK fakes them), so the chart's Deployment only shows that the
objects are accepted; the operator runs here as `thrifty run`, authenticated as the chart's
ServiceAccount. The webhook objects are switched off before any pod is created: nothing in the
sandbox serves the webhook Service, so each admission would wait out the timeout.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from helm_chart import CHART, RELEASE, parse_manifests, run_helm
from sandbox_helpers import (
    REPO,
    OperatorProcess,
    apply,
    condition,
    deployment_manifest,
    eventually,
    get,
    kubectl,
    quick_reads,
    scaling_policy_manifest,
    wait_for,
)

from thrifty.actuators.admission_registration import WEBHOOK_CONFIGURATION, placement_webhook_configuration
from thrifty.api.condition_types import BudgetCondition, BudgetReason
from thrifty.handlers.pod_placement.admission_server import PLACE_POD
from thrifty.sandbox.cluster import SandboxEnv
from thrifty.sandbox.demo_data import load_trace_history

RUN = uuid.uuid4().hex[:6]
RELEASE_NAMESPACE = f"chart-{RUN}"
APPLY_NAMESPACE = f"chart-{RUN}-apply"
SECRETS_NAMESPACE = f"chart-{RUN}-secrets"
UNRELATED_NAMESPACE = f"chart-{RUN}-unrelated"
SERVICE_ACCOUNT = RELEASE  # the fullname of release `thrifty`
AS_OPERATOR = f"--as=system:serviceaccount:{RELEASE_NAMESPACE}:{SERVICE_ACCOUNT}"
WEBHOOK_SECRET = "budget-hook"
HOOKED_BUDGET = f"chart-{RUN}-hooked"
UNLISTED_BUDGET = f"chart-{RUN}-unlisted"
HELM_TIMEOUT = "--timeout=180s"
EVALUATION_SECONDS = 5
# A 403 in any form kopf, the Kubernetes client or the operator logs it, but not the digits of a
# number or of a log line's milliseconds ("17:09:25,403").
PERMISSION_ERROR = re.compile(r"forbidden|(?<![\d.,])403(?![\d.])", re.IGNORECASE)

RESIZED_POLICY = f"""
apiVersion: thrifty.dev/v1alpha1
kind: ScalingPolicy
metadata: {{name: resized, namespace: {APPLY_NAMESPACE}}}
spec:
  targetRef: {{kind: Deployment, name: resized}}
  mode: Apply
  vertical: {{}}
"""


def budget_manifest(name: str, secret_namespace: str, secret: str) -> str:
    return f"""
apiVersion: thrifty.dev/v1alpha1
kind: ResourceBudget
metadata: {{name: {name}}}
spec:
  amount: 100000
  scope: {{namespaces: [{APPLY_NAMESPACE}]}}
  webhook: {{secretRef: {{namespace: {secret_namespace}, name: {secret}}}}}
"""


# ----------------------------------------------------------------------------- helm


@dataclass(frozen=True)
class Release:
    notes: str  # what `helm install` printed
    manifest: tuple[dict[str, Any], ...]  # as installed, with the webhook on
    after_webhook_off: tuple[dict[str, Any], ...]  # once upgraded with webhook.enabled=false


def helm_of(env: SandboxEnv) -> Path:
    """The sandbox's own helm, the one its build made."""
    return next(path / "helm" for path in env.bin_dirs if (path / "helm").is_file())


def helm(env: SandboxEnv, *args: str) -> str:
    result = run_helm(helm_of(env), *args, kubeconfig=env.kubeconfig)
    assert result.returncode == 0, f"helm {' '.join(args)} failed:\n{result.stdout}{result.stderr}"
    return result.stdout


def installed_manifest(env: SandboxEnv) -> tuple[dict[str, Any], ...]:
    return tuple(parse_manifests(helm(env, "get", "manifest", RELEASE, f"--namespace={RELEASE_NAMESPACE}")))


def upgrade(env: SandboxEnv, *values: str) -> None:
    helm(
        env,
        "upgrade",
        RELEASE,
        str(CHART),
        f"--namespace={RELEASE_NAMESPACE}",
        "--reuse-values",
        "--wait",
        HELM_TIMEOUT,
        *values,
    )


def object_ref(obj: dict[str, Any]) -> list[str]:
    """kubectl's name for an object: kind.group/name, and its namespace."""
    group = obj["apiVersion"].rpartition("/")[0]
    kind = f"{obj['kind'].lower()}.{group}" if group else obj["kind"].lower()
    namespace = obj["metadata"].get("namespace")
    return [f"{kind}/{obj['metadata']['name']}", *([f"--namespace={namespace}"] if namespace else [])]


def exists(env: SandboxEnv, obj: dict[str, Any]) -> bool:
    return kubectl(env, "get", *object_ref(obj), check=False).returncode == 0


@pytest.fixture(scope="module")
def release(sandbox: SandboxEnv, demo_history: None) -> Iterator[Release]:
    for namespace in (APPLY_NAMESPACE, SECRETS_NAMESPACE, UNRELATED_NAMESPACE):
        kubectl(sandbox, "create", "namespace", namespace)
    # Other tests' operators write this object themselves; the release would refuse to adopt it.
    kubectl(sandbox, "delete", "mutatingwebhookconfiguration", WEBHOOK_CONFIGURATION, "--ignore-not-found")
    secrets = [{"namespace": SECRETS_NAMESPACE, "name": WEBHOOK_SECRET}]
    try:
        printed = helm(
            sandbox,
            "install",
            RELEASE,
            str(CHART),
            f"--namespace={RELEASE_NAMESPACE}",
            "--create-namespace",
            "--wait",
            HELM_TIMEOUT,
            f"--set=prometheus.url={sandbox.prometheus_url}",
            "--set=leaderElection.enabled=true",
            f"--set-json=budgetWebhookSecrets={json.dumps(secrets)}",
        )
        manifest = installed_manifest(sandbox)
        missing = [object_ref(obj) for obj in manifest if not exists(sandbox, obj)]
        assert not missing, f"objects of the release not in the cluster: {missing}"
        upgrade(sandbox, "--set=webhook.enabled=false")
        yield Release(printed, manifest, installed_manifest(sandbox))
    finally:
        run_helm(
            helm_of(sandbox),
            "uninstall",
            RELEASE,
            f"--namespace={RELEASE_NAMESPACE}",
            "--wait",
            HELM_TIMEOUT,
            kubeconfig=sandbox.kubeconfig,
        )
        for namespace in (RELEASE_NAMESPACE, APPLY_NAMESPACE, SECRETS_NAMESPACE, UNRELATED_NAMESPACE):
            kubectl(sandbox, "delete", "namespace", namespace, "--wait=false", "--ignore-not-found")


def kinds(manifest: tuple[dict[str, Any], ...]) -> set[str]:
    return {obj["kind"] for obj in manifest}


def test_install_creates_every_object(release: Release) -> None:
    expected = {
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "Deployment",
        "Service",
        "Secret",
        "MutatingWebhookConfiguration",
    }
    if list((CHART / "dashboards").glob("*.json")):
        expected.add("ConfigMap")
    assert kinds(release.manifest) == expected
    roles = {
        (o["metadata"]["namespace"], o["metadata"]["name"]) for o in release.manifest if o["kind"] == "Role"
    }
    assert roles == {
        (RELEASE_NAMESPACE, f"{RELEASE}-leader-election"),
        (SECRETS_NAMESPACE, f"{RELEASE}-budget-webhook-secrets"),
    }


def test_the_install_says_what_runs_and_what_it_may_read(release: Release) -> None:
    assert f"Thrifty {yaml.safe_load((CHART / 'Chart.yaml').read_text())['appVersion']}" in release.notes
    assert f"installed in namespace {RELEASE_NAMESPACE}, watching the whole cluster" in release.notes
    assert f"{SECRETS_NAMESPACE}/{WEBHOOK_SECRET}" in release.notes


def test_the_crds_are_established(sandbox: SandboxEnv, release: Release) -> None:
    for path in sorted((CHART / "crds").glob("*.yaml")):
        name = yaml.safe_load(path.read_text(encoding="utf-8"))["metadata"]["name"]
        kubectl(sandbox, "wait", "--for=condition=Established", f"crd/{name}", "--timeout=60s")


def test_the_deployment_is_accepted_and_available(sandbox: SandboxEnv, release: Release) -> None:
    deployment = get(sandbox, "deployment", RELEASE, "-n", RELEASE_NAMESPACE)
    assert deployment["spec"]["strategy"]["type"] == "Recreate"
    assert deployment["status"].get("availableReplicas") == 1


def test_webhook_off_removes_the_webhook_objects(sandbox: SandboxEnv, release: Release) -> None:
    webhook_objects = [
        obj
        for obj in release.manifest
        if obj["kind"] in ("MutatingWebhookConfiguration", "Secret")
        or (obj["kind"] == "Service" and obj["metadata"]["name"].endswith("-webhook"))
    ]
    assert len(webhook_objects) == 3
    assert kinds(release.after_webhook_off) == kinds(release.manifest) - {
        "MutatingWebhookConfiguration",
        "Secret",
    }
    for obj in webhook_objects:
        assert not exists(sandbox, obj), object_ref(obj)
    args = get(sandbox, "deployment", RELEASE, "-n", RELEASE_NAMESPACE)["spec"]["template"]["spec"][
        "containers"
    ][0]["args"]
    assert "--webhook-port=0" in args


# ------------------------------------------------------------------------- the operator as the ServiceAccount


def service_account_kubeconfig(env: SandboxEnv, path: Path) -> Path:
    """A kubeconfig with the sandbox's server and CA and the ServiceAccount's token, nothing else; its
    namespace is the release's, as in the pod (kopf posts Events about cluster-scoped objects there)."""
    cluster = yaml.safe_load(env.kubeconfig.read_text(encoding="utf-8"))["clusters"][0]["cluster"]
    token = kubectl(
        env, "create", "token", SERVICE_ACCOUNT, f"--namespace={RELEASE_NAMESPACE}", "--duration=2h"
    ).stdout.strip()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "sandbox", "cluster": cluster}],
        "users": [{"name": SERVICE_ACCOUNT, "user": {"token": token}}],
        "contexts": [
            {
                "name": "operator",
                "context": {"cluster": "sandbox", "user": SERVICE_ACCOUNT, "namespace": RELEASE_NAMESPACE},
            }
        ],
        "current-context": "operator",
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    path.chmod(0o600)
    return path


class Operators:
    """The operator process of the module, replaced when the release changes what it may do; what
    the module created is deleted while one runs, so that it can remove its finalizers."""

    def __init__(self, env: SandboxEnv, kubeconfig: Path, logs: Path) -> None:
        self.env, self.kubeconfig, self.logs = env, kubeconfig, logs
        self.current: OperatorProcess | None = None
        self.started: list[OperatorProcess] = []

    def start(self, name: str, namespaces: tuple[str, ...] = ()) -> OperatorProcess:
        self.stop()
        process = OperatorProcess(
            self.env,
            self.logs / f"{name}.log",
            extra_env={
                "KUBECONFIG": str(self.kubeconfig),
                "POD_NAMESPACE": RELEASE_NAMESPACE,
                **quick_reads(EVALUATION_SECONDS),
            },
            namespaces=namespaces,
            # As the chart runs it, but for the webhook: its configuration is the installer's.
            extra_args=[
                "--webhook-configuration=none",
                "--leader-elect",
                f"--leader-election-namespace={RELEASE_NAMESPACE}",
            ],
        ).start()
        self.current = process
        self.started.append(process)
        return process

    def stop(self) -> OperatorProcess | None:
        """Stop the running process, if any; returns it."""
        stopped = self.current
        if stopped is not None:
            stopped.stop()
            self.current = None
        return stopped


@pytest.fixture(scope="module")
def history(sandbox: SandboxEnv, release: Release) -> None:
    """The Deployment to resize, with a day of real-trace usage; the one to scale, with a live load."""
    apply(sandbox, deployment_manifest("resized", APPLY_NAMESPACE, 2))
    kubectl(sandbox, "rollout", "status", "deployment/resized", "-n", APPLY_NAMESPACE, "--timeout=120s")
    load_trace_history(
        sandbox.state_dir, APPLY_NAMESPACE, "alibaba2018", history_days=1, progress=lambda _: None
    )
    # After the backfill, so that its usage is the live load alone: 1.6 cores over 2 pods of 500m.
    apply(sandbox, deployment_manifest("scaled", APPLY_NAMESPACE, 2, {"sandbox.thrifty.dev/cpu": "1.6"}))


@pytest.fixture(scope="module")
def operators(
    sandbox: SandboxEnv, release: Release, history: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Operators]:
    scratch = tmp_path_factory.mktemp("chart-operator")
    running = Operators(sandbox, service_account_kubeconfig(sandbox, scratch / "kubeconfig"), scratch)
    running.start("cluster-wide")
    try:
        yield running
    finally:
        kubectl(
            sandbox, "delete", "scalingpolicies", "--all", "-n", APPLY_NAMESPACE, "--timeout=60s", check=False
        )
        kubectl(
            sandbox,
            "delete",
            "resourcebudget",
            HOOKED_BUDGET,
            UNLISTED_BUDGET,
            "--ignore-not-found",
            "--timeout=60s",
            check=False,
        )
        running.stop()


@pytest.fixture
def operator(operators: Operators) -> OperatorProcess:
    assert operators.current is not None
    return operators.current


def is_ready_and_current(obj: dict[str, Any]) -> bool:
    generation = obj["metadata"]["generation"]
    ready = condition(obj, "Ready")
    return ready.get("status") == "True" and obj.get("status", {}).get("observedGeneration") == generation


def test_the_operator_holds_the_lease_in_the_release_namespace(
    sandbox: SandboxEnv, operator: OperatorProcess
) -> None:
    wait_for(
        "this process holding the Lease",
        lambda: f"holding Lease {RELEASE_NAMESPACE}/thrifty" in operator.log.read_text(errors="replace"),
        60,
        operator,
    )
    lease = get(sandbox, "lease", "thrifty", "-n", RELEASE_NAMESPACE)
    assert lease["spec"]["holderIdentity"]


def test_every_example_becomes_ready(sandbox: SandboxEnv, operator: OperatorProcess) -> None:
    kubectl(sandbox, "apply", "-f", str(REPO / "examples"))
    examples = [
        obj
        for path in sorted((REPO / "examples").glob("*.yaml"))
        for obj in yaml.safe_load_all(path.read_text(encoding="utf-8"))
        if obj and obj["apiVersion"].startswith("thrifty.dev/")
    ]
    assert {obj["kind"] for obj in examples} == {"ScalingPolicy", "ResourceBudget", "CostPolicy"}
    for obj in examples:
        meta = obj["metadata"]
        where = ["-n", meta["namespace"]] if meta.get("namespace") else []
        wait_for(
            f"{obj['kind']} {meta['name']} Ready",
            lambda k=obj["kind"], n=meta["name"], w=where: is_ready_and_current(
                get(sandbox, k.lower(), n, *w)
            ),  # type: ignore[misc]
            120,
            operator,
            show=lambda k=obj["kind"], n=meta["name"], w=where: get(sandbox, k.lower(), n, *w).get("status"),  # type: ignore[misc]
        )


def test_apply_mode_scales_a_deployment(sandbox: SandboxEnv, operator: OperatorProcess) -> None:
    apply(sandbox, scaling_policy_manifest("scaled", APPLY_NAMESPACE))

    def status() -> dict[str, Any]:
        return dict(get(sandbox, "scalingpolicy", "scaled", "-n", APPLY_NAMESPACE).get("status") or {})

    # 1.6 cores over 2 pods of 500m is 160% against a 50% target: 7 replicas.
    wait_for(
        "scaled up from 2 replicas",
        lambda: get(sandbox, "deployment", "scaled", "-n", APPLY_NAMESPACE)["spec"]["replicas"] > 2,
        180,
        operator,
        show=status,
    )
    assert status()["lastAction"]["action"] == "ScaleUp"
    managers = get(sandbox, "deployment", "scaled", "-n", APPLY_NAMESPACE, "--show-managed-fields")[
        "metadata"
    ]["managedFields"]
    assert any(m["manager"] == "thrifty" and m.get("subresource") == "scale" for m in managers)


def test_apply_mode_resizes_a_deployment(sandbox: SandboxEnv, operator: OperatorProcess) -> None:
    apply(sandbox, RESIZED_POLICY)

    def resized() -> bool:
        policy = get(sandbox, "scalingpolicy", "resized", "-n", APPLY_NAMESPACE)
        containers = (policy.get("status", {}).get("recommendation") or {}).get("containers") or []
        wanted = (containers[0].get("recommended") or {}).get("requests") if containers else None
        template = get(sandbox, "deployment", "resized", "-n", APPLY_NAMESPACE)["spec"]["template"]
        requests = template["spec"]["containers"][0]["resources"]["requests"]
        last = policy.get("status", {}).get("lastAction") or {}
        return last.get("action") == "Resize" and wanted is not None and requests == wanted

    wait_for(
        "the Deployment resized to the recommendation",
        resized,
        180,
        operator,
        show=lambda: get(sandbox, "scalingpolicy", "resized", "-n", APPLY_NAMESPACE).get("status"),
    )


def webhook_condition(env: SandboxEnv, budget: str) -> dict[str, Any]:
    return condition(get(env, "resourcebudget", budget), BudgetCondition.WEBHOOK_READY)


def test_a_budget_reads_the_webhook_secret_it_is_granted_and_no_other(
    sandbox: SandboxEnv, operator: OperatorProcess
) -> None:
    for namespace, secret in ((SECRETS_NAMESPACE, WEBHOOK_SECRET), (UNRELATED_NAMESPACE, "unlisted")):
        kubectl(
            sandbox,
            "create",
            "secret",
            "generic",
            secret,
            "-n",
            namespace,
            "--from-literal=url=http://127.0.0.1:9/hook",
        )
    apply(sandbox, budget_manifest(HOOKED_BUDGET, SECRETS_NAMESPACE, WEBHOOK_SECRET))
    apply(sandbox, budget_manifest(UNLISTED_BUDGET, UNRELATED_NAMESPACE, "unlisted"))
    wait_for(
        "WebhookReady=True for the granted Secret",
        lambda: webhook_condition(sandbox, HOOKED_BUDGET).get("status") == "True",
        60,
        operator,
        show=lambda: webhook_condition(sandbox, HOOKED_BUDGET),
    )
    assert webhook_condition(sandbox, HOOKED_BUDGET)["reason"] == BudgetReason.WEBHOOK_SECRET_FOUND
    wait_for(
        "WebhookReady=False, reason SecretUnreadable, for a Secret not listed in the values",
        lambda: webhook_condition(sandbox, UNLISTED_BUDGET).get("reason") == BudgetReason.SECRET_UNREADABLE,
        60,
        operator,
        show=lambda: webhook_condition(sandbox, UNLISTED_BUDGET),
    )


def permission_errors(operator: OperatorProcess) -> list[str]:
    return [
        line
        for line in operator.log.read_text(errors="replace").splitlines()
        if PERMISSION_ERROR.search(line)
    ]


def test_the_operator_met_no_permission_error(operator: OperatorProcess) -> None:
    assert "evaluation round" in operator.log.read_text(errors="replace")
    denied = permission_errors(operator)
    assert not denied, "\n".join(denied[:20])


# ------------------------------------------------------------------------- what the ServiceAccount may not do


def can_i(env: SandboxEnv, *args: str) -> str:
    return kubectl(env, "auth", "can-i", AS_OPERATOR, *args, check=False).stdout.strip()


@pytest.mark.parametrize(
    "question",
    [
        ["get", "secrets", "-n", UNRELATED_NAMESPACE],
        ["get", f"secrets/{WEBHOOK_SECRET}", "-n", UNRELATED_NAMESPACE],
        ["get", "secrets/other", "-n", SECRETS_NAMESPACE],
        ["list", "secrets", "-n", SECRETS_NAMESPACE],
        ["list", "secrets", "--all-namespaces"],
        ["delete", "deployments", "-n", APPLY_NAMESPACE],
        ["delete", "deployments", "--all-namespaces"],
        ["create", "deployments", "-n", APPLY_NAMESPACE],
        ["*", "*", "--all-namespaces"],
        ["update", "leases/other", "-n", RELEASE_NAMESPACE],
        ["get", "leases/thrifty", "-n", APPLY_NAMESPACE],
        ["patch", f"mutatingwebhookconfigurations/{WEBHOOK_CONFIGURATION}"],
        ["get", "configmaps", "-n", RELEASE_NAMESPACE],
        ["delete", "scalingpolicies", "-n", APPLY_NAMESPACE],
        ["update", "deployments", "--subresource=scale", "-n", APPLY_NAMESPACE],
        ["create", "pods", "--subresource=exec", "-n", APPLY_NAMESPACE],
    ],
    ids=" ".join,
)
def test_the_service_account_may_not(sandbox: SandboxEnv, release: Release, question: list[str]) -> None:
    assert can_i(sandbox, *question) == "no"


@pytest.mark.parametrize(
    "question",
    [
        ["get", f"secrets/{WEBHOOK_SECRET}", "-n", SECRETS_NAMESPACE],
        ["patch", "deployments", "--subresource=scale", "-n", APPLY_NAMESPACE],
        ["create", "pods", "--subresource=eviction", "-n", APPLY_NAMESPACE],
        ["update", "leases/thrifty", "-n", RELEASE_NAMESPACE],
        ["patch", "scalingpolicies", "--subresource=status", "-n", APPLY_NAMESPACE],
        ["watch", "nodes"],
    ],
    ids=" ".join,
)
def test_the_service_account_may(sandbox: SandboxEnv, release: Release, question: list[str]) -> None:
    assert can_i(sandbox, *question) == "yes"


# ----------------------------------------------------------------------------- only the watched namespaces


def test_with_watched_namespaces_it_works_there_and_may_nothing_elsewhere(
    sandbox: SandboxEnv, operators: Operators
) -> None:
    # The cluster-wide process goes first: the upgrade takes its cluster-wide grants away.
    cluster_wide = operators.stop()
    assert cluster_wide is not None
    denied = permission_errors(cluster_wide)
    assert not denied, "the cluster-wide operator, to its end:\n" + "\n".join(denied[:20])
    upgrade(sandbox, f"--set=watchNamespaces={{{APPLY_NAMESPACE}}}")
    assert can_i(sandbox, "list", "pods", "-n", APPLY_NAMESPACE) == "yes"
    for question in (
        ["list", "pods", "-n", UNRELATED_NAMESPACE],
        ["list", "pods", "--all-namespaces"],
        ["create", "events", "-n", UNRELATED_NAMESPACE],
    ):
        assert can_i(sandbox, *question) == "no", question
    assert can_i(sandbox, "create", "events", "-n", "default") == "yes"
    operator = operators.start("watching-one-namespace", namespaces=(APPLY_NAMESPACE,))
    kubectl(
        sandbox,
        "patch",
        "scalingpolicy",
        "scaled",
        "-n",
        APPLY_NAMESPACE,
        "--type=merge",
        "-p",
        '{"spec": {"horizontal": {"maxReplicas": 9}}}',
    )
    wait_for(
        "the edited policy Ready with its new generation",
        lambda: is_ready_and_current(get(sandbox, "scalingpolicy", "scaled", "-n", APPLY_NAMESPACE)),
        120,
        operator,
    )
    eventually(
        "an evaluation round and a budget round",
        lambda: (
            "evaluation round" in operator.log.read_text(errors="replace")
            and f"budget {HOOKED_BUDGET}:" in operator.log.read_text(errors="replace")
        ),
        120,
    )
    denied = permission_errors(operator)
    assert not denied, "\n".join(denied[:20])


# ------------------------------------------------------------------------- the operator-written configuration


def test_the_operator_written_webhook_configuration_is_allowed_exactly(
    sandbox: SandboxEnv, release: Release
) -> None:
    upgrade(sandbox, "--set=webhook.enabled=true", "--set=webhook.configuration=operator")
    assert not exists(
        sandbox,
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": WEBHOOK_CONFIGURATION},
        },
    )
    configuration = placement_webhook_configuration(
        f"https://{RELEASE}-webhook.{RELEASE_NAMESPACE}.svc:9443",
        b"-----BEGIN CERTIFICATE-----\n",
        ["kube-system", RELEASE_NAMESPACE],
        f"/{PLACE_POD}",
    )

    def server_side_apply(body: dict[str, Any]) -> Any:
        # A dry run is authorized and admitted as the real apply would be, and writes nothing.
        return kubectl(
            sandbox,
            "apply",
            "--server-side",
            "--dry-run=server",
            "--field-manager=thrifty",
            "--force-conflicts",
            AS_OPERATOR,
            "-f",
            "-",
            input=json.dumps(body),
            check=False,
        )

    allowed = server_side_apply(configuration)
    assert allowed.returncode == 0, allowed.stderr
    other = {**configuration, "metadata": {**configuration["metadata"], "name": "another-webhook"}}
    refused = server_side_apply(other)
    assert refused.returncode != 0
    assert "forbidden" in refused.stderr.lower()
