"""The MutatingWebhookConfiguration of the pod placement webhook, written by server-side apply as
field manager ``thrifty`` (``thrifty run --webhook-configuration=write``; a Helm install writes its
own instead).

It fails open (``failurePolicy: Ignore``): while Thrifty does not answer, pods are created as if it
were not installed. It never sees pods of kube-system or of the operator's own namespace.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any, Final

from kubernetes import client

from thrifty import FIELD_MANAGER
from thrifty.sources.kube import api_client

__all__ = [
    "WEBHOOK_CONFIGURATION",
    "placement_webhook_configuration",
    "write_webhook_configuration",
]

WEBHOOK_CONFIGURATION: Final = "thrifty-pod-placement"
TIMEOUT_SECONDS: Final = 5


def placement_webhook_configuration(
    url: str, ca_bundle: bytes, excluded_namespaces: Sequence[str], path: str
) -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": WEBHOOK_CONFIGURATION, "labels": {"app.kubernetes.io/name": "thrifty"}},
        "webhooks": [
            {
                "name": "pod-placement.thrifty.dev",
                "admissionReviewVersions": ["v1"],
                "sideEffects": "None",
                "failurePolicy": "Ignore",
                "timeoutSeconds": TIMEOUT_SECONDS,
                "reinvocationPolicy": "Never",
                "matchPolicy": "Equivalent",
                "clientConfig": {
                    "url": url.rstrip("/") + path,
                    "caBundle": base64.b64encode(ca_bundle).decode("ascii"),
                },
                "rules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["pods"],
                        "scope": "Namespaced",
                    }
                ],
                "namespaceSelector": {
                    "matchExpressions": [
                        {
                            "key": "kubernetes.io/metadata.name",
                            "operator": "NotIn",
                            "values": sorted(set(excluded_namespaces)),
                        }
                    ]
                },
            }
        ],
    }


def write_webhook_configuration(configuration: dict[str, Any]) -> None:
    client.AdmissionregistrationV1Api(api_client()).patch_mutating_webhook_configuration(
        WEBHOOK_CONFIGURATION,
        configuration,
        field_manager=FIELD_MANAGER,
        force=True,
        _content_type="application/apply-patch+yaml",
    )
