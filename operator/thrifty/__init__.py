"""Thrifty: a Kubernetes operator for cost-aware scaling and right-sizing."""

GROUP = "thrifty.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
FIELD_MANAGER = "thrifty"

__version__ = "0.1.0"
