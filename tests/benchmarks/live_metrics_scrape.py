"""Time one scrape of the sandbox's live metrics for thousands of pods; prints JSON.
``python tests/benchmarks/live_metrics_scrape.py [--pods 5000] [--pods-per-deployment 5]``

A script, not a test: it reports numbers and asserts none. The cluster is synthetic but in the API
server's own JSON shape (Deployments with load annotations, their ReplicaSets, Running pods with an
app and a sidecar container, KWOK nodes). Each kind's list body goes through the exporter's object
cache exactly as a list answer from the API server would (parsed once, as after a relist), and then
one scrape is timed as ``/metrics`` answers it: ``collect()`` and ``render_text``; the same scrape
through prometheus_client's ``generate_latest`` of a registry holding the collector is timed too.
The API server's own time to answer the list is left out: with the cache, a scrape makes no
request to it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.registry import CollectorRegistry

from thrifty.sandbox.live_load import CPU_ANNOTATION, MEMORY_ANNOTATION, REQUESTS_ANNOTATION
from thrifty.sandbox.live_metrics import LiveMetrics, render_text, tune_garbage_collector
from thrifty.sandbox.nodes import PODS_PER_NODE
from thrifty.sandbox.object_cache import KINDS, ClusterCache, ObjectCache

CREATED = "2026-01-01T12:00:00Z"


def _meta(
    namespace: str, name: str, uid: str, owner: tuple[str, str, str] | None = None, **extra: Any
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "uid": uid,
        "resourceVersion": "1000",
        "creationTimestamp": CREATED,
        **extra,
    }
    if owner is not None:
        kind, owner_name, owner_uid = owner
        meta["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": kind,
                "name": owner_name,
                "uid": owner_uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    return meta


def _containers() -> list[dict[str, Any]]:
    return [
        {
            "name": "app",
            "image": "registry.example/shop/app:1.4.2",
            "ports": [{"containerPort": 8080, "protocol": "TCP"}],
            "resources": {
                "requests": {"cpu": "250m", "memory": "256Mi"},
                "limits": {"cpu": "1", "memory": "512Mi"},
            },
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
            "imagePullPolicy": "IfNotPresent",
        },
        {
            "name": "sidecar",
            "image": "registry.example/mesh/proxy:1.22",
            "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
            "imagePullPolicy": "IfNotPresent",
        },
    ]


def _workload_spec(app: str, replicas: int) -> dict[str, Any]:
    """A Deployment's or ReplicaSet's spec: what the API returns besides the metadata that matters."""
    return {
        "replicas": replicas,
        "selector": {"matchLabels": {"app": app}},
        "template": {
            "metadata": {"labels": {"app": app, "pod-template-hash": "7d9f8c6b5"}},
            "spec": {"containers": _containers(), "restartPolicy": "Always", "dnsPolicy": "ClusterFirst"},
        },
    }


def _workload_status(replicas: int) -> dict[str, Any]:
    return {"observedGeneration": 1, "replicas": replicas, "readyReplicas": replicas}


def _pod(namespace: str, name: str, replicaset: tuple[str, str], node: str, index: int) -> dict[str, Any]:
    ip = f"10.{index // 65536 % 256}.{index // 256 % 256}.{index % 256}"
    containers = _containers()
    conditions = [
        {"type": kind, "status": "True", "lastProbeTime": None, "lastTransitionTime": CREATED}
        for kind in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")
    ]
    return {
        "metadata": _meta(
            namespace,
            name,
            f"pod-{index:08d}-0000-4000-8000-000000000000",
            ("ReplicaSet", *replicaset),
            generateName=name[: name.rfind("-") + 1],
            labels={"app": name.rsplit("-", 2)[0], "pod-template-hash": "7d9f8c6b5"},
        ),
        "spec": {
            "containers": containers,
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "default",
            "serviceAccount": "default",
            "nodeName": node,
            "securityContext": {},
            "schedulerName": "default-scheduler",
            "tolerations": [
                {"key": f"node.kubernetes.io/{t}", "operator": "Exists", "effect": "NoExecute"}
                for t in ("not-ready", "unreachable")
            ],
            "priority": 0,
            "enableServiceLinks": True,
            "preemptionPolicy": "PreemptLowerPriority",
        },
        "status": {
            "phase": "Running",
            "conditions": conditions,
            "hostIP": "10.200.0.1",
            "hostIPs": [{"ip": "10.200.0.1"}],
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "startTime": CREATED,
            "containerStatuses": [
                {
                    "name": c["name"],
                    "state": {"running": {"startedAt": CREATED}},
                    "ready": True,
                    "restartCount": 0,
                    "image": c["image"],
                    "imageID": "",
                    "started": True,
                }
                for c in containers
            ],
            "qosClass": "Burstable",
        },
    }


def cluster_lists(pods: int, per_deployment: int) -> dict[str, bytes]:
    """Each kind's list body, as the API server answers ``GET /api/v1/pods`` and the like."""
    deployments, replicasets, pod_items = [], [], []
    nodes = -(-pods // PODS_PER_NODE)
    for d in range(-(-pods // per_deployment)):
        namespace, name = f"team-{d % 40:02d}", f"svc-{d:04d}"
        deployment_uid = f"dep-{d:08d}-0000-4000-8000-000000000000"
        replicaset_uid = f"rs-{d:08d}-0000-4000-8000-000000000000"
        annotations = {
            "deployment.kubernetes.io/revision": "1",
            CPU_ANNOTATION: f"{100 * per_deployment}m",
            MEMORY_ANNOTATION: "300Mi",
            REQUESTS_ANNOTATION: "40",
        }
        spec, status = _workload_spec(name, per_deployment), _workload_status(per_deployment)
        deployments.append(
            {
                "metadata": _meta(namespace, name, deployment_uid, annotations=annotations),
                "spec": {**spec, "strategy": {"type": "RollingUpdate"}},
                "status": status,
            }
        )
        replicaset_meta = _meta(
            namespace, f"{name}-7d9f8c6b5", replicaset_uid, ("Deployment", name, deployment_uid)
        )
        replicasets.append({"metadata": replicaset_meta, "spec": spec, "status": status})
        for r in range(min(per_deployment, pods - len(pod_items))):
            index = len(pod_items)
            pod_items.append(
                _pod(
                    namespace,
                    f"{name}-7d9f8c6b5-{r:05d}",
                    (f"{name}-7d9f8c6b5", replicaset_uid),
                    f"kwok-on-demand-{index % nodes}",
                    index,
                )
            )
    node_items = [
        {
            "metadata": _meta(
                "",
                f"kwok-on-demand-{n}",
                f"node-{n:08d}-0000-4000-8000-000000000000",
                labels={
                    "type": "kwok",
                    "kubernetes.io/hostname": f"kwok-on-demand-{n}",
                    "node.kubernetes.io/instance-type": "m5.2xlarge",
                    "topology.kubernetes.io/zone": "us-east-1a",
                    "karpenter.sh/capacity-type": "on-demand",
                },
            )
        }
        for n in range(nodes)
    ]
    for node in node_items:
        del node["metadata"]["namespace"]
    items = {
        "pods": pod_items,
        "replicasets": replicasets,
        "deployments": deployments,
        "statefulsets": [],
        "nodes": node_items,
    }
    return {
        kind: json.dumps(
            {"kind": "List", "metadata": {"resourceVersion": "1000"}, "items": items[kind]}
        ).encode()
        for kind in KINDS
    }


def _median_seconds(run: Callable[[], object], times: int) -> float:
    seconds = []
    for _ in range(times):
        started = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - started)
    return round(statistics.median(seconds), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=5000)
    parser.add_argument("--pods-per-deployment", type=int, default=5)
    parser.add_argument("--scrapes", type=int, default=5, help="scrapes timed after a first, untimed one")
    args = parser.parse_args()

    tune_garbage_collector()  # as the exporter's process does
    bodies = cluster_lists(args.pods, args.pods_per_deployment)
    cache = ClusterCache(
        {kind: ObjectCache(kind, lambda body=body: body, lambda _: iter(())) for kind, body in bodies.items()}
    )
    started = time.perf_counter()
    for kind_cache in cache.kinds.values():
        kind_cache.relist()
    relist_seconds = time.perf_counter() - started

    collector = LiveMetrics(cache.objects)
    registry = CollectorRegistry()
    registry.register(collector)
    text = render_text(collector.collect())  # the first scrape starts every counter; later ones are steady
    families = list(collector.collect())
    print(
        json.dumps(
            {
                "pods": args.pods,
                "deployments": -(-args.pods // args.pods_per_deployment),
                "nodes": -(-args.pods // PODS_PER_NODE),
                "list_bytes": sum(len(body) for body in bodies.values()),
                "relist_seconds": round(relist_seconds, 3),
                "series": sum(len(family.samples) for family in families),
                "exposition_bytes": len(text),
                # What /metrics does per scrape: collect and render the text format.
                "scrape_seconds": _median_seconds(lambda: render_text(collector.collect()), args.scrapes),
                "collect_seconds": _median_seconds(lambda: list(collector.collect()), args.scrapes),
                # The same scrape through prometheus_client's own text exposition, for comparison.
                "generate_latest_seconds": _median_seconds(lambda: generate_latest(registry), args.scrapes),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
