"""ResourceBudget: check what the schema cannot (the webhook Secret and key exist), report it."""

from __future__ import annotations

from typing import Any

import kopf

from thrifty import GROUP, VERSION
from thrifty.api.conditions import Observation
from thrifty.api.resource_budget import ResourceBudgetSpec, ResourceBudgetStatus, Webhook
from thrifty.handlers.config import RESYNC_SECONDS
from thrifty.handlers.status import publish
from thrifty.sources.kube import secret_has_key

RESOURCE = (GROUP, VERSION, "resourcebudgets")


@kopf.on.resume(*RESOURCE)
@kopf.on.create(*RESOURCE)
@kopf.on.update(*RESOURCE, field="spec")
@kopf.timer(*RESOURCE, interval=RESYNC_SECONDS, initial_delay=RESYNC_SECONDS)
def reconcile_resource_budget(body: kopf.Body, spec: kopf.Spec, patch: kopf.Patch, **_: Any) -> None:
    budget = ResourceBudgetSpec.model_validate(dict(spec))
    observations = [_webhook_ready(budget.webhook)]
    publish(
        body,
        patch,
        ResourceBudgetStatus,
        observations,
        ready=("Accepted", f"{budget.amount:g} {budget.currency} per {budget.period.lower()} period"),
    )


def _webhook_ready(webhook: Webhook | None) -> Observation:
    if webhook is None:
        return Observation("WebhookReady", "True", "NoWebhook", "no webhook configured")
    ref = webhook.secret_ref
    where = f"key {ref.key!r} of Secret {ref.namespace}/{ref.name}"
    found = secret_has_key(ref.namespace, ref.name, ref.key)
    if found is None:
        return Observation("WebhookReady", "Unknown", "SecretUnreadable", f"could not read {where}")
    if not found:
        return Observation("WebhookReady", "False", "WebhookSecretNotFound", f"{where} does not exist")
    return Observation("WebhookReady", "True", "WebhookSecretFound", f"webhook URL is in {where}")
