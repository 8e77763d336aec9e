"""The live metrics' object cache and text exposition without a cluster: a list and watch events in
the API server's JSON keep the same objects a fresh list would give, a broken or expired watch
falls back to a relist, and ``/metrics`` renders exactly what prometheus_client would."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import CollectorRegistry
from test_live_load import Cluster, FakeClock, api_json, scrape, v1_pod

from thrifty.sandbox.live_load import CPU_ANNOTATION, ClusterObjects
from thrifty.sandbox.live_metrics import LiveMetrics, metrics_server, render_text
from thrifty.sandbox.object_cache import KINDS, ClusterCache, NotSyncedError, ObjectCache


def list_body(items: list[dict[str, Any]], resource_version: str) -> bytes:
    return json.dumps(
        {"kind": "List", "metadata": {"resourceVersion": resource_version}, "items": items}
    ).encode()


def event(kind: str, item: dict[str, Any], resource_version: str) -> str:
    item = {**item, "metadata": {**item["metadata"], "resourceVersion": resource_version}}
    return json.dumps({"type": kind, "object": item})


class FakeServer:
    """Answers one kind's lists with its current objects and hands out scripted watch streams."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items
        self.lists = 0
        self.watches: list[list[str | Exception]] = []
        self.watched_from: list[str] = []

    def list_body(self) -> bytes:
        self.lists += 1
        return list_body(self.items, str(100 * self.lists))

    def watch_lines(self, resource_version: str) -> Iterator[str]:
        self.watched_from.append(resource_version)
        for line in self.watches.pop(0) if self.watches else ():
            if isinstance(line, Exception):
                raise line
            yield line


def cluster_cache(cluster: Cluster) -> tuple[ClusterCache, dict[str, FakeServer]]:
    servers = {kind: FakeServer(api_json(models)) for kind, models in cluster.models().items()}
    cache = ClusterCache({kind: ObjectCache(kind, s.list_body, s.watch_lines) for kind, s in servers.items()})
    return cache, servers


def test_a_scrape_before_the_first_list_fails_rather_than_report_part_of_the_cluster() -> None:
    cache, _ = cluster_cache(Cluster())
    cache.kinds["pods"].relist()
    with pytest.raises(NotSyncedError):
        cache.objects()


def test_listed_objects_give_the_families_of_the_same_objects() -> None:
    cluster = Cluster()
    cache, _ = cluster_cache(cluster)
    for kind in KINDS:
        cache.kinds[kind].relist()

    assert scrape(LiveMetrics(cache.objects, FakeClock())) == scrape(
        LiveMetrics(cluster.objects, FakeClock())
    )


