"""Read a live cluster into the plain records the series generator takes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from kubernetes import client, config

from thrifty.engine.quantities import parse_quantity
from thrifty.sandbox.series import Container, Node, Pod


@dataclass(frozen=True)
class Inventory:
    pods: tuple[Pod, ...]
    nodes: tuple[Node, ...]


def read_inventory(kubeconfig: Path, namespace: str) -> Inventory:
    """Every running, scheduled pod of a Deployment in ``namespace``, and every node."""
    api = config.new_client_from_config(config_file=str(kubeconfig))
    with api:
        core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
        pods = core.list_namespaced_pod(namespace).items
        replicasets = apps.list_namespaced_replica_set(namespace).items
        nodes = core.list_node().items
    return build_inventory(pods, replicasets, nodes)


def build_inventory(
    pods: Iterable[client.V1Pod],
    replicasets: Iterable[client.V1ReplicaSet],
    nodes: Iterable[client.V1Node],
) -> Inventory:
    """The records for API objects already read; pods outside a Deployment are left out."""
    deployment_of = {
        replicaset.metadata.name: owner
        for replicaset in replicasets
        if replicaset.metadata is not None
        and replicaset.metadata.name
        and (owner := _controller(replicaset.metadata, "Deployment"))
    }
    records = []
    for pod in pods:
        meta, spec, status = pod.metadata, pod.spec, pod.status
        if meta is None or spec is None or status is None or not meta.name or not meta.namespace:
            continue
        if status.phase != "Running" or not spec.node_name:
            continue
        replicaset = _controller(meta, "ReplicaSet")
        if replicaset is None or replicaset not in deployment_of:
            continue
        records.append(
            Pod(
                namespace=meta.namespace,
                name=meta.name,
                node=spec.node_name,
                replicaset=replicaset,
                deployment=deployment_of[replicaset],
                containers=tuple(_container(container) for container in spec.containers),
                uid=meta.uid or "",
                pod_ip=status.pod_ip or "",
                host_ip=status.host_ip or "",
            )
        )
    node_records = [
        Node(name=node.metadata.name, labels=dict(node.metadata.labels or {}))
        for node in nodes
        if node.metadata is not None and node.metadata.name
    ]
    return Inventory(
        pods=tuple(sorted(records, key=lambda p: (p.namespace, p.name))),
        nodes=tuple(sorted(node_records, key=lambda n: n.name)),
    )


def _controller(meta: client.V1ObjectMeta, kind: str) -> str | None:
    for reference in meta.owner_references or []:
        if reference.controller and reference.kind == kind:
            return str(reference.name)
    return None


def _container(container: client.V1Container) -> Container:
    resources = container.resources
    requests: Mapping[str, str] = (resources.requests if resources else None) or {}
    limits: Mapping[str, str] = (resources.limits if resources else None) or {}
    return Container(
        name=container.name,
        image=container.image or "",
        cpu_request_cores=_quantity(requests.get("cpu")),
        cpu_limit_cores=_quantity(limits.get("cpu")),
        memory_request_bytes=_quantity(requests.get("memory")),
        memory_limit_bytes=_quantity(limits.get("memory")),
    )


def _quantity(value: str | None) -> float | None:
    return None if value is None else parse_quantity(value)
