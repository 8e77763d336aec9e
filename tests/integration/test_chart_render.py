"""The Helm chart, rendered and linted without a cluster: `helm lint` is clean, the defaults and every
option render, bad values are refused naming the value, the RBAC is the operator's exact needs with
no wildcard and no cluster-wide Secret access, the chart's CRDs are the top-level ones, and its pod
placement webhook is the one the operator writes itself.

Only helm is needed (from the sandbox's build cache); no sandbox is started.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml
from cryptography import x509
from helm_chart import (
    CHART,
    KUBE_VERSION,
    RELEASE_NAMESPACE,
    REPO,
    Rendered,
    helm_binary,
    run_helm,
    set_flags,
    template,
    template_error,
)

from thrifty import __version__
from thrifty.actuators.admission_registration import WEBHOOK_CONFIGURATION, placement_webhook_configuration
from thrifty.cli import _build_parser
from thrifty.handlers.pod_placement.admission_server import PLACE_POD
from thrifty.settings import CostMetricNames, MetricNames

MONITORING_APIS = ("monitoring.coreos.com/v1/ServiceMonitor", "monitoring.coreos.com/v1/PrometheusRule")
CERT_MANAGER_APIS = ("cert-manager.io/v1/Certificate", "cert-manager.io/v1/Issuer")
OPERATOR_SOURCES = "\n".join(
    path.read_text(encoding="utf-8") for path in sorted((REPO / "operator" / "thrifty").rglob("*.py"))
)
CHART_METADATA = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))
METRIC_FIELDS = [
    item.name for item in (*dataclasses.fields(MetricNames), *dataclasses.fields(CostMetricNames))
]

# Every option on: what the render, lint, RBAC and environment checks below go over.
EVERYTHING_ON: dict[str, Any] = {
    "image": {"repository": "registry.example/thrifty", "tag": "1.2.3", "pullSecrets": ["registry"]},
    "replicaCount": 2,
    "logLevel": "debug",
    "watchNamespaces": ["team-a", "team-b"],
    "prometheus": {
        "url": "https://prometheus.monitoring.svc:9091",
        "bearerTokenSecret": {"name": "prometheus-reader", "key": "token"},
        "caConfigMap": {"name": "prometheus-ca", "key": "ca.crt"},
        "timeout": "45s",
        "scrapeInterval": "30s",
        "lookback": "7d",
        "retries": 3,
    },
    "metricNames": {"cpu_usage": "node_namespace_pod_container:container_cpu_usage_seconds_total"},
    "intervals": {
        "resyncSeconds": 20,
        "evaluationSeconds": 90,
        "horizontalSyncSeconds": 10,
        "statusRefreshSeconds": 3600,
    },
    "roundWorkers": 8,
    "leaderElection": {"enabled": True},
    "webhook": {"certificate": {"source": "certManager"}},
    "monitoring": {
        "serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
        "prometheusRule": {"enabled": True, "alertLabels": {"team": "platform"}},
    },
    "dashboards": {"namespace": "grafana"},
    "budgetWebhookSecrets": [
        {"namespace": "team-a", "name": "slack"},
        {"namespace": "team-a", "name": "pagerduty"},
        {"namespace": "finance", "name": "slack"},
    ],
    "nodePools": {"karpenter": {"enabled": True}, "clusterAPI": {"enabled": True}},
    "podAnnotations": {"example.com/owner": "platform"},
    "podLabels": {"team": "platform"},
    "priorityClassName": "system-cluster-critical",
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "platform", "effect": "NoSchedule"}],
    "affinity": {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["on-demand"]}
                        ]
                    }
                ]
            }
        }
    },
    "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "2Gi"}},
    "extraEnv": [{"name": "THRIFTY_METRIC_RESTARTS", "value": "kube_pod_container_status_restarts_total"}],
}

# What the operator calls, rule by rule (README.md says why): (apiGroup, resource) -> verbs.
CLUSTER_RULES = {
    ("", "nodes"): {"list", "watch"},
    ("", "namespaces"): {"list", "watch"},
    ("scheduling.k8s.io", "priorityclasses"): {"list", "watch"},
    ("apiextensions.k8s.io", "customresourcedefinitions"): {"list", "watch"},
    ("thrifty.dev", "resourcebudgets"): {"list", "watch", "patch"},
    ("thrifty.dev", "costpolicies"): {"list", "watch", "patch"},
    ("thrifty.dev", "resourcebudgets/status"): {"patch"},
    ("thrifty.dev", "costpolicies/status"): {"patch"},
}
NAMESPACED_RULES = {
    ("", "pods"): {"get", "list", "watch", "delete"},
    ("", "pods/eviction"): {"create"},
    ("", "events"): {"create", "patch"},
    ("apps", "deployments"): {"list", "watch", "patch"},
    ("apps", "statefulsets"): {"list", "watch", "patch"},
    ("apps", "deployments/scale"): {"patch"},
    ("apps", "statefulsets/scale"): {"patch"},
    ("apps", "replicasets"): {"list", "watch"},
    ("policy", "poddisruptionbudgets"): {"list", "watch"},
    ("autoscaling", "horizontalpodautoscalers"): {"list", "watch"},
    ("autoscaling.k8s.io", "verticalpodautoscalers"): {"list", "watch"},
    ("thrifty.dev", "scalingpolicies"): {"list", "watch", "patch"},
    ("thrifty.dev", "scalingpolicies/status"): {"patch"},
}
# What node_pool_objects reads (one GET a pool) and node_pool_writes writes.
NODE_POOL_RULES = {
    ("karpenter.sh", "nodepools"): {"get", "patch"},
    ("cluster.x-k8s.io", "machinedeployments"): {"get"},
    ("cluster.x-k8s.io", "machinedeployments/scale"): {"patch"},
}
OPERATOR_WEBHOOK_RULE = {
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"): {"create", "patch"}
}


@pytest.fixture(scope="module")
def helm() -> Path:
    return helm_binary()


@pytest.fixture(scope="module")
def everything_on_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("values") / "everything-on.yaml"
    path.write_text(yaml.safe_dump(EVERYTHING_ON), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def defaults(helm: Path) -> Rendered:
    return template(helm)


@pytest.fixture(scope="module")
def everything(helm: Path, everything_on_file: Path) -> Rendered:
    return template(helm, "-f", str(everything_on_file))


def dashboard_files() -> list[Path]:
    return sorted((CHART / "dashboards").glob("*.json"))


# ----------------------------------------------------------------------------- lint


def test_the_charts_app_version_is_the_operators() -> None:
    assert CHART_METADATA["appVersion"] == __version__


def lint_findings(output: str) -> list[str]:
    """helm lint's [INFO]/[WARNING]/[ERROR] lines, but for the one about a missing icon."""
    return [
        line
        for line in output.splitlines()
        if line.startswith("[") and line.strip() != "[INFO] Chart.yaml: icon is recommended"
    ]


