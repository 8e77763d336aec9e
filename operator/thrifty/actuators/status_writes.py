"""Status writes to Thrifty's own resources, as field manager ``thrifty``, straight to the status
subresource: the status a round concluded, and a change's record just before it is made (the record
must be in the cluster before the change is)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from kubernetes import client

from thrifty import FIELD_MANAGER, GROUP, VERSION
from thrifty.api.scaling_policy import LastAction
from thrifty.sources.kube import api_client

__all__ = ["record_pending_action", "write_status"]


def write_status(plural: str, namespace: str | None, name: str, status: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON merge patch of ``status`` (a key set to None is removed); the object as written.
    Raises ``kubernetes.client.ApiException`` (404 when the object is gone)."""
    api = client.CustomObjectsApi(api_client())
    body = {"status": dict(status)}
    if namespace:
        written = api.patch_namespaced_custom_object_status(
            GROUP, VERSION, namespace, plural, name, body, field_manager=FIELD_MANAGER
        )
    else:
        written = api.patch_cluster_custom_object_status(
            GROUP, VERSION, plural, name, body, field_manager=FIELD_MANAGER
        )
    return cast(dict[str, Any], written)


def record_pending_action(
    namespace: str, policy: str, action: LastAction, done: LastAction | None = None
) -> None:
    """``done``: a resize the same round made just before, recorded as the last action and the last
    resize in the same write, so that the second action's intent never replaces the first one's
    record. Raises ``kubernetes.client.ApiException`` when it cannot be written: then nothing is
    changed."""
    status: dict[str, object] = {"pendingAction": action.to_wire()}
    if done is not None:
        status["lastAction"] = status["lastResize"] = done.to_wire()
    write_status("scalingpolicies", namespace, policy, status)
