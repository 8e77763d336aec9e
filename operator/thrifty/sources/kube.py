"""The Kubernetes API client for the operator's blocking reads and writes (run off kopf's event loop)."""

from __future__ import annotations

import base64
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


class SecretUnreadableError(RuntimeError):
    pass


def secret_value(namespace: str, name: str, key: str) -> str | None:
    """The decoded value of `key` in the Secret; None when the Secret or the key does not exist.
    Raises SecretUnreadableError when the API cannot say (forbidden, unreachable)."""
    try:
        secret = client.CoreV1Api(api_client()).read_namespaced_secret(name, namespace)
    except client.ApiException as err:
        if err.status == 404:
            return None
        raise SecretUnreadableError(f"Secret {namespace}/{name}: {err.reason}") from err
    if key in (secret.string_data or {}):
        return str(secret.string_data[key])
    encoded = (secret.data or {}).get(key)
    return None if encoded is None else base64.b64decode(encoded).decode().strip()


def secret_has_key(namespace: str, name: str, key: str) -> bool | None:
    """Whether the Secret exists and carries `key`: True/False, or None if the API could not say."""
    try:
        return secret_value(namespace, name, key) is not None
    except SecretUnreadableError:
        return None
