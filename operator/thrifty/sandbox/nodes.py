"""Fake nodes kept Ready by KWOK, labelled as spot or on-demand capacity like Karpenter's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubernetes import client

CAPACITY_TYPE_LABEL = "karpenter.sh/capacity-type"
KWOK_ANNOTATION = {"kwok.x-k8s.io/node": "fake"}
MANAGED_LABEL = "thrifty.dev/sandbox-node"
# Not kwok://, which Karpenter's KWOK provider takes for its own nodes.
PROVIDER_ID_PREFIX = "thrifty-sandbox://"
REGION = "us-east-1"
ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
PODS_PER_NODE = 110  # the kubelet's default, and so every sandbox node's pod capacity


@dataclass(frozen=True)
class InstanceType:
    name: str
    cpu: int
    memory_gib: int


# What a cost-conscious EKS cluster commonly runs: general-purpose m5 for both capacity types.
SPOT_INSTANCE = InstanceType("m5.xlarge", 4, 16)
ON_DEMAND_INSTANCE = InstanceType("m5.2xlarge", 8, 32)


def node_manifest(name: str, capacity_type: str, instance: InstanceType, zone: str) -> dict[str, Any]:
    resources = {
        "cpu": str(instance.cpu),
        "memory": f"{instance.memory_gib}Gi",
        "pods": str(PODS_PER_NODE),
        "ephemeral-storage": "100Gi",
    }
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": dict(KWOK_ANNOTATION),
            "labels": {
                "type": "kwok",
                MANAGED_LABEL: "true",
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "node.kubernetes.io/instance-type": instance.name,
                "topology.kubernetes.io/region": REGION,
                "topology.kubernetes.io/zone": zone,
                CAPACITY_TYPE_LABEL: capacity_type,
                "karpenter.sh/nodepool": capacity_type,
            },
        },
        # As every real node has. Karpenter skips a node labelled karpenter.sh/nodepool that has none,
        # then never finds its view of the cluster complete and launches nothing.
        "spec": {"providerID": provider_id(name)},
        "status": {
            "allocatable": resources,
            "capacity": resources,
            "nodeInfo": {
                "architecture": "amd64",
                "operatingSystem": "linux",
                "kubeletVersion": "fake",
                "kubeProxyVersion": "fake",
            },
        },
    }


def provider_id(name: str) -> str:
    return PROVIDER_ID_PREFIX + name


def desired_nodes(spot: int, on_demand: int) -> list[dict[str, Any]]:
    wanted = [("spot", SPOT_INSTANCE, i) for i in range(spot)]
    wanted += [("on-demand", ON_DEMAND_INSTANCE, i) for i in range(on_demand)]
    return [
        node_manifest(f"kwok-{capacity}-{i}", capacity, instance, ZONES[i % len(ZONES)])
        for capacity, instance, i in wanted
    ]


def reconcile_nodes(api: client.CoreV1Api, spot: int, on_demand: int) -> list[str]:
    """Create the wanted nodes and delete sandbox nodes beyond the wanted counts; return the names."""
    wanted = {n["metadata"]["name"]: n for n in desired_nodes(spot, on_demand)}
    existing = {n.metadata.name: n for n in api.list_node(label_selector=f"{MANAGED_LABEL}=true").items}
    for name in sorted(existing.keys() - wanted.keys()):
        api.delete_node(name)
    for name in sorted(wanted.keys() - existing.keys()):
        api.create_node(wanted[name])
    for name in sorted(wanted.keys() & existing.keys()):
        # Nodes of a sandbox made before they had one; a providerID can be set once, never changed.
        if not existing[name].spec.provider_id:
            api.patch_node(name, {"spec": {"providerID": provider_id(name)}})
    return sorted(wanted)


def ready_node_names(api: client.CoreV1Api) -> set[str]:
    ready = set()
    for node in api.list_node(label_selector=f"{MANAGED_LABEL}=true").items:
        conditions = node.status.conditions or []
        if any(c.type == "Ready" and c.status == "True" for c in conditions):
            ready.add(node.metadata.name)
    return ready
