"""Writes to the cluster as field manager ``thrifty``: workload replicas and resources, the status of
Thrifty's resources, Events, the operator's Lease, the budget webhook, pod
moves for placement, the placement webhook's configuration and node pools' weight, limits and
replicas."""

__all__ = [
    "admission_registration",
    "leader_lease",
    "node_pool_writes",
    "object_events",
    "pod_moves",
    "status_writes",
    "webhook",
    "workload_replicas",
    "workload_resources",
]
