"""The operator's Lease (coordination.k8s.io/v1): read it, take it, renew it, let it go. Every write
carries the resourceVersion read, so two replicas racing for it cannot both win (one gets 409)."""

from __future__ import annotations

from datetime import UTC, datetime

from kubernetes import client

from thrifty import FIELD_MANAGER
from thrifty.engine.leader_lease import LeaseRecord, LeaseTiming
from thrifty.sources.kube import api_client

__all__ = ["LeaseRef", "read_lease", "release_lease", "write_lease"]


class LeaseRef:
    def __init__(self, namespace: str, name: str) -> None:
        self.namespace, self.name = namespace, name
        self.api = client.CoordinationV1Api(api_client())

    def read(self) -> client.V1Lease | None:
        try:
            return self.api.read_namespaced_lease(self.name, self.namespace)
        except client.ApiException as err:
            if err.status == 404:
                return None
            raise


def read_lease(ref: LeaseRef) -> tuple[client.V1Lease | None, LeaseRecord | None]:
    lease = ref.read()
    if lease is None:
        return None, None
    holder = (lease.spec.holder_identity if lease.spec else None) or ""
    return lease, LeaseRecord(holder, str(lease.metadata.resource_version))


def write_lease(ref: LeaseRef, lease: client.V1Lease | None, me: str, timing: LeaseTiming) -> None:
    """Hold the lease as ``me`` from now (take it, or renew it). Raises ApiException: 409 when
    someone else wrote it since it was read."""
    now = datetime.now(UTC)
    if lease is None:
        body = client.V1Lease(
            metadata=client.V1ObjectMeta(name=ref.name, namespace=ref.namespace),
            spec=client.V1LeaseSpec(
                holder_identity=me,
                lease_duration_seconds=int(timing.duration_seconds),
                acquire_time=now,
                renew_time=now,
                lease_transitions=0,
            ),
        )
        ref.api.create_namespaced_lease(ref.namespace, body, field_manager=FIELD_MANAGER)
        return
    spec = lease.spec or client.V1LeaseSpec()
    if spec.holder_identity != me:
        spec.acquire_time = now
        spec.lease_transitions = (spec.lease_transitions or 0) + 1
    spec.holder_identity = me
    spec.lease_duration_seconds = int(timing.duration_seconds)
    spec.renew_time = now
    lease.spec = spec
    ref.api.replace_namespaced_lease(ref.name, ref.namespace, lease, field_manager=FIELD_MANAGER)


def release_lease(ref: LeaseRef, me: str) -> None:
    """Let the lease go at once (on a clean stop), so the standby need not wait for it to expire."""
    lease, record = read_lease(ref)
    if lease is None or record is None or record.holder != me:
        return
    assert lease.spec is not None
    lease.spec.holder_identity = ""
    lease.spec.lease_duration_seconds = 1
    ref.api.replace_namespaced_lease(ref.name, ref.namespace, lease, field_manager=FIELD_MANAGER)
