"""The Kubernetes API client for the operator's blocking reads and writes (run off kopf's event loop)."""

from __future__ import annotations

import functools

from kubernetes import client, config


@functools.cache
def api_client() -> client.ApiClient:
    """In a pod, the service account; elsewhere, $KUBECONFIG or ~/.kube/config, as kubectl does."""
    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    return client.ApiClient()


def secret_has_key(namespace: str, name: str, key: str) -> bool | None:
    """Whether the Secret exists and carries `key`: True/False, or None if the API could not say."""
    try:
        secret = client.CoreV1Api(api_client()).read_namespaced_secret(name, namespace)
    except client.ApiException as err:
        if err.status == 404:
            return False
        return None
    return key in (secret.data or {}) or key in (secret.string_data or {})
