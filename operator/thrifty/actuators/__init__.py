"""Writes to the cluster as field manager ``thrifty``: workload replicas and resources, the status of
Thrifty's resources, Events, the operator's Lease, and the budget webhook."""

__all__ = [
    "leader_lease",
    "object_events",
    "status_writes",
    "webhook",
    "workload_replicas",
    "workload_resources",
]
