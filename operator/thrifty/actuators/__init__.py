"""Writes to the cluster as field manager ``thrifty``: workload replicas and resources, and the
budget webhook."""

__all__ = [
    "policy_intents",
    "webhook",
    "workload_replicas",
    "workload_resources",
]
