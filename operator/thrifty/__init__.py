"""Thrifty: a Kubernetes operator for cost-aware scaling and right-sizing."""

__all__ = ["API_VERSION", "FIELD_MANAGER", "GROUP", "VERSION", "__version__"]

GROUP = "thrifty.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
FIELD_MANAGER = "thrifty"

__version__ = "0.1.0"
