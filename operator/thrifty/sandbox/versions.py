"""Pinned versions of the sandbox's components. The build cache is keyed by them."""

from typing import Final

# One Kubernetes minor for kube-apiserver, kube-controller-manager, kube-scheduler and kubectl.
KUBERNETES: Final = "v1.35.4"
# The etcd server this Kubernetes release is tested with (its go.mod requires it).
ETCD: Final = "v3.6.5"
KWOK: Final = "v0.8.0"
HELM: Final = "v3.22.0"
# Karpenter's own KWOK cloud provider (sigs.k8s.io/karpenter/kwok): built only for
# `up --karpenter` and `build --karpenter`.
KARPENTER: Final = "v1.15.0"
# Its go.mod asks for this Go; the proxy serves the toolchain when the machine's Go is older.
KARPENTER_GO_TOOLCHAIN: Final = "go1.26.9"
# Only the MachineDeployment CRD is taken from it; no Cluster API controller runs in the sandbox.
CLUSTER_API: Final = "v1.14.2"
