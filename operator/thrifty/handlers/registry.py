"""Every kopf handler of Thrifty: importing this module registers them. `thrifty run` loads it, and
so does `kopf run -m thrifty.handlers.registry`."""

from thrifty.handlers import (
    cluster_indexes,
    cost_policy,
    kopf_login,
    kopf_setup,
    pod_placement,
    resource_budget,
    scaling_policy,
)

__all__ = [
    "cluster_indexes",
    "cost_policy",
    "kopf_login",
    "kopf_setup",
    "pod_placement",
    "resource_budget",
    "scaling_policy",
]
