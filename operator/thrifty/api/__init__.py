"""The API: pydantic models of the three resources (``thrifty crds`` generates crds/ from them),
their conditions, and the CRD generator."""

__all__ = [
    "common",
    "condition_types",
    "conditions",
    "cost_policy",
    "crdgen",
    "kinds",
    "resource_budget",
    "scaling_policy",
]
