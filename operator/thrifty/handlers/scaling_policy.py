"""ScalingPolicy: check what the schema cannot (the target exists, named containers exist), report it."""

from __future__ import annotations

from typing import Any

import kopf

from thrifty import GROUP, VERSION
from thrifty.api.conditions import Observation
from thrifty.api.scaling_policy import ScalingPolicySpec, ScalingPolicyStatus
from thrifty.handlers.config import RESYNC_SECONDS
from thrifty.handlers.status import publish
from thrifty.handlers.workloads import Workload, find_workload

RESOURCE = (GROUP, VERSION, "scalingpolicies")


@kopf.on.resume(*RESOURCE)
@kopf.on.create(*RESOURCE)
@kopf.on.update(*RESOURCE, field="spec")
@kopf.timer(*RESOURCE, interval=RESYNC_SECONDS, initial_delay=RESYNC_SECONDS)
def reconcile_scaling_policy(
    body: kopf.Body,
    spec: kopf.Spec,
    namespace: str | None,
    patch: kopf.Patch,
    **kwargs: Any,
) -> None:
    namespace = namespace or ""  # ScalingPolicy is namespaced
    # kopf passes each index as a keyword named after its indexing function.
    deployments: kopf.Index[Any, Any] = kwargs["deployments"]
    statefulsets: kopf.Index[Any, Any] = kwargs["statefulsets"]
    policy = ScalingPolicySpec.model_validate(dict(spec))
    target = policy.target_ref
    workload = find_workload([deployments, statefulsets], target.kind, namespace, target.name)
    observations = [_target_found(target.kind, namespace, target.name, workload)]
    if workload is not None:
        named = policy.vertical.containers if policy.vertical is not None else []
        observations.append(_containers_found(named, workload))
    fields = {"current_replicas": workload.replicas} if workload is not None else {}
    publish(
        body,
        patch,
        ScalingPolicyStatus,
        observations,
        ready=("Evaluated", f"{target.kind} {namespace}/{target.name} is managed in {policy.mode} mode"),
        fields=fields,
    )


def _target_found(kind: str, namespace: str, name: str, workload: Workload | None) -> Observation:
    if workload is None:
        return Observation(
            "TargetFound",
            "False",
            "TargetNotFound",
            f"{kind} {namespace}/{name} does not exist; the policy waits for it",
        )
    return Observation("TargetFound", "True", "TargetFound", f"{kind} {namespace}/{name} exists")


def _containers_found(names: list[str], workload: Workload) -> Observation:
    missing = sorted(set(names) - set(workload.containers))
    if missing:
        return Observation(
            "ContainersFound",
            "False",
            "ContainerNotFound",
            f"spec.vertical.containers names {', '.join(missing)}, which the pod template of "
            f"{workload.kind} {workload.namespace}/{workload.name} does not have "
            f"(it has {', '.join(workload.containers) or 'none'})",
        )
    return Observation("ContainersFound", "True", "ContainersFound", "every named container exists")
