"""PromQL building: label-value escaping, the query step and windows, and the exact query text."""

from __future__ import annotations

import ast
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from thrifty.settings import MetricNames
from thrifty.sources.promql import (
    CLEAN_STEPS_SECONDS,
    MAX_POINTS_PER_SERIES,
    NamespaceQueries,
    choose_step,
    cpu_rate_window,
    duration,
    escape_label_value,
    memory_peak_window,
)
from thrifty.sources.usage import TimeGrid

DAY = 86_400


def unquote(literal_body: str) -> str:
    """What a PromQL (Go-style) double-quoted string reads as; Python's rules agree for these escapes."""
    value = ast.literal_eval(f'"{literal_body}"')
    assert isinstance(value, str)
    return value


# --------------------------------------------------------------------------- escaping


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("shop", "shop"),
        ('a"b', 'a\\"b'),
        ("a\\b", "a\\\\b"),
        ("line\nbreak", "line\\nbreak"),
        ('x"} or vector(1) or {a="', 'x\\"} or vector(1) or {a=\\"'),
        # A trailing backslash must not escape the closing quote the query adds.
        ("ends with \\", "ends with \\\\"),
        ('\\"} or up{job="', '\\\\\\"} or up{job=\\"'),
        ("tab\tcr\rbell\x07", "tab\\tcr\\rbell\\x07"),
        ("ünïcode", "ünïcode"),
    ],
)
def test_escape_label_value(value: str, escaped: str) -> None:
    assert escape_label_value(value) == escaped
    assert unquote(escape_label_value(value)) == value


@given(st.text())
def test_any_escaped_value_reads_back_as_itself(value: str) -> None:
    escaped = escape_label_value(value)

    assert "\n" not in escaped
    assert unquote(escaped) == value


def test_hostile_namespace_is_escaped_in_every_query() -> None:
    hostile = 'x"} or vector(1) or {a="\\'
    queries = NamespaceQueries(MetricNames(), (hostile,), 120, 60.0, 14 * DAY)
    texts = [
        queries.cpu_usage(),
        queries.memory_working_set(),
        queries.resources("kube_pod_container_resource_requests"),
        queries.oom_kills(),
        queries.present_metrics(),
    ]

    for text in texts:
        assert hostile not in text
        assert f'namespace="{escape_label_value(hostile)}"' in text
        assert "vector(1)" not in text.replace(escape_label_value(hostile), "")


# --------------------------------------------------------------------------- step and windows


@pytest.mark.parametrize(
    ("lookback_seconds", "scrape_seconds", "step"),
    [
        (14 * DAY, 60, 120),  # 1,209,600 / 10,999 = 110 s -> 120 s: 10,081 points
        (14 * DAY, 15, 120),
        (2 * DAY, 60, 60),  # the scrape interval is the floor: finer steps repeat samples
        (3600, 15, 15),
        (30 * DAY, 60, 300),
        (90 * DAY, 30, 900),
        (5 * 365 * DAY, 60, DAY),  # beyond the table: whole days
    ],
)
def test_choose_step(lookback_seconds: int, scrape_seconds: int, step: int) -> None:
    assert choose_step(lookback_seconds, scrape_seconds) == step


@given(
    lookback=st.integers(min_value=60, max_value=3 * 365 * DAY),
    scrape=st.sampled_from([5, 10, 15, 30, 60, 120]),
)
def test_step_is_the_smallest_clean_step_within_the_point_limit(lookback: int, scrape: int) -> None:
    step = choose_step(lookback, scrape)

    assert step >= scrape
    assert lookback // step + 1 <= MAX_POINTS_PER_SERIES
    smaller = [s for s in CLEAN_STEPS_SECONDS if s < step]
    if smaller:
        assert smaller[-1] < scrape or lookback // smaller[-1] + 1 > MAX_POINTS_PER_SERIES


def test_choose_step_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="positive"):
        choose_step(0, 60)
    with pytest.raises(ValueError, match="positive"):
        choose_step(DAY, 0)


@pytest.mark.parametrize(
    ("step", "scrape", "window"), [(120, 60, 240), (60, 60, 240), (300, 30, 600), (15, 15, 60)]
)
def test_cpu_rate_window(step: int, scrape: int, window: int) -> None:
    assert cpu_rate_window(step, scrape) == window


@given(step=st.sampled_from(CLEAN_STEPS_SECONDS), scrape=st.sampled_from([5, 10, 15, 30, 60]))
def test_windows_cover_every_sample(step: int, scrape: int) -> None:
    assert cpu_rate_window(step, scrape) >= max(2 * step, 2 * scrape)
    assert memory_peak_window(step, scrape) >= max(step, 2 * scrape)


@pytest.mark.parametrize(
    ("seconds", "text"), [(45, "45s"), (240, "4m"), (3600, "1h"), (176_400, "49h"), (14 * DAY, "14d")]
)
def test_duration(seconds: int, text: str) -> None:
    assert duration(seconds) == text