def test_watch_events_keep_the_objects_a_fresh_list_would_give() -> None:
    cache, servers = cluster_cache(Cluster())
    for kind in KINDS:
        cache.kinds[kind].relist()
    [old, added] = api_json([v1_pod(name, ("ReplicaSet", "web-abc")) for name in ("web-abc-1", "web-abc-3")])
    moved = {**added, "spec": {**added["spec"], "nodeName": "kwok-spot-1"}}
    [deployment] = api_json(Cluster(web_annotations={CPU_ANNOTATION: "3"}).models()["deployments"])
    bookmark = json.dumps({"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "110"}}})
    servers["pods"].watches = [
        [
            event("ADDED", added, "101"),
            "",
            event("MODIFIED", moved, "102"),
            event("DELETED", old, "103"),
            bookmark,
        ]
    ]
    servers["deployments"].watches = [[event("MODIFIED", deployment, "104")]]

    assert cache.kinds["pods"].follow("100") == "110"
    assert cache.kinds["deployments"].follow("100") == "104"

    after = Cluster(web_annotations={CPU_ANNOTATION: "3"}, web_pods=["web-abc-2", "web-abc-3"]).objects()
    pods = [moved if p["metadata"]["name"] == "web-abc-3" else p for p in after.pods]
    listed = ClusterObjects(pods, after.replicasets, after.deployments, after.statefulsets, after.nodes)
    assert scrape(LiveMetrics(cache.objects, FakeClock())) == scrape(LiveMetrics(lambda: listed, FakeClock()))


def run_until(server: FakeServer, lists: int) -> ObjectCache:
    """A cache of the server's pods, run until the server has answered ``lists`` lists."""
    stop = threading.Event()
    original = server.list_body

    def counting_list() -> bytes:
        body = original()
        if server.lists >= lists:
            stop.set()
        return body

    cache = ObjectCache("pods", counting_list, server.watch_lines)
    thread = threading.Thread(target=cache.run, args=(stop, 0.0))
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive()
    return cache


@pytest.mark.parametrize(
    "broken",
    [
        json.dumps({"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired"}}),
        json.dumps({"type": "ERROR", "object": {"kind": "Status", "code": 500, "reason": "InternalError"}}),
        ConnectionResetError("connection reset by peer"),
        "{not json",
    ],
    ids=["410 Gone", "error event", "connection reset", "garbled event"],
)
def test_a_watch_that_cannot_be_resumed_falls_back_to_a_relist(broken: str | Exception) -> None:
    pods = api_json(Cluster().models()["pods"])
    server = FakeServer(pods)
    [gone] = [p for p in pods if p["metadata"]["name"] == "web-abc-1"]
    # The first watch ends normally and is resumed; the second breaks after an event, while the
    # pod is deleted unseen; only the relist learns that.
    server.watches = [[event("MODIFIED", gone, "105")], [event("MODIFIED", gone, "106"), broken]]
    server.items = [p for p in pods if p is not gone]

    cache = run_until(server, lists=2)

    assert server.watched_from[:2] == ["100", "105"]
    assert cache.relists == 2
    assert {item["metadata"]["name"] for item in cache.items()} == {
        p["metadata"]["name"] for p in server.items
    }


def test_managed_fields_are_not_kept() -> None:
    [pod] = api_json([v1_pod("web-abc-1", ("ReplicaSet", "web-abc"))])
    pod["metadata"]["managedFields"] = [{"manager": "kube-controller-manager", "fieldsV1": {"f:spec": {}}}]
    server = FakeServer([pod])
    cache = ObjectCache("pods", server.list_body, server.watch_lines)
    cache.relist()
    [kept] = cache.items()
    assert "managedFields" not in kept["metadata"]
    assert kept["spec"] == pod["spec"]


def test_the_rendered_text_is_what_prometheus_client_writes() -> None:
    clock = FakeClock()
    collector = LiveMetrics(Cluster().objects, clock, pod_cgroup_series=True)
    registry = CollectorRegistry()
    registry.register(collector)
    generate_latest(registry)
    clock.now += 7.5
    assert render_text(collector.collect()) == generate_latest(registry)


def test_label_values_and_help_are_escaped_as_prometheus_client_does() -> None:
    gauge = GaugeMetricFamily("odd_values", 'Help with a \\ and a\nnewline "quoted".')
    gauge.add_sample(
        "odd_values", {"zeta": 'say "hi"', "alpha": "back\\slash", "mid": "two\nlines"}, 268435456.0
    )
    gauge.add_sample("odd_values", {"label.with.dots": "x"}, float("nan"))
    gauge.add_sample("odd_values", {}, 1e-7)
    counter = CounterMetricFamily("odd", "A counter.")
    counter.add_sample("odd_total", {"pod": "p"}, 12.5)

    class Families:
        def collect(self) -> list[Any]:
            return [gauge, counter]

    registry = CollectorRegistry()
    registry.register(Families())
    assert render_text([gauge, counter]) == generate_latest(registry)


def test_metrics_are_served_once_every_kind_is_listed() -> None:
    cache, _ = cluster_cache(Cluster())
    collector = LiveMetrics(cache.objects, FakeClock())
    server = metrics_server(collector, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.server_address[1]}/metrics"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url, timeout=10)
        assert refused.value.code == 503

        for kind in KINDS:
            cache.kinds[kind].relist()
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
            served = response.read()
        assert served == render_text(collector.collect())
        assert b'kube_pod_info{created_by_kind="ReplicaSet"' in served
    finally:
        server.shutdown()
        server.server_close()
