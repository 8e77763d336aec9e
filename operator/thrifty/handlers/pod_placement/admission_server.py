"""The webhook server (kopf's) that the pod placement webhook runs on, and its configuration.

``thrifty run`` serves it on ``THRIFTY_WEBHOOK_ADDRESS:THRIFTY_WEBHOOK_PORT`` (127.0.0.1:9443 by
default, which the sandbox's API server reaches), with the certificate in
``THRIFTY_WEBHOOK_CERT_DIR`` or a self-signed one made at start-up, and writes the
MutatingWebhookConfiguration itself unless ``THRIFTY_WEBHOOK_CONFIGURATION=none`` (a Helm install
writes its own, pointing at a Service). Port 0 serves nothing: new pods are not placed, and the
evaluation round still corrects the mix one pod at a time.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import kopf
from kubernetes.client import ApiException

from thrifty.actuators.admission_registration import (
    placement_webhook_configuration,
    write_webhook_configuration,
)
from thrifty.handlers.pod_placement.serving_certificate import self_signed
from thrifty.settings import WebhookSettings

__all__ = ["PLACE_POD", "remove_self_signed", "serve_placement_webhook"]

log = logging.getLogger(__name__)

PLACE_POD = "place-pod"  # the handler's id, and so its path on the server
_NEVER_PLACED = ("kube-system",)
# The directories of this process's self-signed certificate and key, removed when it stops.
_SELF_SIGNED: list[Path] = []


async def _no_server(_: kopf.WebhookFn) -> AsyncIterator[kopf.WebhookClientConfig]:
    await asyncio.Event().wait()
    yield kopf.WebhookClientConfig()


class _QuietAdmissions(logging.Filter):
    """kopf logs every admission it answers; at one a pod, the round's own log would drown."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(f"Webhook {PLACE_POD!r} succeeded")


@kopf.on.startup()
def serve_placement_webhook(settings: kopf.OperatorSettings, **_: Any) -> None:
    webhook = WebhookSettings.from_env()
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("kopf.objects").addFilter(_QuietAdmissions())
    if webhook.port == 0:
        log.info("pod placement webhook off (THRIFTY_WEBHOOK_PORT=0): new pods are not placed")
        settings.admission.server = _no_server
        return
    if webhook.cert_dir is not None:
        cert, key = webhook.cert_dir / "tls.crt", webhook.cert_dir / "tls.key"
        ca_file = webhook.cert_dir / "ca.crt"
        ca = ca_file.read_bytes() if ca_file.exists() else cert.read_bytes()
    else:
        directory = Path(tempfile.mkdtemp(prefix="thrifty-webhook-"))
        _SELF_SIGNED.append(directory)
        cert, key = self_signed(directory, webhook.host)
        ca = cert.read_bytes()
    settings.admission.server = kopf.WebhookServer(
        addr=webhook.address, port=webhook.port, host=webhook.host, certfile=str(cert), pkeyfile=str(key)
    )
    settings.admission.managed = None
    url = f"https://{webhook.host}:{webhook.port}"
    if not webhook.write_configuration:
        log.info("pod placement webhook on %s/%s; its configuration is the installer's", url, PLACE_POD)
        return
    excluded = [*_NEVER_PLACED, *([webhook.own_namespace] if webhook.own_namespace else [])]
    try:
        write_webhook_configuration(placement_webhook_configuration(url, ca, excluded, f"/{PLACE_POD}"))
    except ApiException as err:
        # Placement of new pods is then off; everything else runs, and the pods are created anyway.
        log.warning("could not write the pod placement webhook configuration: %s %s", err.status, err.reason)
        return
    log.info("pod placement webhook on %s/%s, never for namespaces %s", url, PLACE_POD, ", ".join(excluded))


@kopf.on.cleanup()
def remove_self_signed(**_: Any) -> None:
    """The self-signed key does not outlive the process that made it (a killed one's stays)."""
    while _SELF_SIGNED:
        shutil.rmtree(_SELF_SIGNED.pop(), ignore_errors=True)
