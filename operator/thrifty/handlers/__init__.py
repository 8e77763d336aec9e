"""kopf glue, one package per resource: read through sources, decide with the engine, write status or
call an actuator. Importing ``thrifty.handlers.registry`` registers every handler."""

__all__ = [
    "cluster_indexes",
    "cost_policy",
    "kopf_index_gate",
    "kopf_login",
    "kopf_setup",
    "leader_election",
    "operator_loop",
    "operator_metrics",
    "placement_plans",
    "pod_placement",
    "process_heap",
    "registry",
    "resource_budget",
    "round_cache",
    "runner",
    "scaling_policy",
    "status_writer",
]
