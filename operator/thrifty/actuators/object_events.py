"""Events about Thrifty's and users' objects, posted as component ``thrifty``, aggregated as client-go's
recorder does: the same Event about the same object within ``AGGREGATION_SECONDS`` raises the count
and last time of the one already posted instead of posting another.

Posting never raises: an Event that cannot be written is logged, and the change it reports stands.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from kubernetes import client

from thrifty import FIELD_MANAGER
from thrifty.sources.kube import api_client

__all__ = ["AGGREGATION_SECONDS", "post_event"]

log = logging.getLogger(__name__)

AGGREGATION_SECONDS: Final = 600.0
_COMPONENT: Final = "thrifty"
# Cluster-scoped objects (ResourceBudget, CostPolicy) get their Events here, as kubectl looks for them.
_CLUSTER_SCOPED_EVENTS_NAMESPACE: Final = "default"
_MAX_REMEMBERED: Final = 10_000


class _Posted:
    def __init__(self) -> None:
        self.guard = threading.Lock()
        # (namespace, uid, type, reason, message) -> (Event name, count, when first posted)
        self.events: dict[tuple[str, str, str, str, str], tuple[str, int, float]] = {}

    def forget_old(self, now: float) -> None:
        if len(self.events) < _MAX_REMEMBERED:
            return
        for key, (_, _, first) in list(self.events.items()):
            if now - first > AGGREGATION_SECONDS:
                del self.events[key]


_POSTED = _Posted()


def post_event(obj: Mapping[str, Any], type: str, reason: str, message: str) -> None:
    """An Event of ``type`` (Normal or Warning) about ``obj`` (any object's body, or a reference
    with apiVersion, kind and metadata name, namespace, uid)."""
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace") or _CLUSTER_SCOPED_EVENTS_NAMESPACE
    key = (namespace, str(meta.get("uid", "")), type, reason, message[:1024])
    now = time.monotonic()
    stamp = datetime.now(UTC)
    api = client.CoreV1Api(api_client())
    try:
        with _POSTED.guard:
            _POSTED.forget_old(now)
            seen = _POSTED.events.get(key)
        if seen is not None and now - seen[2] < AGGREGATION_SECONDS:
            name, count, first = seen
            api.patch_namespaced_event(
                name,
                namespace,
                {"count": count + 1, "lastTimestamp": stamp.isoformat().replace("+00:00", "Z")},
                field_manager=FIELD_MANAGER,
            )
            with _POSTED.guard:
                _POSTED.events[key] = (name, count + 1, first)
            return
        name = f"{meta.get('name', 'object')}.{uuid.uuid4().hex[:16]}"[:253]
        api.create_namespaced_event(
            namespace,
            _event_body(obj, name, namespace, type, reason, key[4], stamp),
            field_manager=FIELD_MANAGER,
        )
        with _POSTED.guard:
            _POSTED.events[key] = (name, 1, now)
    except client.ApiException as err:
        if seen is not None and err.status == 404:
            # The Event expired (the API server keeps them an hour by default): post it afresh.
            with _POSTED.guard:
                _POSTED.events.pop(key, None)
            post_event(obj, type, reason, message)
            return
        log.warning(
            "Event %s about %s %s not posted: %s", reason, obj.get("kind"), meta.get("name"), err.reason
        )


def _event_body(
    obj: Mapping[str, Any], name: str, namespace: str, type: str, reason: str, message: str, stamp: datetime
) -> client.CoreV1Event:
    meta = obj.get("metadata") or {}
    return client.CoreV1Event(
        metadata=client.V1ObjectMeta(name=name, namespace=namespace),
        involved_object=client.V1ObjectReference(
            api_version=obj.get("apiVersion"),
            kind=obj.get("kind"),
            name=meta.get("name"),
            namespace=meta.get("namespace"),
            uid=meta.get("uid"),
        ),
        type=type,
        reason=reason,
        message=message,
        count=1,
        first_timestamp=stamp,
        last_timestamp=stamp,
        source=client.V1EventSource(component=_COMPONENT),
        reporting_component=_COMPONENT,
        reporting_instance=_COMPONENT,
    )