@pytest.mark.parametrize("options", ["defaults", "everything-on"])
def test_helm_lint_is_clean(helm: Path, everything_on_file: Path, options: str) -> None:
    values = ["-f", str(everything_on_file)] if options == "everything-on" else []
    result = run_helm(helm, "lint", str(CHART), KUBE_VERSION, *values)
    assert result.returncode == 0, result.stdout + result.stderr
    assert lint_findings(result.stdout + result.stderr) == []


# ----------------------------------------------------------------------------- the defaults


def test_defaults_render_the_operator_and_its_webhook(defaults: Rendered) -> None:
    expected = {
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
        "Service",
        "Secret",
        "MutatingWebhookConfiguration",
    }
    if dashboard_files():
        expected.add("ConfigMap")
    assert defaults.kinds == expected
    assert {s["metadata"]["name"] for s in defaults.of_kind("Service")} == {
        "thrifty-metrics",
        "thrifty-webhook",
    }
    for obj in defaults.objects:
        if obj["kind"] not in ("ClusterRole", "ClusterRoleBinding", "MutatingWebhookConfiguration"):
            assert obj["metadata"]["namespace"] == RELEASE_NAMESPACE, obj["metadata"]


def test_the_deployment_is_one_hardened_replica_replaced_not_rolled(defaults: Rendered) -> None:
    deployment = defaults.one("Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}
    pod = spec["template"]["spec"]
    assert pod["serviceAccountName"] == defaults.one("ServiceAccount")["metadata"]["name"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert isinstance(pod["securityContext"]["runAsUser"], int)
    assert pod["securityContext"]["runAsUser"] > 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    container = defaults.container()
    security = container["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["image"] == f"thrifty:{CHART_METADATA['appVersion']}"
    assert container["resources"]["requests"]
    assert container["resources"]["limits"]
    tmp = next(m for m in container["volumeMounts"] if m["mountPath"] == "/tmp")
    volume = next(v for v in pod["volumes"] if v["name"] == tmp["name"])
    assert "emptyDir" in volume
    env = defaults.env()
    assert env["POD_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}


def test_the_liveness_probe_asks_the_operators_liveness_endpoint(defaults: Rendered) -> None:
    container = defaults.container()
    probe = container["livenessProbe"]["httpGet"]
    port = next(p for p in container["ports"] if p["name"] == probe["port"])["containerPort"]
    assert f"--liveness=http://0.0.0.0:{port}{probe['path']}" in defaults.args()
    assert probe["path"] == "/healthz"


def test_default_args_serve_the_webhook_and_leave_its_configuration_to_the_chart(defaults: Rendered) -> None:
    args = defaults.args()
    container = defaults.container()
    webhook_port = next(p for p in container["ports"] if p["name"] == "webhook")["containerPort"]
    metrics_port = next(p for p in container["ports"] if p["name"] == "metrics")["containerPort"]
    assert f"--webhook-port={webhook_port}" in args
    assert "--webhook-address=0.0.0.0" in args
    assert f"--webhook-host=thrifty-webhook.{RELEASE_NAMESPACE}.svc" in args
    assert "--webhook-configuration=none" in args
    assert f"--metrics-port={metrics_port}" in args
    assert not any(arg.startswith(("--namespace", "--leader-elect", "--verbose")) for arg in args)
    cert_dir = next(arg.split("=", 1)[1] for arg in args if arg.startswith("--webhook-cert-dir="))
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == cert_dir)
    volume = next(
        v
        for v in defaults.one("Deployment")["spec"]["template"]["spec"]["volumes"]
        if v["name"] == mount["name"]
    )
    assert volume["secret"]["secretName"] == defaults.one("Secret")["metadata"]["name"]
    metrics = defaults.one("Service", "thrifty-metrics")["spec"]["ports"][0]
    assert (metrics["port"], metrics["targetPort"]) == (metrics_port, "metrics")
    webhook = defaults.one("Service", "thrifty-webhook")["spec"]["ports"][0]
    assert (webhook["port"], webhook["targetPort"]) == (443, "webhook")


@pytest.mark.parametrize("options", ["defaults", "everything-on"])
def test_the_args_are_flags_thrifty_run_accepts(
    defaults: Rendered, everything: Rendered, options: str
) -> None:
    rendered = defaults if options == "defaults" else everything
    _build_parser().parse_args(["run", *rendered.args()])  # exits on an unknown flag or a bad value


def test_without_monitoring_or_cert_manager_apis_none_of_their_objects_render(defaults: Rendered) -> None:
    assert not defaults.kinds & {"ServiceMonitor", "PrometheusRule", "Issuer", "Certificate"}


def test_monitoring_and_cert_manager_objects_follow_the_clusters_apis(helm: Path) -> None:
    rendered = template(helm, api_versions=(*MONITORING_APIS, *CERT_MANAGER_APIS))
    assert {"ServiceMonitor", "PrometheusRule", "Issuer", "Certificate"} <= rendered.kinds
    assert "Secret" not in rendered.kinds  # cert-manager writes it
    forced_off = template(
        helm,
        *set_flags(
            {
                "monitoring.serviceMonitor.enabled": "false",
                "monitoring.prometheusRule.enabled": "false",
                "webhook.certificate.source": "chart",
            }
        ),
        api_versions=(*MONITORING_APIS, *CERT_MANAGER_APIS),
    )
    assert not forced_off.kinds & {"ServiceMonitor", "PrometheusRule", "Issuer", "Certificate"}
    assert "Secret" in forced_off.kinds


# ----------------------------------------------------------------------------- every option on


def test_everything_on_renders_every_optional_object(everything: Rendered) -> None:
    assert {
        "ServiceMonitor",
        "PrometheusRule",
        "Issuer",
        "Certificate",
        "Role",
        "RoleBinding",
        "MutatingWebhookConfiguration",
    } <= everything.kinds
    assert "Secret" not in everything.kinds
    webhook = everything.one("MutatingWebhookConfiguration")
    assert webhook["metadata"]["annotations"]["cert-manager.io/inject-ca-from"] == (
        f"{RELEASE_NAMESPACE}/{everything.one('Certificate')['metadata']['name']}"
    )
    assert "caBundle" not in webhook["webhooks"][0]["clientConfig"]
    certificate = everything.one("Certificate")["spec"]
    assert (
        certificate["secretName"]
        == everything.one("Deployment")["spec"]["template"]["spec"]["volumes"][1]["secret"]["secretName"]
    )
    assert f"thrifty-webhook.{RELEASE_NAMESPACE}.svc" in certificate["dnsNames"]
    assert certificate["issuerRef"]["name"] == everything.one("Issuer")["metadata"]["name"]


def test_everything_on_passes_every_setting_to_the_operator(everything: Rendered) -> None:
    args = everything.args()
    assert [arg for arg in args if arg.startswith("--namespace=")] == [
        "--namespace=team-a",
        "--namespace=team-b",
    ]
    assert "--leader-elect" in args
    assert f"--leader-election-namespace={RELEASE_NAMESPACE}" in args
    assert "--verbose" in args
    assert "--prometheus-url=https://prometheus.monitoring.svc:9091" in args
    env = {name: item.get("value") for name, item in everything.env().items()}
    assert env["THRIFTY_PROMETHEUS_TOKEN_FILE"] == "/etc/thrifty/prometheus-token/token"
    assert env["THRIFTY_PROMETHEUS_CA_FILE"] == "/etc/thrifty/prometheus-ca/ca.crt"
    assert env["THRIFTY_PROMETHEUS_TIMEOUT"] == "45s"
    assert env["THRIFTY_PROMETHEUS_SCRAPE_INTERVAL"] == "30s"
    assert env["THRIFTY_PROMETHEUS_LOOKBACK"] == "7d"
    assert env["THRIFTY_PROMETHEUS_RETRIES"] == "3"
    assert env["THRIFTY_RESYNC_SECONDS"] == "20"
    assert env["THRIFTY_EVALUATION_SECONDS"] == "90"
    assert env["THRIFTY_HORIZONTAL_SYNC_SECONDS"] == "10"
    assert env["THRIFTY_STATUS_REFRESH_SECONDS"] == "3600"
    assert env["THRIFTY_ROUND_WORKERS"] == "8"
    assert env["THRIFTY_METRIC_CPU_USAGE"] == EVERYTHING_ON["metricNames"]["cpu_usage"]
    pod = everything.one("Deployment")["spec"]["template"]["spec"]
    assert pod["imagePullSecrets"] == [{"name": "registry"}]
    assert pod["priorityClassName"] == "system-cluster-critical"
    assert pod["nodeSelector"] == EVERYTHING_ON["nodeSelector"]
    assert pod["tolerations"] == EVERYTHING_ON["tolerations"]
    assert pod["affinity"] == EVERYTHING_ON["affinity"]
    assert everything.container()["image"] == "registry.example/thrifty:1.2.3"
    assert everything.container()["resources"] == EVERYTHING_ON["resources"]
    assert everything.one("Deployment")["spec"]["replicas"] == 2
    template_meta = everything.one("Deployment")["spec"]["template"]["metadata"]
    assert template_meta["annotations"]["example.com/owner"] == "platform"
    assert template_meta["labels"]["team"] == "platform"


def test_every_variable_the_chart_sets_is_one_the_operator_reads(everything: Rendered) -> None:
    for name in everything.env():
        if name.startswith("THRIFTY_METRIC_"):
            assert name.removeprefix("THRIFTY_METRIC_").lower() in METRIC_FIELDS, name
        else:
            assert f'"{name}"' in OPERATOR_SOURCES, f"the operator never reads {name}"


def test_the_schema_lists_exactly_the_metric_names_the_operator_reads() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    assert sorted(schema["properties"]["metricNames"]["properties"]) == sorted(METRIC_FIELDS)


def test_the_servicemonitor_scrapes_the_metrics_service(everything: Rendered) -> None:
    monitor = everything.one("ServiceMonitor")
    service = everything.one("Service", "thrifty-metrics")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [RELEASE_NAMESPACE]}
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def alert_rules(rendered: Rendered) -> dict[str, dict[str, Any]]:
    groups = rendered.one("PrometheusRule")["spec"]["groups"]
    return {rule["alert"]: rule for group in groups for rule in group["rules"]}


def test_the_alerts_parse_and_read_series_the_operator_exports(everything: Rendered) -> None:
    rules = alert_rules(everything)
    assert set(rules) == {
        "ThriftyBudgetThresholdReached",
        "ThriftyBudgetExceeded",
        "ThriftyBudgetForecastOverrun",
        "ThriftyBudgetDataStale",
        "ThriftyPolicyDataStale",
        "ThriftyOperatorDown",
    }
    for name, rule in rules.items():
        promql_parser.parse(rule["expr"])
        for metric in re.findall(r"\bthrifty_[a-z_]+", rule["expr"]):
            assert f'"{metric}"' in OPERATOR_SOURCES, f"{name}: the operator exports no {metric}"
        assert 'job="thrifty-metrics"' in rule["expr"], name
        assert rule["labels"]["team"] == "platform"
        assert rule["labels"]["severity"] in ("warning", "critical")
    down = rules["ThriftyOperatorDown"]["expr"]
    assert "absent(up{" in down
    assert f'namespace="{RELEASE_NAMESPACE}"' in down
    assert "thrifty_budget_forecast" in rules["ThriftyBudgetForecastOverrun"]["expr"]
    assert "thrifty_budget_amount" in rules["ThriftyBudgetForecastOverrun"]["expr"]


def test_the_alerts_select_another_job_when_told(helm: Path) -> None:
    rendered = template(
        helm,
        *set_flags({"monitoring.prometheusRule.enabled": "true", "monitoring.prometheusRule.job": "ops"}),
    )
    assert all('job="ops"' in rule["expr"] for rule in alert_rules(rendered).values())


def test_webhook_off_serves_none_and_renders_no_webhook_objects(helm: Path) -> None:
    rendered = template(helm, *set_flags({"webhook.enabled": "false"}))
    assert "--webhook-port=0" in rendered.args()
    assert not any(arg.startswith(("--webhook-address", "--webhook-cert-dir")) for arg in rendered.args())
    assert not rendered.kinds & {"MutatingWebhookConfiguration", "Secret", "Issuer", "Certificate"}
    assert [s["metadata"]["name"] for s in rendered.of_kind("Service")] == ["thrifty-metrics"]


def test_operator_written_webhook_configuration_adds_exactly_its_rule(helm: Path) -> None:
    rendered = template(helm, *set_flags({"webhook.configuration": "operator"}))
    assert "MutatingWebhookConfiguration" not in rendered.kinds
    assert "--webhook-configuration=write" in rendered.args()
    service_port = rendered.one("Service", "thrifty-webhook")["spec"]["ports"][0]["port"]
    assert f"--webhook-port={service_port}" in rendered.args()  # the URL it writes names that port
    rules = [r for r in cluster_role_rules(rendered) if r["resource"] == "mutatingwebhookconfigurations"]
    assert rules == [
        {
            "group": "admissionregistration.k8s.io",
            "resource": "mutatingwebhookconfigurations",
            "verbs": {"create", "patch"},
            "names": (WEBHOOK_CONFIGURATION,),
        }
    ]


def test_metrics_off_passes_port_zero_and_renders_no_metrics_service(helm: Path) -> None:
    rendered = template(
        helm, *set_flags({"metrics.enabled": "false", "monitoring.serviceMonitor.enabled": "true"})
    )
    assert "--metrics-port=0" in rendered.args()
    assert "ServiceMonitor" not in rendered.kinds
    assert [s["metadata"]["name"] for s in rendered.of_kind("Service")] == ["thrifty-webhook"]


# ----------------------------------------------------------------------------- dashboards


@pytest.fixture
def chart_with_a_dashboard(tmp_path: Path) -> Path:
    chart = tmp_path / "thrifty"
    shutil.copytree(CHART, chart)
    (chart / "dashboards").mkdir(exist_ok=True)
    (chart / "dashboards" / "example.json").write_text('{"title": "Example"}\n', encoding="utf-8")
    return chart


def test_dashboards_become_one_configmap_for_grafanas_sidecar(
    helm: Path, chart_with_a_dashboard: Path
) -> None:
    rendered = template(helm, chart=chart_with_a_dashboard)
    configmap = rendered.one("ConfigMap")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    files = sorted((chart_with_a_dashboard / "dashboards").glob("*.json"))
    assert sorted(configmap["data"]) == [path.name for path in files]
    for path in files:
        assert configmap["data"][path.name] == path.read_text(encoding="utf-8").rstrip("\n")
        json.loads(configmap["data"][path.name])
    elsewhere = template(helm, *set_flags({"dashboards.namespace": "grafana"}), chart=chart_with_a_dashboard)
    assert elsewhere.one("ConfigMap")["metadata"]["namespace"] == "grafana"
    off = template(helm, *set_flags({"dashboards.enabled": "false"}), chart=chart_with_a_dashboard)
    assert "ConfigMap" not in off.kinds


# ----------------------------------------------------------------------------- bad values


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--set", "metrics.port=notaport"], "metrics/port"),
        (["--set-json", "image.tag=5"], "image/tag"),
        (["--set", "replicaCount=abc"], "replicaCount"),
        (["--set", "logLevel=verbose"], "logLevel"),
        (["--set", "webhook.configuration=both"], "webhook/configuration"),
        (["--set", "webhook.certificate.source=vault"], "webhook/certificate/source"),
        (["--set", "monitoring.serviceMonitor.enabled=sometimes"], "monitoring/serviceMonitor/enabled"),
        (["--set", "prometheus.url=prometheus:9090"], "prometheus/url"),
        (["--set", "prometheus.timeout=soon"], "prometheus/timeout"),
        (["--set", "intervals.resyncSeconds=0"], "intervals/resyncSeconds"),
        (["--set", "metricNames.cpu=x"], "metricNames"),
        (["--set", "metricNames.cpu_usage=not a name"], "metricNames/cpu_usage"),
        (["--set", "watchNamespaces[0]=Team_A"], "watchNamespaces/0"),
        (["--set", "budgetWebhookSecrets[0].namespace=team-a"], "budgetWebhookSecrets/0"),
        (["--set", "nodePools.karpenter.enabled=yes"], "nodePools/karpenter/enabled"),
        (["--set", "leaderElection.enable=true"], "leaderElection"),
        (["--set", "replicas=2"], "replicas"),
    ],
)
def test_a_bad_value_is_refused_naming_it(helm: Path, flags: list[str], named: str) -> None:
    error = template_error(helm, *flags)
    assert "schema" in error, error
    assert f"/{named}" in error or f"'{named}'" in error, error


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"replicaCount": "2"}, "leaderElection.enabled"),
        (
            {"prometheus.bearerTokenSecret.name": "token", "prometheus.bearerTokenFile": "/token"},
            "prometheus.bearerTokenFile",
        ),
        ({"prometheus.caSecret.name": "ca", "prometheus.caConfigMap.name": "ca"}, "prometheus.caConfigMap"),
        (
            {"prometheus.insecureSkipVerify": "true", "prometheus.caSecret.name": "ca"},
            "prometheus.insecureSkipVerify",
        ),
        ({"serviceAccount.create": "false"}, "serviceAccount.name"),
    ],
)
def test_values_that_exclude_each_other_are_refused_naming_them(
    helm: Path, values: dict[str, str], named: str
) -> None:
    assert named in template_error(helm, *set_flags(values))


