"""PromQL text for a set of namespaces: escaping, the query step, and the owner-joined usage queries.

Every query covers whole namespaces (one round asks about every namespace with a policy at once) and
is joined, inside Prometheus, to the workload that owns
each pod through kube-state-metrics: ``kube_pod_owner`` -> ReplicaSet -> ``kube_replicaset_owner``
-> Deployment, or ``kube_pod_owner{owner_kind="StatefulSet"}`` directly. Results carry the labels
``namespace``, ``owner_kind`` and ``owner_name`` (the workload), ``container`` and, for usage,
``pod``.

Only string building lives here, so reviewers can read the exact queries in the unit tests.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from thrifty.settings import MetricNames

# Prometheus refuses a range query whose (end - start) / step exceeds 11,000.
MAX_POINTS_PER_SERIES: Final = 11_000
# Steps people read at a glance, and that keep grids of successive evaluations aligned.
CLEAN_STEPS_SECONDS: Final = (1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800)
DAY_SECONDS: Final = 86_400

# Containers that are not containers: the pod-level cgroup (container="") and the pause container.
_REAL_CONTAINERS: Final = 'container!="", container!="POD"'
_ESCAPES: Final = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
# RE2's metacharacters outside a character class; any other character matches itself.
_REGEX_SPECIAL: Final = frozenset("\\.+*?()|[]{}^$")


def escape_label_value(value: str) -> str:
    """``value`` as the inside of a double-quoted PromQL string: it can never end the literal early.

    Backslash and double quote are escaped, newline and the other control characters become escape
    sequences (a raw newline is a syntax error in PromQL).
    """
    out = []
    for char in value:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    return "".join(out)


def escape_regex(value: str) -> str:
    """``value`` as an RE2 pattern that matches exactly ``value`` (before PromQL string escaping).

    Metacharacters get a backslash; characters that are not printable (controls, and the line and
    paragraph separators that ``str.splitlines`` breaks at) become RE2's ``\\x{hex}``, so the query
    text holds none of them raw.
    """
    out = []
    for char in value:
        if char in _REGEX_SPECIAL:
            out.append(f"\\{char}")
        elif not char.isprintable():
            out.append(f"\\x{{{ord(char):x}}}")
        else:
            out.append(char)
    return "".join(out)


def namespace_regex(namespaces: Iterable[str]) -> str:
    """One alternation for every namespace, sorted and without repeats, each an RE2 literal."""
    names = sorted(set(namespaces))
    if not names:
        raise ValueError("a query needs at least one namespace")
    return "|".join(escape_regex(name) for name in names)


def namespace_matcher(namespaces: Iterable[str]) -> str:
    """``namespace="shop"`` for one namespace, ``namespace=~"shop|web"`` for several."""
    names = sorted(set(namespaces))
    if len(names) == 1:
        return f'namespace="{escape_label_value(names[0])}"'
    return f'namespace=~"{escape_label_value(namespace_regex(names))}"'


def choose_step(
    lookback_seconds: float, min_step_seconds: float, max_points: int = MAX_POINTS_PER_SERIES
) -> int:
    """The smallest clean step (seconds) that is at least ``min_step_seconds`` and keeps a range query
    over ``lookback_seconds`` within ``max_points`` points per series (both ends included).

    14 days at a 60 s scrape interval: 1,209,600 / 10,999 = 110 s -> 120 s (10,081 points).
    """
    if lookback_seconds <= 0 or min_step_seconds <= 0 or max_points < 2:
        raise ValueError("lookback and minimum step must be positive and max_points at least 2")
    needed = max(lookback_seconds / (max_points - 1), min_step_seconds)
    for step in CLEAN_STEPS_SECONDS:
        if step >= needed:
            return step
    return math.ceil(needed / DAY_SECONDS) * DAY_SECONDS


def cpu_rate_window(step_seconds: int, scrape_interval_seconds: float) -> int:
    """The ``rate()`` window: two steps, so consecutive windows overlap and no CPU second falls between
    them; and at least four scrapes, so one missed scrape still leaves three samples to rate."""
    return max(2 * step_seconds, math.ceil(4 * scrape_interval_seconds))


def memory_peak_window(step_seconds: int, scrape_interval_seconds: float) -> int:
    """The ``max_over_time()`` window: one step, so every scrape lands in a window and the peak between
    two grid points is kept; at least two scrapes, so scrape jitter never leaves a window empty."""
    return max(step_seconds, math.ceil(2 * scrape_interval_seconds))


def duration(seconds: float) -> str:
    """A PromQL duration in the largest unit that divides it: 240s, 2m, 36h, 14d."""
    if seconds <= 0 or not float(seconds).is_integer():
        raise ValueError(f"PromQL durations here are whole positive seconds, got {seconds!r}")
    whole = int(seconds)
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60)):
        if whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"


@dataclass(frozen=True)
class NamespaceQueries:
    """The queries of one evaluation of ``namespaces``; every label value from a resource is escaped.
    Answers are per namespace and workload (``namespace``, ``owner_kind``, ``owner_name``)."""

    metrics: MetricNames
    namespaces: tuple[str, ...]
    step_seconds: int
    scrape_interval_seconds: float
    lookback_seconds: int

    @property
    def _ns(self) -> str:
        return namespace_matcher(self.namespaces)

    @property
    def cpu_window_seconds(self) -> int:
        return cpu_rate_window(self.step_seconds, self.scrape_interval_seconds)

    @property
    def memory_window_seconds(self) -> int:
        return memory_peak_window(self.step_seconds, self.scrape_interval_seconds)

    def workload_of_pod(self, over_lookback: bool = False) -> str:
        """One series per pod, value 1, labelled with its workload (``owner_kind``, ``owner_name``).

        ``over_lookback`` keeps pods that existed at any time in the lookback (for events such as OOM
        kills of pods that are gone); otherwise only pods that exist at each evaluation time.
        """
        m = self.metrics

        def select(metric: str, owner_kind: str) -> str:
            selector = f'{metric}{{{self._ns}, owner_kind="{owner_kind}", owner_is_controller="true"}}'
            if over_lookback:
                return f"max_over_time({selector}[{duration(self.lookback_seconds)}])"
            return selector

        relabelled = _lines(
            "label_replace(",
            _indent(
                _lines(f"{select(m.pod_owner, 'ReplicaSet')},", '"replicaset", "$1", "owner_name", "(.+)"')
            ),
            ")",
        )
        deployment_pods = _block(
            "",
            _block("max by (namespace, pod, replicaset)", relabelled),
            "* on (namespace, replicaset) group_left (owner_kind, owner_name)",
            _topk(
                "namespace, replicaset",
                _block(
                    "max by (namespace, replicaset, owner_kind, owner_name)",
                    select(m.replicaset_owner, "Deployment"),
                ),
            ),
        )
        statefulset_pods = _block(
            "max by (namespace, pod, owner_kind, owner_name)", select(m.pod_owner, "StatefulSet")
        )
        # topk keeps one owner per pod, so a pod briefly listed with two (adoption) cannot fail the
        # whole query with a many-to-many matching error in the joins that use this.
        return _topk(
            "namespace, pod",
            _block(
                "max by (namespace, pod, owner_kind, owner_name)", deployment_pods, "or", statefulset_pods
            ),
        )

    def _by_workload(self, expression: str, labels: str, over_lookback: bool = False) -> str:
        return _block(
            f"max by (namespace, {labels})",
            expression,
            "* on (namespace, pod) group_left (owner_kind, owner_name)",
            self.workload_of_pod(over_lookback),
        )

    def cpu_usage(self, pods_of_lookback: bool = False) -> str:
        """Cores per pod and container, averaged over the rate window ending at each step.

        ``max`` rather than ``sum`` per pod and container: a container scraped twice (two kubelet
        jobs) or briefly listed under an old and a new cgroup must not count double.
        ``pods_of_lookback`` also keeps pods that went away within the lookback: their share of the
        window's CPU is part of the workload's load, which a scale-down moves, not removes.
        """
        window = duration(self.cpu_window_seconds)
        selector = f"{self.metrics.cpu_usage}{{{self._ns}, {_REAL_CONTAINERS}}}"
        return self._by_workload(
            f"rate({selector}[{window}])", "owner_kind, owner_name, container, pod", pods_of_lookback
        )

    def cpu_window_samples(self) -> str:
        """Per workload, the fewest CPU counter samples any of its pods (of the lookback) has over the
        last two rate windows. A pod short of them has a rate that reads low: Prometheus missed a
        scrape (or restarted), or the pod's counter began inside the window, where rate() cannot
        extrapolate below zero."""
        window = duration(2 * self.cpu_window_seconds)
        selector = f"{self.metrics.cpu_usage}{{{self._ns}, {_REAL_CONTAINERS}}}"
        per_pod = self._by_workload(
            f"count_over_time({selector}[{window}])", "owner_kind, owner_name, pod", True
        )
        return _block("min by (namespace, owner_kind, owner_name)", per_pod)

    def memory_working_set(self) -> str:
        """Peak working-set bytes per pod and container in the window ending at each step."""
        window = duration(self.memory_window_seconds)
        selector = f"{self.metrics.memory_working_set}{{{self._ns}, {_REAL_CONTAINERS}}}"
        return self._by_workload(
            f"max_over_time({selector}[{window}])", "owner_kind, owner_name, container, pod"
        )

    def resources(self, metric: str) -> str:
        """Requests or limits (cores, bytes) per workload container: the largest over its live pods."""
        selector = f'{metric}{{{self._ns}, resource=~"cpu|memory", container!=""}}'
        return self._by_workload(selector, "owner_kind, owner_name, container, resource")

    def oom_kills(self) -> str:
        """Per workload container that restarted within the lookback while its last termination
        reason was OOMKilled (a restart and that reason within one rate window of each other, so an
        old OOM followed by a restart for another reason does not count): the last step it was seen
        at, in unix seconds, so that a history kept between reads knows when it leaves the lookback."""
        m = self.metrics
        window = duration(self.cpu_window_seconds)
        restarted = f"(increase({m.restarts}{{{self._ns}}}[{window}]) > 0)"
        oom_reason = _lines(
            "max_over_time(",
            _indent(f'{m.last_terminated_reason}{{{self._ns}, reason="OOMKilled"}}[{window}]'),
            ")",
        )
        subquery = f"[{duration(self.lookback_seconds)}:{duration(self.step_seconds)}]"
        killed = _block(
            "max by (namespace, pod, container)",
            _lines(
                "max_over_time(timestamp(",
                _indent(_lines(restarted, "and on (namespace, pod, container)", oom_reason)),
                f"){subquery})",
            ),
        )
        return self._by_workload(killed, "owner_kind, owner_name, container", over_lookback=True)

    def present_metrics(self) -> str:
        """Which of the configured metrics have series in the namespace (for a note when data is missing)."""
        names = "|".join(self.metrics.all())
        return f'count by (namespace, __name__) ({{__name__=~"{names}", {self._ns}}})'


def _lines(*lines: str) -> str:
    return "\n".join(lines)


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.split("\n"))


def _block(head: str, *body: str) -> str:
    """``head (`` + the body indented + ``)``: PromQL a reviewer can read when it is logged or tested."""
    return _lines(f"{head} (" if head else "(", _indent(_lines(*body)), ")")


def _topk(labels: str, body: str) -> str:
    return _lines(f"topk by ({labels}) (1,", _indent(body), ")")
