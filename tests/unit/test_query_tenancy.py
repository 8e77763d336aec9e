"""A policy's own PromQL reads only its own namespace: every selector must carry it."""

from __future__ import annotations

import pytest

from thrifty.sources.query_tenancy import namespace_problem


@pytest.mark.parametrize(
    "query",
    [
        'sum(rate(http_requests_total{namespace="inj",app="web"}[2m]))',
        'sum(x{namespace="inj"}) / sum(kube_pod_container_resource_requests{namespace="inj",resource="cpu"})',
        'max_over_time(queue_depth{namespace="inj"}[10m:1m])',
        'sum(x{namespace="inj",a="1" or namespace="inj",b="2"})',
        "vector(5)",
    ],
)
def test_queries_that_stay_in_the_namespace_are_sent(query: str) -> None:
    assert namespace_problem(query, "inj") is None


@pytest.mark.parametrize(
    ("query", "named"),
    [
        (
            'sum(kube_pod_container_resource_requests{namespace="demo"})',
            "kube_pod_container_resource_requests",
        ),
        ("sum(rate(http_requests_total[2m]))", "http_requests_total"),
        ('sum(x{namespace=~"inj|demo"})', "x"),
        ('sum(x{namespace!="inj"})', "x"),
        ('sum(x{namespace="inj"}) + sum(y)', "y"),
        ('sum(x{namespace="inj" or app="web"})', "x"),
        ('{__name__=~".+"}', "{...}"),
    ],
)
def test_a_query_that_reads_another_namespace_is_refused_with_the_selector_named(
    query: str, named: str
) -> None:
    problem = namespace_problem(query, "inj")
    assert problem is not None
    assert f"selector {named} " in problem
    assert 'namespace="inj"' in problem


def test_a_query_that_does_not_parse_is_left_to_prometheus() -> None:
    assert namespace_problem("sum(rate(x[5m]", "inj") is None
