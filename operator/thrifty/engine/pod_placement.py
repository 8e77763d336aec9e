"""Where one workload's pods run, and the one step that brings them to the target mix.

- ``PodRecord``: a pod as placement sees it: the capacity type it runs on (its node's), or was sent to
  (Thrifty's annotation) while it waits to be scheduled.
- ``required_capacity``: the node affinity that sends a new pod to a capacity type, as the cost model
  tells the types apart (the first capacity-type label a node carries decides), merged into the
  pod's own required affinity.
- ``deletion_cost``: the ``controller.kubernetes.io/pod-deletion-cost`` that makes a ReplicaSet's
  scale-down remove pods in the order that keeps the split at every count.
- ``next_move``: the one change a round makes: in a fallback, delete the spot pods still waiting for
  a node (their replacements go to on-demand); otherwise evict one pod of the type above its target,
  only while every pod is Ready and none is on its way (``move_waits_for`` says which is not).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from thrifty.engine.cost import SpotLabel
from thrifty.engine.spot_mix import Capacity, ReplicaSplit, pod_to_move, split_replicas

__all__ = [
    "MixCounts",
    "Move",
    "PodRecord",
    "count_mix",
    "deletion_cost",
    "move_waits_for",
    "next_move",
    "pinned_capacity",
    "required_capacity",
    "restricted_to",
]


@dataclass(frozen=True)
class PodRecord:
    name: str
    capacity: Capacity | None  # its node's type once scheduled, else the type it was sent to, if any
    scheduled: bool
    ready: bool
    created: float  # unix seconds
    deleting: bool = False


@dataclass(frozen=True)
class MixCounts:
    on_demand: int
    spot: int
    unplaced: int  # waiting to be scheduled with no capacity type asked (created while Thrifty was away)
    pending_spot_since: float | None  # creation of the oldest spot pod still waiting for a node
    settled: bool  # every live pod is scheduled and Ready: nothing is on its way


def count_mix(pods: Sequence[PodRecord]) -> MixCounts:
    live = [p for p in pods if not p.deleting]
    pending_spot = [p.created for p in live if p.capacity == "spot" and not p.scheduled]
    return MixCounts(
        on_demand=sum(p.capacity == "on-demand" for p in live),
        spot=sum(p.capacity == "spot" for p in live),
        unplaced=sum(p.capacity is None for p in live),
        pending_spot_since=min(pending_spot, default=None),
        settled=len(live) == len(pods) and all(p.scheduled and p.ready for p in live),
    )


def deletion_cost(capacity: Capacity, nth: int, base: int, spot_percent: int) -> int:
    """The deletion cost of the ``nth`` pod (1-based) of a type: minus the pod count at which the split
    first holds ``nth`` pods of it. A scale-down from n removes the pod whose type is above the split
    of n - 1, which is the one with the lowest cost, so the mix stays at the split as replicas fall,
    and a pod keeps its cost as others come and go."""
    count = nth
    while _of(split_replicas(count, base, spot_percent), capacity) < nth:
        count += 1
    return -count


def _of(split: ReplicaSplit, capacity: Capacity) -> int:
    return split.spot if capacity == "spot" else split.on_demand


Term = dict[str, list[dict[str, Any]]]


def _capacity_terms(capacity: Capacity, labels: Sequence[SpotLabel]) -> list[Term]:
    """Node selector terms (ORed) matching exactly the nodes ``cost.capacity_type`` gives ``capacity``:
    the first of the labels a node carries decides, and a node with none of them is on-demand."""
    terms: list[Term] = []
    for i, label in enumerate(labels):
        earlier = [{"key": k.key, "operator": "DoesNotExist"} for k in labels[:i]]
        values = sorted(label.spot_values)
        if capacity == "spot":
            this = [{"key": label.key, "operator": "In", "values": values}]
        else:
            this = [
                {"key": label.key, "operator": "Exists"},
                {"key": label.key, "operator": "NotIn", "values": values},
            ]
        terms.append({"matchExpressions": earlier + this})
    if capacity == "on-demand":
        terms.append({"matchExpressions": [{"key": k.key, "operator": "DoesNotExist"} for k in labels]})
    return terms


def pinned_capacity(pod_spec: Mapping[str, Any], labels: Sequence[SpotLabel]) -> bool:
    """Whether the pod already chooses a capacity type itself (a node selector or a required affinity
    on one of the labels): it is left as it is, and counted where it lands."""
    keys = {label.key for label in labels}
    if keys & set(pod_spec.get("nodeSelector") or {}):
        return True
    for term in _required_terms(pod_spec) or []:
        for expression in term.get("matchExpressions") or []:
            if expression.get("key") in keys:
                return True
    return False


def _required_terms(pod_spec: Mapping[str, Any]) -> list[Term] | None:
    required = ((pod_spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = required.get("nodeSelectorTerms")
    return list(terms) if terms else None


def required_capacity(
    pod_spec: Mapping[str, Any], capacity: Capacity, labels: Sequence[SpotLabel]
) -> dict[str, Any]:
    """The pod's ``affinity`` with a required node affinity for ``capacity``. The pod's own required
    terms still hold: each is combined with each of ours (terms are ORed, expressions ANDed)."""
    ours = _capacity_terms(capacity, labels)
    own = _required_terms(pod_spec)
    terms = (
        ours
        if own is None
        else [
            {**term, "matchExpressions": list(term.get("matchExpressions") or []) + mine["matchExpressions"]}
            for term in own
            for mine in ours
        ]
    )
    affinity = dict(pod_spec.get("affinity") or {})
    node_affinity = dict(affinity.get("nodeAffinity") or {})
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": terms}
    affinity["nodeAffinity"] = node_affinity
    return affinity


def restricted_to(affinity: dict[str, Any], allowed: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """``affinity`` (with required node terms, as ``required_capacity`` makes it) with each term also
    requiring, for every label key in ``allowed``, one of its values: governance's instance types and
    regions, which hold whatever capacity type the pod goes to."""
    extra = [
        {"key": key, "operator": "In", "values": sorted(values)} for key, values in allowed.items() if values
    ]
    if not extra:
        return affinity
    node_affinity = dict(affinity.get("nodeAffinity") or {})
    required = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    terms = [
        {**term, "matchExpressions": list(term.get("matchExpressions") or []) + extra}
        for term in required.get("nodeSelectorTerms") or [{}]
    ]
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": terms}
    return {**affinity, "nodeAffinity": node_affinity}


@dataclass(frozen=True)
class Move:
    kind: Literal["evict", "replace-pending"]
    capacity: Capacity  # the type pods are taken off
    pods: tuple[str, ...]
    reason: str


def next_move(
    pods: Sequence[PodRecord], target: ReplicaSplit, fallback: bool, moving: Collection[str] = ()
) -> Move | None:
    """The one change toward ``target`` this round, or None. In a fallback, the spot pods waiting for a
    node are replaced at once (they serve nothing; their replacements go to on-demand), and nothing
    else moves: spot pods that run keep running. Otherwise one
    pod moves, by eviction, which the PodDisruptionBudget governs, and only once the last move has
    settled: every pod scheduled and Ready, and as many as the target, so a restart or a slow
    scheduler never makes two moves for one drift. ``moving``: pods this operator has just evicted or
    deleted; while the view still shows one of them alive, it is older than the move and nothing
    moves."""
    if fallback:
        # Running spot pods stay where they are: only those spot capacity did not take are replaced.
        waiting = tuple(
            sorted(
                p.name
                for p in pods
                if p.capacity == "spot" and not p.scheduled and not p.deleting and p.name not in moving
            )
        )
        if waiting:
            return Move("replace-pending", "spot", waiting, "spot capacity did not take them: on-demand does")
        return None
    if move_waits_for(pods, target, moving) is not None:
        return None
    counts = count_mix(pods)
    surplus = pod_to_move(counts.on_demand, counts.spot, target)
    if surplus is None:
        return None
    # The newest pod of the type: the one that has served least, and the last to be placed there.
    candidates = sorted((p for p in pods if p.capacity == surplus), key=lambda p: (-p.created, p.name))
    other = "spot" if surplus == "on-demand" else "on-demand"
    return Move(
        "evict",
        surplus,
        (candidates[0].name,),
        f"{counts.on_demand} on-demand and {counts.spot} spot against a target of {target.on_demand} and "
        f"{target.spot}: one pod moves from {surplus} to {other}",
    )


def move_waits_for(
    pods: Sequence[PodRecord], target: ReplicaSplit, moving: Collection[str] = ()
) -> str | None:
    """What keeps the next move from being made (pods on their way, or fewer or more pods than the
    target), for status; None when nothing does."""
    for what, names in (
        ("being moved", [p.name for p in pods if p.name in moving and not p.deleting]),
        ("being deleted", [p.name for p in pods if p.deleting]),
        ("waiting for a node", [p.name for p in pods if not p.deleting and not p.scheduled]),
        ("not Ready yet", [p.name for p in pods if not p.deleting and p.scheduled and not p.ready]),
        ("on a node of no known capacity type", [p.name for p in pods if p.scheduled and p.capacity is None]),
    ):
        if names:
            return f"{_some(sorted(names))} {'is' if len(names) == 1 else 'are'} {what}"
    if len(pods) != target.on_demand + target.spot:
        return f"{len(pods)} pods for {target.on_demand + target.spot} replicas"
    return None


def _some(names: Sequence[str], shown: int = 3) -> str:
    listed = ", ".join(names[:shown])
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return f"pod{'s' if len(names) > 1 else ''} {listed}{more}"