# ----------------------------------------------------------------------------- RBAC


def rules_of(role: dict[str, Any]) -> list[dict[str, Any]]:
    """Each (group, resource) of each rule, with its verbs and resource names."""
    return [
        {
            "group": group,
            "resource": resource,
            "verbs": set(rule["verbs"]),
            "names": tuple(rule.get("resourceNames", ())),
        }
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    ]


def cluster_role_rules(rendered: Rendered) -> list[dict[str, Any]]:
    return [rule for role in rendered.of_kind("ClusterRole") for rule in rules_of(role)]


def granted(rules: list[dict[str, Any]]) -> dict[tuple[str, str], set[str]]:
    table: dict[tuple[str, str], set[str]] = {}
    for rule in rules:
        table.setdefault((rule["group"], rule["resource"]), set()).update(rule["verbs"])
    return table


def test_the_default_rbac_is_exactly_what_the_operator_calls(defaults: Rendered) -> None:
    assert granted(cluster_role_rules(defaults)) == {**CLUSTER_RULES, **NAMESPACED_RULES}
    assert not defaults.of_kind("Role")
    bindings = {b["metadata"]["name"]: b for b in defaults.of_kind("ClusterRoleBinding")}
    assert {b["roleRef"]["name"] for b in bindings.values()} == {
        r["metadata"]["name"] for r in defaults.of_kind("ClusterRole")
    }
    account = defaults.one("ServiceAccount")["metadata"]
    for binding in bindings.values():
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": account["name"], "namespace": account["namespace"]}
        ]


