"""Pinned versions of the sandbox's components. The build cache is keyed by them."""

from typing import Final

# One Kubernetes minor for kube-apiserver, kube-controller-manager, kube-scheduler and kubectl.
KUBERNETES: Final = "v1.35.4"
# The etcd server this Kubernetes release is tested with (its go.mod requires it).
ETCD: Final = "v3.6.5"
KWOK: Final = "v0.8.0"
HELM: Final = "v3.22.0"
