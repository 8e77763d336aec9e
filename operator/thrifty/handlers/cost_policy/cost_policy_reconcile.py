"""CostPolicy: check what the schema cannot (which policy is in use), report it."""

from __future__ import annotations

from typing import Any

import kopf

from thrifty import GROUP, VERSION
from thrifty.api.condition_types import COST_POLICY_CONDITIONS, CostPolicyCondition, CostPolicyReason
from thrifty.api.conditions import Observation
from thrifty.api.cost_policy import ACTIVE_COST_POLICY, CostPolicySpec, CostPolicyStatus
from thrifty.handlers.status_writer import Conclusions, committed, publish, reconcile_guard
from thrifty.settings import RESYNC_SECONDS

__all__ = ["reconcile_cost_policy"]

RESOURCE = (GROUP, VERSION, "costpolicies")


@kopf.on.resume(*RESOURCE)
@kopf.on.create(*RESOURCE)
@kopf.on.update(*RESOURCE, field="spec")
@kopf.timer(*RESOURCE, interval=RESYNC_SECONDS, initial_delay=RESYNC_SECONDS)
@committed("costpolicies")
@reconcile_guard(COST_POLICY_CONDITIONS, CostPolicyStatus)
def reconcile_cost_policy(body: kopf.Body, spec: kopf.Spec, name: str, patch: kopf.Patch, **_: Any) -> None:
    policy = CostPolicySpec.model_validate(dict(spec))
    status = CostPolicyStatus.model_validate(body.get("status") or {})
    publish(
        body,
        patch,
        COST_POLICY_CONDITIONS,
        status,
        Conclusions(prerequisites=[_in_use(name)]),
        ready=(CostPolicyReason.ACTIVE, f"prices in {policy.pricing.currency} apply to every workload"),
    )


def _in_use(name: str) -> Observation:
    if name != ACTIVE_COST_POLICY:
        return Observation(
            CostPolicyCondition.IN_USE,
            "False",
            CostPolicyReason.NOT_IN_USE,
            f"the operator prices with the CostPolicy named {ACTIVE_COST_POLICY!r}; "
            "rename this one to use it",
        )
    return Observation(
        CostPolicyCondition.IN_USE, "True", CostPolicyReason.IN_USE, "this CostPolicy sets the prices"
    )