def test_everything_on_adds_only_node_pools_leases_and_named_secrets(everything: Rendered) -> None:
    assert granted(cluster_role_rules(everything)) == {**CLUSTER_RULES, **NAMESPACED_RULES, **NODE_POOL_RULES}
    roles = {
        (r["metadata"]["namespace"], r["metadata"]["name"]): rules_of(r) for r in everything.of_kind("Role")
    }
    assert roles == {
        (RELEASE_NAMESPACE, "thrifty-leader-election"): [
            {"group": "coordination.k8s.io", "resource": "leases", "verbs": {"create"}, "names": ()},
            {
                "group": "coordination.k8s.io",
                "resource": "leases",
                "verbs": {"get", "update"},
                "names": ("thrifty",),
            },
        ],
        ("team-a", "thrifty-budget-webhook-secrets"): [
            {"group": "", "resource": "secrets", "verbs": {"get"}, "names": ("pagerduty", "slack")},
        ],
        ("finance", "thrifty-budget-webhook-secrets"): [
            {"group": "", "resource": "secrets", "verbs": {"get"}, "names": ("slack",)},
        ],
    }


def test_watched_namespaces_get_the_namespaced_rules_there_only(everything: Rendered) -> None:
    cluster_bound = {b["roleRef"]["name"] for b in everything.of_kind("ClusterRoleBinding")}
    assert cluster_bound == {"thrifty"}
    role_bindings = {
        (b["metadata"]["namespace"], b["roleRef"]["kind"], b["roleRef"]["name"])
        for b in everything.of_kind("RoleBinding")
    }
    namespaced = {(ns, "ClusterRole", "thrifty-namespaced") for ns in ("team-a", "team-b")}
    # Events about cluster-scoped objects: namespace default (the operator's), the release's (kopf's).
    events = {(ns, "ClusterRole", "thrifty-events") for ns in ("default", RELEASE_NAMESPACE)}
    secrets = {(ns, "Role", "thrifty-budget-webhook-secrets") for ns in ("team-a", "finance")}
    leases = {(RELEASE_NAMESPACE, "Role", "thrifty-leader-election")}
    assert role_bindings == namespaced | events | secrets | leases
    events_role = everything.one("ClusterRole", "thrifty-events")
    assert granted(rules_of(events_role)) == {("", "events"): {"create", "patch"}}


