"""Record a change in the ScalingPolicy's status just before making it, as field manager `thrifty`.

Written straight to the status subresource, not through kopf's patch (which is sent only when the
handler returns): the record must be in the cluster before the change is."""

from __future__ import annotations

from kubernetes import client

from thrifty import FIELD_MANAGER, GROUP, VERSION
from thrifty.api.scaling_policy import LastAction
from thrifty.sources.kube import api_client

__all__ = ["record_pending_action"]


def record_pending_action(namespace: str, policy: str, action: LastAction) -> None:
    """Raises ``kubernetes.client.ApiException`` when it cannot be written: then nothing is changed."""
    client.CustomObjectsApi(api_client()).patch_namespaced_custom_object_status(
        GROUP,
        VERSION,
        namespace,
        "scalingpolicies",
        policy,
        {"status": {"pendingAction": action.to_wire()}},
        field_manager=FIELD_MANAGER,
    )
