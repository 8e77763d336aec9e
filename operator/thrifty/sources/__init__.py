"""Reads: Prometheus queries and Kubernetes objects, turned into the engine's records and arrays."""

__all__ = [
    "autoscalers",
    "kept_usage",
    "kube",
    "node_pool_objects",
    "opencost",
    "prometheus_http",
    "promql",
    "query_tenancy",
    "replica_metrics",
    "spend",
    "spend_arrays",
    "spend_promql",
    "usage",
    "workloads",
]
