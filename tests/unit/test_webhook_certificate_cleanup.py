"""A self-signed webhook certificate and its key do not outlive the operator that made them."""

from __future__ import annotations

from pathlib import Path

import kopf
import pytest

from thrifty.handlers.pod_placement.admission_server import remove_self_signed, serve_placement_webhook


def test_the_self_signed_key_is_removed_when_the_operator_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THRIFTY_WEBHOOK_PORT", "9443")
    monkeypatch.setenv("THRIFTY_WEBHOOK_CONFIGURATION", "none")
    monkeypatch.delenv("THRIFTY_WEBHOOK_CERT_DIR", raising=False)
    settings = kopf.OperatorSettings()
    serve_placement_webhook(settings=settings)
    server = settings.admission.server
    assert isinstance(server, kopf.WebhookServer)
    assert server.pkeyfile is not None
    key = Path(server.pkeyfile)
    assert key.exists()
    remove_self_signed()
    assert not key.parent.exists()
