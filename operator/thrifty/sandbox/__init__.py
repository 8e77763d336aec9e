"""The local sandbox: a control plane built from Go modules, KWOK nodes, Prometheus and live pod
metrics, for tests and the demo."""

__all__ = [
    "backfill",
    "build",
    "cluster",
    "command",
    "components",
    "demo_data",
    "inventory",
    "karpenter",
    "live_load",
    "live_metrics",
    "nodes",
    "object_cache",
    "paths",
    "pki",
    "processes",
    "prometheus",
    "readiness",
    "series",
    "third_party_crds",
    "traces",
    "versions",
]