@pytest.mark.parametrize("options", ["defaults", "everything-on", "operator-webhook"])
def test_no_wildcard_and_no_cluster_wide_secrets(helm: Path, everything_on_file: Path, options: str) -> None:
    values = {
        "defaults": [],
        "everything-on": ["-f", str(everything_on_file)],
        "operator-webhook": set_flags({"webhook.configuration": "operator"}),
    }[options]
    rendered = template(helm, *values)
    for role in rendered.of_kind("ClusterRole") + rendered.of_kind("Role"):
        for rule in role["rules"]:
            for field in ("apiGroups", "resources", "verbs", "resourceNames", "nonResourceURLs"):
                assert not any("*" in item for item in rule.get(field, [])), (role["metadata"], rule)
    for rule in cluster_role_rules(rendered):
        assert rule["resource"] not in ("secrets", "configmaps"), rule
    for role in rendered.of_kind("Role"):
        for rule in rules_of(role):
            if rule["resource"] == "secrets":
                assert rule["names"], rule
                assert rule["verbs"] == {"get"}, rule
    if options == "operator-webhook":
        assert granted(cluster_role_rules(rendered)) == {
            **CLUSTER_RULES,
            **NAMESPACED_RULES,
            **OPERATOR_WEBHOOK_RULE,
        }


