"""Spend PromQL: one query per metric for every namespace at once, and names that match only themselves."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from thrifty.engine.spend_records import ksm_label_name
from thrifty.settings import CostMetricNames, MetricNames, PrometheusSettings
from thrifty.sources.promql import NamespaceQueries, escape_label_value, escape_regex, namespace_regex
from thrifty.sources.spend_promql import SpendQueries, opencost_presence

SHOP = SpendQueries(MetricNames(), CostMetricNames(), ("shop", "shop-staging"), 300, 60.0)
MATCHER = 'namespace=~"shop|shop-staging"'


_GO_ESCAPES = {"\\": "\\", '"': '"', "n": "\n", "r": "\r", "t": "\t"}


def unquote(literal_body: str) -> str:
    """What the inside of a PromQL (Go-style) double-quoted string reads as, for the escapes
    ``escape_label_value`` writes; any other backslash or a bare quote is a failure."""

    def one(match: re.Match[str]) -> str:
        escape = match.group(1)
        if escape.startswith("x"):
            return chr(int(escape[1:], 16))
        return _GO_ESCAPES[escape]

    assert re.search(r'(?<!\\)(?:\\\\)*"', literal_body) is None, literal_body
    return re.sub(r"\\(x[0-9a-f]{2}|.)", one, literal_body, flags=re.DOTALL)


def matcher_regex(query: str) -> str:
    """The regex the first ``namespace=~"..."`` matcher of ``query`` hands to Prometheus."""
    found = re.search(r'namespace=~"((?:[^"\\]|\\.)*)"', query)
    assert found is not None, query
    return unquote(found.group(1))


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("shop", "shop"),
        ("a.b", "a\\.b"),
        ("x.*", "x\\.\\*"),
        ("a|b", "a\\|b"),
        ("(re)[x]{2}^$+?", "\\(re\\)\\[x\\]\\{2\\}\\^\\$\\+\\?"),
        ("back\\slash", "back\\\\slash"),
        ('quote"d', 'quote"d'),  # quotes are for the string escaping that follows, not the regex
        ("tab\tnel\x85ls\u2028", "tab\\x{9}nel\\x{85}ls\\x{2028}"),
        ("ünïcode", "ünïcode"),
    ],
)
def test_escape_regex(value: str, escaped: str) -> None:
    assert escape_regex(value) == escaped


def test_namespace_regex_is_sorted_and_without_repeats() -> None:
    assert namespace_regex(["b", "a.x", "b"]) == "a\\.x|b"
    with pytest.raises(ValueError, match="at least one namespace"):
        namespace_regex([])


@given(
    names=st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=5),
    other=st.text(max_size=12),
)
def test_the_matcher_matches_exactly_the_names(names: list[str], other: str) -> None:
    queries = SpendQueries(MetricNames(), CostMetricNames(), tuple(names), 60, 60.0)
    query = queries.cpu_usage()
    regex = matcher_regex(query)

    assert query.count("\n") == 2  # no name can break the query over lines
    # Prometheus anchors matchers: ^(?:regex)$. Python's re reads these escapes as RE2 does, once
    # RE2's \x{hex} is spelled \U00hex.
    python = re.sub(r"\\x\{([0-9a-f]+)\}", lambda m: f"\\U{int(m.group(1), 16):08x}", regex)
    for name in names:
        assert re.fullmatch(f"(?:{python})", name, flags=re.DOTALL)
    if other not in names:
        assert not re.fullmatch(f"(?:{python})", other, flags=re.DOTALL)


@pytest.mark.parametrize(
    "hostile", ['x"} or vector(1) or {a="', 'back\\slash"', "new\nline", '\\"} or up{job="', "a.*|.*"]
)
def test_hostile_names_stay_inside_the_matcher(hostile: str) -> None:
    queries = SpendQueries(MetricNames(), CostMetricNames(), (hostile,), 300, 60.0)
    literal = escape_label_value(escape_regex(hostile))
    texts = [
        queries.cpu_usage(),
        queries.memory_usage(),
        queries.requests(),
        queries.pod_nodes(),
        queries.node_labels(),
        queries.allocation("container_cpu_allocation"),
        queries.node_price("node_cpu_hourly_cost"),
    ]

    for text in texts:
        assert f'namespace=~"{literal}"' in text
        assert 'namespace="' not in text
        assert "vector(1)" not in text.replace(literal, "")
        assert matcher_regex(text) == escape_regex(hostile)
    # The owners reuse the usage join, which names a single namespace as a plain string.
    owners, plain = queries.owners(), escape_label_value(hostile)
    assert f'namespace="{plain}"' in owners
    assert "vector(1)" not in owners.replace(plain, "").replace(literal, "")


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("karpenter.sh/capacity-type", "label_karpenter_sh_capacity_type"),
        ("eks.amazonaws.com/capacityType", "label_eks_amazonaws_com_capacityType"),
        ("cloud.google.com/gke-spot", "label_cloud_google_com_gke_spot"),
        ("team", "label_team"),
    ],
)
def test_ksm_label_name(key: str, name: str) -> None:
    assert ksm_label_name(key) == name


# --------------------------------------------------------------------------- the queries


def test_cpu_usage_query_text() -> None:
    assert SHOP.cpu_usage() == (
        "max by (namespace, pod, container) (\n"
        f'  rate(container_cpu_usage_seconds_total{{{MATCHER}, container!="", container!="POD"}}[10m])\n'
        ")"
    )


def test_memory_usage_query_text() -> None:
    assert SHOP.memory_usage() == (
        "max by (namespace, pod, container) (\n"
        "  avg_over_time(container_memory_working_set_bytes"
        f'{{{MATCHER}, container!="", container!="POD"}}[5m])\n'
        ")"
    )


def test_requests_query_reads_cpu_memory_and_gpu_at_once() -> None:
    assert SHOP.requests() == (
        "max by (namespace, pod, container, resource) (\n"
        f'  kube_pod_container_resource_requests{{{MATCHER}, resource=~"cpu|memory|nvidia_com_gpu", '
        'container!=""}\n'
        ")"
    )


def test_placement_and_node_label_queries() -> None:
    assert SHOP.pod_nodes() == f'max by (namespace, pod, node) (\n  kube_pod_info{{{MATCHER}, node!=""}}\n)'
    assert SHOP.node_labels() == (
        f'kube_node_labels\nand on (node)\nmax by (node) (\n  kube_pod_info{{{MATCHER}, node!=""}}\n)'
    )


def test_owners_reuse_the_usage_join_for_all_namespaces_at_once() -> None:
    usage_join = NamespaceQueries(MetricNames(), ("shop", "shop-staging"), 300, 60.0, 300).workload_of_pod()
    text = SHOP.owners()

    assert _indented(usage_join) in text
    assert text.startswith("topk by (namespace, pod) (1,\n")
    assert (
        f'kube_pod_owner{{{MATCHER}, owner_kind!~"ReplicaSet|StatefulSet", owner_is_controller="true"}}'
        in text
    )


def test_each_query_reads_one_metric() -> None:
    m, c = MetricNames(), CostMetricNames()
    names = {*m.all(), *(getattr(c, field) for field in c.__dataclass_fields__)}
    reads = {
        SHOP.cpu_usage(): {m.cpu_usage},
        SHOP.memory_usage(): {m.memory_working_set},
        SHOP.requests(): {m.resource_requests},
        SHOP.pod_nodes(): {c.pod_info},
        # The node filter is the only other metric in these: which nodes ran the scope's pods.
        SHOP.node_labels(): {c.node_labels, c.pod_info},
        SHOP.owners(): {m.pod_owner, m.replicaset_owner},
        SHOP.allocation(c.container_cpu_allocation): {c.container_cpu_allocation},
        SHOP.node_price(c.node_is_spot): {
            c.node_is_spot,
            c.container_cpu_allocation,
            c.container_memory_allocation,
        },
    }
    for text, expected in reads.items():
        assert {name for name in names if re.search(rf"\b{name}\{{|\b{name}\n|\b{name}$", text)} == expected
        assert MATCHER in text
        assert 'namespace="' not in text


def test_opencost_queries() -> None:
    assert SHOP.allocation("container_cpu_allocation") == (
        "max by (namespace, pod, container, node) (\n"
        f'  avg_over_time(container_cpu_allocation{{{MATCHER}, container!="", container!="POD"}}[5m])\n'
        ")"
    )
    assert SHOP.node_price("node_cpu_hourly_cost") == (
        "max by (node, instance_type, region, provider_id, arch) (\n"
        "  node_cpu_hourly_cost\n"
        ")\n"
        "and on (node)\n"
        "(\n"
        "  max by (node) (\n"
        f"    container_cpu_allocation{{{MATCHER}}}\n"
        "  )\n"
        "  or\n"
        "  max by (node) (\n"
        f"    container_memory_allocation_bytes{{{MATCHER}}}\n"
        "  )\n"
        ")"
    )
    assert opencost_presence(CostMetricNames()) == (
        'count by (__name__) ({__name__=~"container_cpu_allocation|node_cpu_hourly_cost"})'
    )


def test_configured_names_replace_the_defaults() -> None:
    settings = PrometheusSettings.from_env(
        {
            "PROMETHEUS_URL": "http://p",
            "THRIFTY_METRIC_POD_INFO": "ksm_pod_info",
            "THRIFTY_METRIC_NODE_CPU_HOURLY_COST": "opencost:node_cpu_hourly_cost",
        }
    )
    queries = SpendQueries(settings.metrics, settings.cost_metrics, ("shop",), 300, 60.0)

    assert settings.cost_metrics.node_labels == "kube_node_labels"
    assert "ksm_pod_info{" in queries.pod_nodes()
    assert "kube_pod_info" not in queries.node_labels()
    assert "  opencost:node_cpu_hourly_cost\n" in queries.node_price(
        settings.cost_metrics.node_cpu_hourly_cost
    )
    with pytest.raises(ValueError, match="not a valid"):
        PrometheusSettings.from_env({"PROMETHEUS_URL": "http://p", "THRIFTY_METRIC_NODE_LABELS": "a{b}"})


def test_cost_metric_fields_never_share_a_variable_with_usage_metrics() -> None:
    assert not set(MetricNames.__dataclass_fields__) & set(CostMetricNames.__dataclass_fields__)


def _indented(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())
