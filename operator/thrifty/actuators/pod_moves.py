"""Take a pod off its capacity type so that its controller creates it again where the webhook sends
it: by eviction, which the PodDisruptionBudget governs, or, for a pod that never got a node, by
deletion (it serves nothing, so no budget is spent on it)."""

from __future__ import annotations

from kubernetes import client

from thrifty import FIELD_MANAGER
from thrifty.sources.kube import api_client

__all__ = ["delete_waiting_pod", "evict_pod"]


def evict_pod(namespace: str, name: str) -> None:
    """Raises ``ApiException`` 429 when the PodDisruptionBudget allows no disruption now."""
    eviction = client.V1Eviction(metadata=client.V1ObjectMeta(name=name, namespace=namespace))
    client.CoreV1Api(api_client()).create_namespaced_pod_eviction(
        name, namespace, eviction, field_manager=FIELD_MANAGER
    )


def delete_waiting_pod(namespace: str, name: str) -> None:
    # The precondition keeps a pod that was scheduled meanwhile out of it: the delete then fails (409).
    core = client.CoreV1Api(api_client())
    pod = core.read_namespaced_pod(name, namespace)
    if pod.spec.node_name:
        raise client.ApiException(status=409, reason=f"pod {name} got a node meanwhile")
    core.delete_namespaced_pod(
        name,
        namespace,
        body=client.V1DeleteOptions(preconditions=client.V1Preconditions(uid=pod.metadata.uid)),
    )