def readme_section(heading: str) -> list[str]:
    """The lines of one `## heading` section of the chart's README."""
    lines = (CHART / "README.md").read_text(encoding="utf-8").splitlines()
    start = lines.index(f"## {heading}")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return lines[start + 1 : end]


def test_the_readme_explains_every_rule(everything: Rendered, helm: Path) -> None:
    table = [line for line in readme_section("RBAC") if line.startswith("|")]
    operator_written = template(helm, *set_flags({"webhook.configuration": "operator"}))
    rules = [*cluster_role_rules(everything), *cluster_role_rules(operator_written)]
    rules += [rule for role in everything.of_kind("Role") for rule in rules_of(role)]
    for rule in rules:
        row = next((line for line in table if f"`{rule['resource']}`" in line), None)
        assert row is not None, f"README.md has no RBAC row for {rule['resource']}"
        assert f"`{rule['group']}`" in row.split("|")[1] or (rule["group"] == "" and '`""`' in row), row
        for verb in rule["verbs"]:
            assert f"`{verb}`" in row, f"README.md's row for {rule['resource']} lacks {verb}: {row}"


# Documented as one row each, though the schema spells out their fields.
WHOLE_VALUES = frozenset({"resources", "podSecurityContext", "securityContext"})


def value_paths(values: dict[str, Any], schema: dict[str, Any], prefix: str = "") -> Iterator[str]:
    """Every value a user sets: a leaf, or a map the schema leaves free-form."""
    for key, value in values.items():
        path = f"{prefix}{key}"
        node = schema.get("properties", {}).get(key, {})
        if isinstance(value, dict) and value and "properties" in node and path not in WHOLE_VALUES:
            yield from value_paths(value, node, f"{path}.")
        else:
            yield path


