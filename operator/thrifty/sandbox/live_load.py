"""Made-up but consistent load for the sandbox's KWOK pods, which run nothing.

A Deployment or StatefulSet states its load with annotations on its own metadata (not on the pod
template, so changing one restarts no pod; the next scrape reports the new load):

``sandbox.thrifty.dev/cpu``
    CPU the whole workload uses, a Kubernetes quantity ("1500m" or "1.5"). It is split evenly over
    the workload's Running pods, as a load balancer would, so scaling out lowers each pod's use.
    Within a pod, containers share it in proportion to their CPU requests (equally when none has
    one), and a container with a CPU limit is throttled at it: the excess is lost, not moved.
``sandbox.thrifty.dev/memory``
    Working set of each pod ("300Mi"), shared by its containers in proportion to their memory
    requests (equally when none has one); a container stays at its memory limit, as the kernel
    keeps it (OOM kills are not simulated).
``sandbox.thrifty.dev/requests-per-second``
    Requests per second of the whole workload ("250"), split evenly over its Running pods.

Each annotation turns on its own series: a workload with only the CPU annotation has a CPU counter
and no working set. A value that is not a non-negative quantity is ignored, with a problem reported.
A Running pod counts unless it is being deleted (a Service stops sending it traffic then).

Only computation lives here, on API objects already read (as the API server's JSON);
``object_cache`` keeps them and ``live_metrics`` serves them.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar, cast

from thrifty.engine.quantities import parse_quantity
from thrifty.sandbox.series import Container, Node, Pod

CPU_ANNOTATION: Final = "sandbox.thrifty.dev/cpu"
MEMORY_ANNOTATION: Final = "sandbox.thrifty.dev/memory"
REQUESTS_ANNOTATION: Final = "sandbox.thrifty.dev/requests-per-second"

WorkloadKey = tuple[str, str, str]  # (namespace, kind, name): a Deployment or StatefulSet
PodKey = tuple[str, str, str]  # (namespace, name, uid): a pod recreated under its old name is a new pod


@dataclass(frozen=True)
class Owner:
    kind: str
    name: str
    controller: bool


@dataclass(frozen=True)
class LivePod:
    """A scheduled, Running pod and what kube-state-metrics says about it beyond ``series.Pod``."""

    pod: Pod
    owners: tuple[Owner, ...]
    workload: WorkloadKey | None  # the Deployment (through its ReplicaSet) or StatefulSet
    terminating: bool = False
    priority_class: str = ""
    host_network: bool = False

    @property
    def key(self) -> PodKey:
        return self.pod.namespace, self.pod.name, self.pod.effective_uid


@dataclass(frozen=True)
class Load:
    """A workload's annotations as numbers; None where the annotation is absent or invalid."""

    cpu_cores: float | None = None  # the whole workload
    memory_bytes: float | None = None  # each pod
    requests_per_second: float | None = None  # the whole workload


def parse_load(annotations: Mapping[str, str] | None) -> tuple[Load, list[str]]:
    """The load annotations, and a note for each value that is not a non-negative quantity."""
    values: list[float | None] = []
    problems = []
    for key in (CPU_ANNOTATION, MEMORY_ANNOTATION, REQUESTS_ANNOTATION):
        text = (annotations or {}).get(key)
        try:
            value = None if text is None else parse_quantity(text)
        except ValueError:
            value = math.nan
        if value is not None and not (math.isfinite(value) and value >= 0):
            problems.append(f"{key}={text!r} is not a non-negative quantity; ignored")
            value = None
        values.append(value)
    return Load(*values), problems


ApiObject = Mapping[str, Any]  # an object as the API server's JSON has it (camelCase keys)


@dataclass(frozen=True)
class ClusterObjects:
    pods: Sequence[ApiObject]
    replicasets: Sequence[ApiObject]
    deployments: Sequence[ApiObject]
    statefulsets: Sequence[ApiObject]
    nodes: Sequence[ApiObject]


@dataclass(frozen=True)
class Snapshot:
    pods: tuple[LivePod, ...]  # scheduled and Running
    replicasets: tuple[tuple[str, str, tuple[Owner, ...]], ...]  # (namespace, name, owners)
    nodes: tuple[Node, ...]
    loads: dict[WorkloadKey, Load]  # workloads with at least one valid load annotation
    problems: tuple[str, ...]  # invalid load annotations


def snapshot(objects: ClusterObjects) -> Snapshot:
    """The records the metrics are made of."""
    replicasets = tuple(
        (m["namespace"], m["name"], _owners(m))
        for m in _metadata(objects.replicasets)
        if m.get("name") and m.get("namespace")
    )
    deployment_of = {
        (namespace, name): o.name
        for namespace, name, owners in replicasets
        for o in owners
        if o.controller and o.kind == "Deployment"
    }
    loads: dict[WorkloadKey, Load] = {}
    problems: list[str] = []
    for kind, workloads in (("Deployment", objects.deployments), ("StatefulSet", objects.statefulsets)):
        for meta in _metadata(workloads):
            load, issues = parse_load(meta.get("annotations"))
            problems += [f"{kind} {meta.get('namespace')}/{meta.get('name')}: {issue}" for issue in issues]
            if load != Load():
                loads[(meta.get("namespace", ""), kind, meta.get("name", ""))] = load
    pods = []
    for item in objects.pods:
        pod_meta, spec, status = item.get("metadata"), item.get("spec"), item.get("status")
        if not (pod_meta and spec and status and status.get("phase") == "Running" and spec.get("nodeName")):
            continue
        meta = cast(Mapping[str, Any], pod_meta)
        namespace = meta.get("namespace", "")
        owners = _owners(meta)
        controller = next((o for o in owners if o.controller), Owner("", "", True))
        replicaset = controller.name if controller.kind == "ReplicaSet" else ""
        deployment = deployment_of.get((namespace, replicaset), "")
        workload: WorkloadKey | None = None
        if deployment:
            workload = (namespace, "Deployment", deployment)
        elif controller.kind == "StatefulSet":
            workload = (namespace, "StatefulSet", controller.name)
        record = Pod(
            namespace,
            meta.get("name", ""),
            spec["nodeName"],
            replicaset,
            deployment,
            tuple(_container(c) for c in spec.get("containers") or ()),
            meta.get("uid") or "",
            status.get("podIP") or "",
            status.get("hostIP") or "",
        )
        terminating = meta.get("deletionTimestamp") is not None
        priority_class, host_network = spec.get("priorityClassName") or "", bool(spec.get("hostNetwork"))
        pods.append(LivePod(record, owners, workload, terminating, priority_class, host_network))
    nodes = tuple(
        Node(m["name"], dict(m.get("labels") or {})) for m in _metadata(objects.nodes) if m.get("name")
    )
    return Snapshot(tuple(pods), replicasets, nodes, loads, tuple(problems))


