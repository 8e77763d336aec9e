"""CostPolicy: check what the schema cannot (which policy is in use), report it."""

from __future__ import annotations

from typing import Any

import kopf

from thrifty import GROUP, VERSION
from thrifty.api.conditions import Observation
from thrifty.api.cost_policy import CostPolicySpec, CostPolicyStatus
from thrifty.handlers.config import RESYNC_SECONDS
from thrifty.handlers.status import publish

RESOURCE = (GROUP, VERSION, "costpolicies")
ACTIVE_NAME = "default"


@kopf.on.resume(*RESOURCE)
@kopf.on.create(*RESOURCE)
@kopf.on.update(*RESOURCE, field="spec")
@kopf.timer(*RESOURCE, interval=RESYNC_SECONDS, initial_delay=RESYNC_SECONDS)
def reconcile_cost_policy(body: kopf.Body, spec: kopf.Spec, name: str, patch: kopf.Patch, **_: Any) -> None:
    policy = CostPolicySpec.model_validate(dict(spec))
    publish(
        body,
        patch,
        CostPolicyStatus,
        [_in_use(name)],
        ready=("Active", f"prices in {policy.pricing.currency} apply to every workload"),
    )


def _in_use(name: str) -> Observation:
    # Exactly one price list must win, and a fixed name makes the choice visible in Git.
    if name != ACTIVE_NAME:
        return Observation(
            "InUse",
            "False",
            "NotInUse",
            f"the operator prices with the CostPolicy named {ACTIVE_NAME!r}; rename this one to use it",
        )
    return Observation("InUse", "True", "InUse", "this CostPolicy sets the prices")
