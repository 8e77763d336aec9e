"""PromQL text for spend: the samples a budget's scope is priced from, for several namespaces at once.

Each query covers every namespace of the scope with one ``namespace=~"a|b|c"`` matcher, so a budget
over 1 or 40 namespaces sends the same queries, and none of them is per pod. Every name is escaped
twice: as an RE2 literal (``.``, ``*``, ``|`` ... cannot widen the match) and then as the inside of a
PromQL string (quotes and backslashes cannot end it early). Prometheus anchors the regex at both
ends, so ``shop`` never matches ``shop-staging``.

Answers are per container and pod (``namespace``, ``pod``, ``container``) with no owner join: the
owner of each pod comes from its own query, so a pod without a known owner still costs money.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from thrifty.settings import CostMetricNames, MetricNames
from thrifty.sources.promql import (
    NamespaceQueries,
    _block,
    _lines,
    _topk,
    cpu_rate_window,
    duration,
    escape_label_value,
    escape_regex,
    memory_peak_window,
    namespace_regex,
)

# kube-state-metrics' name for the resource ``nvidia.com/gpu`` in its ``resource`` label.
DEFAULT_GPU_RESOURCE: Final = "nvidia_com_gpu"

_REAL_CONTAINERS: Final = 'container!="", container!="POD"'
# What OpenCost's node price metrics carry about a node besides its name.
OPENCOST_NODE_LABELS: Final = ("instance_type", "region", "provider_id", "arch")


@dataclass(frozen=True)
class SpendQueries:
    """The queries of one spend evaluation over ``namespaces``; each is a range query on one grid."""

    metrics: MetricNames
    cost_metrics: CostMetricNames
    namespaces: tuple[str, ...]
    step_seconds: int
    scrape_interval_seconds: float
    gpu_resource: str = DEFAULT_GPU_RESOURCE

    @property
    def _ns(self) -> str:
        return f'namespace=~"{escape_label_value(namespace_regex(self.namespaces))}"'

    @property
    def cpu_window_seconds(self) -> int:
        return cpu_rate_window(self.step_seconds, self.scrape_interval_seconds)

    @property
    def average_window_seconds(self) -> int:
        """The ``avg_over_time()`` window of gauges: one step, so every scrape counts in one point."""
        return memory_peak_window(self.step_seconds, self.scrape_interval_seconds)

    def _per_container(self, expression: str, labels: str = "namespace, pod, container") -> str:
        # max, not sum: a container scraped twice (two kubelet jobs, two exporters) must not count double.
        return _block(f"max by ({labels})", expression)

    # ----------------------------------------------------------------- cAdvisor and kube-state-metrics

    def cpu_usage(self) -> str:
        """Cores per container, averaged over the rate window ending at each point."""
        selector = f"{self.metrics.cpu_usage}{{{self._ns}, {_REAL_CONTAINERS}}}"
        return self._per_container(f"rate({selector}[{duration(self.cpu_window_seconds)}])")

    def memory_usage(self) -> str:
        """Working-set bytes per container, averaged over the step ending at each point."""
        selector = f"{self.metrics.memory_working_set}{{{self._ns}, {_REAL_CONTAINERS}}}"
        return self._per_container(f"avg_over_time({selector}[{duration(self.average_window_seconds)}])")

    def requests(self) -> str:
        """CPU cores, memory bytes and GPUs requested per container, in one answer (label ``resource``)."""
        resources = "|".join(escape_regex(name) for name in ("cpu", "memory", self.gpu_resource))
        selector = (
            f"{self.metrics.resource_requests}"
            f'{{{self._ns}, resource=~"{escape_label_value(resources)}", container!=""}}'
        )
        return self._per_container(selector, "namespace, pod, container, resource")

    def pod_nodes(self) -> str:
        """1 per pod and the node it runs on, at each point it exists."""
        selector = f'{self.cost_metrics.pod_info}{{{self._ns}, node!=""}}'
        return self._per_container(selector, "namespace, pod, node")

    def node_labels(self) -> str:
        """kube-state-metrics' node labels (``label_*``) of the nodes that ran the scope's pods, at the
        points they did: a cluster's other nodes are not read."""
        return _lines(
            self.cost_metrics.node_labels,
            "and on (node)",
            _block("max by (node)", f'{self.cost_metrics.pod_info}{{{self._ns}, node!=""}}'),
        )

    def owners(self) -> str:
        """1 per pod and its workload (``owner_kind``, ``owner_name``) at each point: Deployments and
        StatefulSets through the usage queries' join, other controllers (DaemonSet, Job, ...) directly."""
        workloads = NamespaceQueries(
            self.metrics,
            self.namespaces,
            self.step_seconds,
            self.scrape_interval_seconds,
            self.step_seconds,
        ).workload_of_pod()
        others = _block(
            "max by (namespace, pod, owner_kind, owner_name)",
            f"{self.metrics.pod_owner}{{{self._ns}, "
            'owner_kind!~"ReplicaSet|StatefulSet", owner_is_controller="true"}',
        )
        return _topk("namespace, pod", _lines(workloads, "or", others))

    # ----------------------------------------------------------------- OpenCost

    def allocation(self, metric: str) -> str:
        """OpenCost's max(request, usage) per container and the node it ran on, averaged over each step."""
        selector = f"{metric}{{{self._ns}, {_REAL_CONTAINERS}}}"
        return self._per_container(
            f"avg_over_time({selector}[{duration(self.average_window_seconds)}])",
            "namespace, pod, container, node",
        )

    def node_price(self, metric: str) -> str:
        """An OpenCost node metric (hourly prices, spot flag) of the nodes that ran the scope's
        containers, at the points they did."""
        c = self.cost_metrics
        return _lines(
            _block(f"max by (node, {', '.join(OPENCOST_NODE_LABELS)})", metric),
            "and on (node)",
            _block(
                "",
                _block("max by (node)", f"{c.container_cpu_allocation}{{{self._ns}}}"),
                "or",
                _block("max by (node)", f"{c.container_memory_allocation}{{{self._ns}}}"),
            ),
        )


def opencost_presence(cost_metrics: CostMetricNames) -> str:
    """Which of OpenCost's container allocation and node price metrics have series (instant query)."""
    names = f"{cost_metrics.container_cpu_allocation}|{cost_metrics.node_cpu_hourly_cost}"
    return f'count by (__name__) ({{__name__=~"{names}"}})'