def _metadata(objects: Sequence[ApiObject]) -> list[Mapping[str, Any]]:
    return [o["metadata"] for o in objects if o.get("metadata") is not None]


def _owners(meta: Mapping[str, Any]) -> tuple[Owner, ...]:
    return tuple(
        Owner(str(r.get("kind")), str(r.get("name")), bool(r.get("controller")))
        for r in meta.get("ownerReferences") or ()
    )


@functools.lru_cache(maxsize=4096)
def _quantity(text: str) -> float:
    # A cluster's pods repeat a handful of request and limit values; parse each once.
    return parse_quantity(text)


def _container(container: Mapping[str, Any]) -> Container:
    resources = container.get("resources") or {}
    requests: Mapping[str, str] = resources.get("requests") or {}
    limits: Mapping[str, str] = resources.get("limits") or {}

    def quantity(values: Mapping[str, str], key: str) -> float | None:
        return _quantity(str(values[key])) if key in values else None

    cpu_request, memory_request = quantity(requests, "cpu"), quantity(requests, "memory")
    cpu_limit, memory_limit = quantity(limits, "cpu"), quantity(limits, "memory")
    return Container(
        container.get("name", ""),
        container.get("image") or "",
        cpu_request,
        cpu_limit,
        memory_request,
        memory_limit,
    )


@dataclass(frozen=True)
class PodUsage:
    """Usage of one pod now; per-container tuples follow ``pod.containers``, None: not annotated."""

    cpu_cores: tuple[float, ...] | None
    memory_bytes: tuple[float, ...] | None
    requests_per_second: float | None


def shares(weights: Sequence[float | None]) -> list[float]:
    """Fractions proportional to ``weights`` (None counts as 0); equal when they sum to 0."""
    plain = [w or 0.0 for w in weights]
    total = sum(plain)
    if total <= 0:
        return [1.0 / len(plain)] * len(plain) if plain else []
    return [w / total for w in plain]


def split_cpu(pod_cores: float, containers: Sequence[Container]) -> tuple[float, ...]:
    """A pod's cores over its containers by CPU request, each throttled at its CPU limit."""
    fractions = shares([c.cpu_request_cores for c in containers])
    limits = [math.inf if c.cpu_limit_cores is None else c.cpu_limit_cores for c in containers]
    return tuple(min(pod_cores * f, limit) for f, limit in zip(fractions, limits, strict=True))


def split_memory(pod_bytes: float, containers: Sequence[Container]) -> tuple[float, ...]:
    """A pod's working set over its containers by memory request, each held at its memory limit."""
    fractions = shares([c.memory_request_bytes for c in containers])
    limits = [math.inf if c.memory_limit_bytes is None else c.memory_limit_bytes for c in containers]
    return tuple(float(round(min(pod_bytes * f, limit))) for f, limit in zip(fractions, limits, strict=True))


def pod_usage(pods: Sequence[LivePod], loads: Mapping[WorkloadKey, Load]) -> dict[PodKey, PodUsage]:
    """Usage of every serving pod (Running, not terminating) of a workload with load annotations."""
    serving: dict[WorkloadKey, list[LivePod]] = {}
    for pod in pods:
        if pod.workload is not None and pod.workload in loads and not pod.terminating:
            serving.setdefault(pod.workload, []).append(pod)
    usage = {}
    for workload, members in serving.items():
        load = loads[workload]
        cpu, memory, rps = load.cpu_cores, load.memory_bytes, load.requests_per_second
        for pod in members:
            usage[pod.key] = PodUsage(
                None if cpu is None else split_cpu(cpu / len(members), pod.pod.containers),
                None if memory is None else split_memory(memory, pod.pod.containers),
                None if rps is None else rps / len(members),
            )
    return usage


K = TypeVar("K", bound=Hashable)


class Counters(Generic[K]):
    """Counters that integrate a rate per key over the time between calls of ``advance``.

    At each call every key's total grows by its current rate times the seconds since the previous
    call; a key seen for the first time starts at 0, and a key missing from a call is forgotten (it
    starts at 0 again if it comes back, which Prometheus reads as a new series or a counter reset).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._totals: dict[K, float] = {}
        self._last: float | None = None
        self._lock = threading.Lock()

    def advance(self, rates: Mapping[K, float]) -> dict[K, float]:
        with self._lock:
            now = self._clock()
            elapsed = 0.0 if self._last is None else max(0.0, now - self._last)
            self._last = now
            self._totals = {
                key: self._totals[key] + rate * elapsed if key in self._totals else 0.0
                for key, rate in rates.items()
            }
            return dict(self._totals)