def test_the_readme_documents_every_value() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    schema = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    rows = {
        line.split("|")[1].strip().strip("`") for line in readme_section("Values") if line.startswith("| `")
    }
    assert set(value_paths(values, schema)) == rows


# ----------------------------------------------------------------------------- CRDs


def test_the_charts_crds_are_the_top_level_ones_byte_for_byte() -> None:
    top = {path.name: path.read_bytes() for path in sorted((REPO / "crds").glob("*"))}
    chart = {path.name: path.read_bytes() for path in sorted((CHART / "crds").glob("*"))}
    hint = "charts/thrifty/crds/ differs from crds/: run `make crds`"
    assert sorted(chart) == sorted(top), hint
    for name, content in top.items():
        assert chart[name] == content, f"{name}: {hint}"


# ----------------------------------------------------------------------------- the placement webhook


def without_client_config(webhook: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in webhook.items() if key != "clientConfig"}


def test_the_charts_webhook_is_the_one_the_operator_writes(defaults: Rendered) -> None:
    chart = defaults.one("MutatingWebhookConfiguration")
    operator = placement_webhook_configuration(
        "https://unused", b"", ["kube-system", RELEASE_NAMESPACE], f"/{PLACE_POD}"
    )
    assert len(chart["webhooks"]) == len(operator["webhooks"]) == 1
    assert without_client_config(chart["webhooks"][0]) == without_client_config(operator["webhooks"][0])
    assert chart["metadata"]["labels"].items() >= operator["metadata"]["labels"].items()
    # Release `thrifty` writes the object the operator would: switching between them leaves one.
    assert chart["metadata"]["name"] == operator["metadata"]["name"] == WEBHOOK_CONFIGURATION
    service = chart["webhooks"][0]["clientConfig"]["service"]
    webhook_service = defaults.one("Service", service["name"])
    assert service == {
        "name": "thrifty-webhook",
        "namespace": RELEASE_NAMESPACE,
        "path": f"/{PLACE_POD}",
        "port": webhook_service["spec"]["ports"][0]["port"],
    }


def test_the_generated_certificate_serves_the_webhook_service(defaults: Rendered) -> None:
    secret = defaults.one("Secret")
    assert secret["type"] == "kubernetes.io/tls"
    assert sorted(secret["data"]) == ["ca.crt", "tls.crt", "tls.key"]
    ca_pem = base64.b64decode(secret["data"]["ca.crt"])
    ca = x509.load_pem_x509_certificate(ca_pem)
    serving = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
    serving.verify_directly_issued_by(ca)
    names = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert f"thrifty-webhook.{RELEASE_NAMESPACE}.svc" in names.get_values_for_type(x509.DNSName)
    bundle = defaults.one("MutatingWebhookConfiguration")["webhooks"][0]["clientConfig"]["caBundle"]
    assert base64.b64decode(bundle) == ca_pem
    checksum = defaults.one("Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert "checksum/webhook-certificate" in checksum