def test_time_grid_ends_on_a_step_and_fits_the_point_limit() -> None:
    end = datetime(2024, 5, 1, 12, 3, 17, tzinfo=UTC)
    grid = TimeGrid.ending_at(end, 14 * DAY, 120)

    assert grid.end % 120 == 0
    assert 0 <= end.timestamp() - grid.end < 120
    assert grid.end - grid.start == 14 * DAY
    assert grid.points == 10_081 <= MAX_POINTS_PER_SERIES
    assert grid.times()[-1] == grid.end


# --------------------------------------------------------------------------- the queries


OWNER_JOIN = """\
  * on (namespace, pod) group_left (owner_kind, owner_name)
  topk by (namespace, pod) (1,
    max by (namespace, pod, owner_kind, owner_name) (
      (
        max by (namespace, pod, replicaset) (
          label_replace(
            kube_pod_owner{namespace="shop", owner_kind="ReplicaSet", owner_is_controller="true"},
            "replicaset", "$1", "owner_name", "(.+)"
          )
        )
        * on (namespace, replicaset) group_left (owner_kind, owner_name)
        topk by (namespace, replicaset) (1,
          max by (namespace, replicaset, owner_kind, owner_name) (
            kube_replicaset_owner{namespace="shop", owner_kind="Deployment", owner_is_controller="true"}
          )
        )
      )
      or
      max by (namespace, pod, owner_kind, owner_name) (
        kube_pod_owner{namespace="shop", owner_kind="StatefulSet", owner_is_controller="true"}
      )
    )
  )
)"""

EXPECTED_CPU = f"""\
max by (namespace, owner_kind, owner_name, container, pod) (
  rate(container_cpu_usage_seconds_total{{namespace="shop", container!="", container!="POD"}}[4m])
{OWNER_JOIN}"""

EXPECTED_MEMORY = f"""\
max by (namespace, owner_kind, owner_name, container, pod) (
  max_over_time(container_memory_working_set_bytes{{namespace="shop", container!="", container!="POD"}}[2m])
{OWNER_JOIN}"""

EXPECTED_REQUESTS = f"""\
max by (namespace, owner_kind, owner_name, container, resource) (
  kube_pod_container_resource_requests{{namespace="shop", resource=~"cpu|memory", container!=""}}
{OWNER_JOIN}"""

EXPECTED_OOM_HEAD = """\
max by (namespace, owner_kind, owner_name, container) (
  max by (namespace, pod, container) (
    max_over_time(timestamp(
      (increase(kube_pod_container_status_restarts_total{namespace="shop"}[4m]) > 0)
      and on (namespace, pod, container)
      max_over_time(
        kube_pod_container_status_last_terminated_reason{namespace="shop", reason="OOMKilled"}[4m]
      )
    )[14d:2m])
  )
"""

SHOP = NamespaceQueries(
    MetricNames(), ("shop",), step_seconds=120, scrape_interval_seconds=60.0, lookback_seconds=14 * DAY
)


def test_cpu_query_text() -> None:
    assert SHOP.cpu_usage() == EXPECTED_CPU


def test_memory_query_text() -> None:
    assert SHOP.memory_working_set() == EXPECTED_MEMORY


def test_requests_query_text() -> None:
    assert SHOP.resources("kube_pod_container_resource_requests") == EXPECTED_REQUESTS


def test_oom_query_counts_pods_seen_anywhere_in_the_lookback() -> None:
    text = SHOP.oom_kills()

    assert text.startswith(EXPECTED_OOM_HEAD)
    # Owners over the whole lookback, so a pod that was OOM-killed and then replaced still counts.
    assert (
        'max_over_time(kube_pod_owner{namespace="shop", owner_kind="ReplicaSet", '
        'owner_is_controller="true"}[14d])' in text
    )
    assert (
        'max_over_time(kube_pod_owner{namespace="shop", owner_kind="StatefulSet", '
        'owner_is_controller="true"}[14d])' in text
    )


def test_presence_query_lists_every_configured_metric() -> None:
    names = MetricNames(cpu_usage="node:container_cpu_usage_seconds:total")
    text = NamespaceQueries(names, ("shop",), 120, 60.0, 14 * DAY).present_metrics()

    assert (
        text == f'count by (namespace, __name__) ({{__name__=~"{"|".join(names.all())}", namespace="shop"}})'
    )
    assert "node:container_cpu_usage_seconds:total|container_memory_working_set_bytes|" in text


def test_configured_metric_names_replace_the_defaults() -> None:
    names = MetricNames(
        cpu_usage="cadvisor_cpu_seconds_total",
        memory_working_set="cadvisor_memory_ws_bytes",
        pod_owner="ksm_pod_owner",
        replicaset_owner="ksm_replicaset_owner",
    )
    queries = NamespaceQueries(names, ("shop",), 120, 60.0, 14 * DAY)
    cpu, memory = queries.cpu_usage(), queries.memory_working_set()

    assert "rate(cadvisor_cpu_seconds_total{" in cpu
    assert "max_over_time(cadvisor_memory_ws_bytes{" in memory
    for text in (cpu, memory):
        assert "ksm_pod_owner{" in text
        assert "ksm_replicaset_owner{" in text
        assert "kube_pod_owner" not in text
        assert "container_cpu_usage_seconds_total" not in text
