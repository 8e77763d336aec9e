"""The cluster's objects as the API server's JSON, kept current by a list and then a watch per kind.

A scrape of live metrics reads this cache and makes no request: listing and deserializing thousands
of pods at every scrape took longer than Prometheus waits. Each kind is listed once (its JSON parsed
into plain dicts, not client models), then watched from the list's resourceVersion. A watch that
ends normally (the server's timeout) is resumed from the last resourceVersion seen; a watch that
breaks, or whose resourceVersion is too old (410 Gone), falls back to a relist, which replaces the
kind's objects wholesale so that nothing deleted in the gap survives.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Final

from kubernetes import client
from kubernetes.watch.watch import iter_resp_lines

from thrifty.sandbox.live_load import ApiObject, ClusterObjects

log = logging.getLogger(__name__)

KINDS: Final = ("pods", "replicasets", "deployments", "statefulsets", "nodes")
LIST_TIMEOUT_SECONDS = 60.0  # a relist of thousands of pods on a busy machine; not on a scrape's path
WATCH_SECONDS = 300  # the server ends each watch after this; it is then resumed
WATCH_READ_TIMEOUT_SECONDS = WATCH_SECONDS + 30.0  # a server that stops talking mid-watch is a broken watch
RETRY_SECONDS = 1.0
SYNC_TIMEOUT_SECONDS = 120.0

ListBody = Callable[[], bytes]  # the JSON body of a list request
WatchLines = Callable[[str], Iterable[str | bytes]]  # a watch's event lines from a resourceVersion


class WatchExpiredError(Exception):
    """The watch's resourceVersion is older than the server keeps (410 Gone): relist."""


class WatchFailedError(Exception):
    """The server ended the watch with an error event other than 410."""


class NotSyncedError(Exception):
    """A kind has not been listed yet; metrics from part of the cluster would mislead."""


class ObjectCache:
    """The current objects of one kind, keyed by namespace and name."""

    def __init__(self, kind: str, list_body: ListBody, watch_lines: WatchLines) -> None:
        self.kind = kind
        self._list_body = list_body
        self._watch_lines = watch_lines
        self._objects: dict[tuple[str, str], ApiObject] = {}
        self._lock = threading.Lock()
        self.synced = threading.Event()
        self.relists = 0

    def items(self) -> list[ApiObject]:
        if not self.synced.is_set():
            raise NotSyncedError(f"{self.kind} not listed yet")
        with self._lock:
            return list(self._objects.values())

    def relist(self) -> str:
        """Replace every object with a fresh list; return the list's resourceVersion."""
        body = json.loads(self._list_body())
        objects = {_key(item): _trimmed(item) for item in body.get("items") or ()}
        with self._lock:
            self._objects = objects
        self.relists += 1
        self.synced.set()
        return str(body["metadata"]["resourceVersion"])

    def follow(self, resource_version: str) -> str:
        """Apply one watch's events; return the resourceVersion to resume from when it ends."""
        for line in self._watch_lines(resource_version):
            if not line or line.isspace():
                continue
            event = json.loads(line)
            kind, item = event["type"], event["object"]
            if kind == "ERROR":
                if item.get("code") == 410:
                    raise WatchExpiredError(item.get("message", ""))
                raise WatchFailedError(f"{item.get('code')} {item.get('reason')}: {item.get('message')}")
            resource_version = str(item["metadata"]["resourceVersion"])
            if kind == "BOOKMARK":
                continue
            with self._lock:
                if kind == "DELETED":
                    self._objects.pop(_key(item), None)
                else:
                    self._objects[_key(item)] = _trimmed(item)
        return resource_version

    def run(self, stop: threading.Event, retry_seconds: float = RETRY_SECONDS) -> None:
        """List, then watch until ``stop``; relist after any watch that cannot be resumed."""
        resource_version: str | None = None
        while not stop.is_set():
            try:
                if resource_version is None:
                    resource_version = self.relist()
                resource_version = self.follow(resource_version)
            except WatchExpiredError:
                log.info("%s: watch expired; relisting", self.kind)
                resource_version = None
            except Exception as error:
                # Any other break (connection refused, read timeout, bad event) may have lost events.
                log.warning("%s: %s: %s; relisting", self.kind, type(error).__name__, error)
                resource_version = None
                stop.wait(retry_seconds)


def _key(item: Mapping[str, Any]) -> tuple[str, str]:
    meta = item["metadata"]
    return meta.get("namespace", ""), meta["name"]


def _trimmed(item: ApiObject) -> ApiObject:
    # managedFields are often half an object's size, and nothing here reads them.
    meta = item.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        meta = {k: v for k, v in meta.items() if k != "managedFields"}
        return {**item, "metadata": meta}
    return item


class ClusterCache:
    """One ObjectCache per kind the live metrics read, each kept by a thread of its own."""

    def __init__(self, kinds: Mapping[str, ObjectCache]) -> None:
        if set(kinds) != set(KINDS):
            raise ValueError(f"need exactly {KINDS}, got {sorted(kinds)}")
        self.kinds = dict(kinds)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @classmethod
    def for_api(cls, api: client.ApiClient) -> ClusterCache:
        core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
        lists = {
            "pods": core.list_pod_for_all_namespaces,
            "replicasets": apps.list_replica_set_for_all_namespaces,
            "deployments": apps.list_deployment_for_all_namespaces,
            "statefulsets": apps.list_stateful_set_for_all_namespaces,
            "nodes": core.list_node,
        }
        return cls({kind: ObjectCache(kind, _list_body(f), _watch_lines(f)) for kind, f in lists.items()})

    def start(self) -> None:
        for kind, cache in self.kinds.items():
            thread = threading.Thread(target=cache.run, args=(self._stop,), name=f"watch-{kind}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()

    def wait_synced(self, timeout: float = SYNC_TIMEOUT_SECONDS) -> bool:
        return all(cache.synced.wait(timeout) for cache in self.kinds.values())

    def objects(self) -> ClusterObjects:
        return ClusterObjects(**{kind: cache.items() for kind, cache in self.kinds.items()})


def _list_body(list_function: Callable[..., Any]) -> ListBody:
    def body() -> bytes:
        response = list_function(_preload_content=False, _request_timeout=LIST_TIMEOUT_SECONDS)
        try:
            data: bytes = response.data
            return data
        finally:
            response.release_conn()

    return body


def _watch_lines(list_function: Callable[..., Any]) -> WatchLines:
    def lines(resource_version: str) -> Iterator[str]:
        response = list_function(
            watch=True,
            resource_version=resource_version,
            allow_watch_bookmarks=True,
            timeout_seconds=WATCH_SECONDS,
            _preload_content=False,
            _request_timeout=(10.0, WATCH_READ_TIMEOUT_SECONDS),
        )
        try:
            yield from iter_resp_lines(response)
        finally:
            response.close()
            response.release_conn()

    return lines
