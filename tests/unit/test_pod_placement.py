"""Placement of one workload's pods: the affinity a new pod gets, the deletion costs that keep the mix
on a scale-down, and the one move a round makes."""

from __future__ import annotations

import dataclasses

from hypothesis import given
from hypothesis import strategies as st

from thrifty.engine.cost import SpotLabel, capacity_type
from thrifty.engine.pod_placement import (
    PodRecord,
    count_mix,
    deletion_cost,
    move_waits_for,
    next_move,
    pinned_capacity,
    required_capacity,
)
from thrifty.engine.spot_mix import Capacity, capacity_for_next_pod, split_replicas

LABELS = (
    SpotLabel("karpenter.sh/capacity-type", ("spot",)),
    SpotLabel("eks.amazonaws.com/capacityType", ("SPOT",)),
)


def _matches(term: dict[str, list[dict[str, object]]], labels: dict[str, str]) -> bool:
    for e in term["matchExpressions"]:
        key, op, values = str(e["key"]), e["operator"], e.get("values") or []
        held = {
            "In": key in labels and labels[key] in values,  # type: ignore[operator]
            "NotIn": key not in labels or labels[key] not in values,  # type: ignore[operator]
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[str(op)]
        if not held:
            return False
    return True


def _schedulable(affinity: dict[str, object], labels: dict[str, str]) -> bool:
    terms = affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]  # type: ignore[index]
    return any(_matches(t, labels) for t in terms)  # type: ignore[arg-type]


NODES = [
    {"karpenter.sh/capacity-type": "spot"},
    {"karpenter.sh/capacity-type": "on-demand"},
    {"eks.amazonaws.com/capacityType": "SPOT"},
    {"eks.amazonaws.com/capacityType": "ON_DEMAND"},
    {"karpenter.sh/capacity-type": "on-demand", "eks.amazonaws.com/capacityType": "SPOT"},
    {},
]


def test_the_affinity_admits_exactly_the_nodes_the_cost_model_calls_that_type() -> None:
    for capacity in ("spot", "on-demand"):
        affinity = required_capacity({}, capacity, LABELS)
        for labels in NODES:
            assert _schedulable(affinity, labels) == (capacity_type(labels, LABELS) == capacity), labels


def test_the_pods_own_required_terms_still_hold() -> None:
    own = {"nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]}
    spec = {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": own}}}
    affinity = required_capacity(spec, "spot", LABELS)
    assert _schedulable(affinity, {"zone": "a", "karpenter.sh/capacity-type": "spot"})
    assert not _schedulable(affinity, {"zone": "b", "karpenter.sh/capacity-type": "spot"})
    assert not _schedulable(affinity, {"zone": "a", "karpenter.sh/capacity-type": "on-demand"})


def test_a_pod_that_chooses_its_capacity_is_pinned() -> None:
    assert pinned_capacity({"nodeSelector": {"karpenter.sh/capacity-type": "on-demand"}}, LABELS)
    assert not pinned_capacity({"nodeSelector": {"zone": "a"}}, LABELS)
    chosen = required_capacity({}, "spot", LABELS)
    assert pinned_capacity({"affinity": chosen}, LABELS)


@given(st.integers(1, 60), st.integers(0, 5), st.integers(0, 100))
def test_a_scale_down_by_deletion_cost_keeps_the_split_at_every_count(
    n: int, base: int, percent: int
) -> None:
    # Pods added one by one, each costed as it is admitted; then removed lowest cost first.
    pods: list[tuple[Capacity, int]] = []
    for _ in range(n):
        od = sum(c == "on-demand" for c, _ in pods)
        capacity = capacity_for_next_pod(od, len(pods) - od, base, percent)
        nth = sum(c == capacity for c, _ in pods) + 1
        pods.append((capacity, deletion_cost(capacity, nth, base, percent)))
    while pods:
        pods.remove(min(pods, key=lambda p: p[1]))
        od = sum(c == "on-demand" for c, _ in pods)
        assert (od, len(pods) - od) == tuple(vars(split_replicas(len(pods), base, percent)).values())


def _pod(
    name: str, capacity: Capacity | None, scheduled: bool = True, ready: bool = True, created: float = 0
) -> PodRecord:
    return PodRecord(name, capacity, scheduled, ready, created)


def test_one_eviction_moves_a_drifted_mix_and_only_once_settled() -> None:
    target = split_replicas(11, 1, 70)  # 4 on-demand, 7 spot
    pods = [_pod(f"od-{i}", "on-demand", created=i) for i in range(6)] + [
        _pod(f"s-{i}", "spot") for i in range(5)
    ]
    move = next_move(pods, target, fallback=False)
    assert move is not None
    assert (move.kind, move.pods, move.capacity) == ("evict", ("od-5",), "on-demand")
    unready = [*pods[:-1], _pod("s-4", "spot", ready=False)]
    assert next_move(unready, target, fallback=False) is None
    assert next_move(pods[:-1], target, fallback=False) is None  # one pod short: a pod is on its way


def test_at_the_target_nothing_moves() -> None:
    pods = [_pod(f"od-{i}", "on-demand") for i in range(4)] + [_pod(f"s-{i}", "spot") for i in range(7)]
    assert next_move(pods, split_replicas(11, 1, 70), fallback=False) is None


def test_a_fallback_replaces_the_waiting_spot_pods_at_once() -> None:
    pods = [
        _pod("od-0", "on-demand"),
        _pod("s-0", "spot", scheduled=False, created=5),
        _pod("s-1", "spot", scheduled=False),
    ]
    move = next_move(pods, split_replicas(3, 3, 0), fallback=True)
    assert move is not None
    assert (move.kind, move.pods) == ("replace-pending", ("s-0", "s-1"))
    assert count_mix(pods).pending_spot_since == 0
    running = [_pod("od-0", "on-demand"), _pod("s-0", "spot"), _pod("s-1", "spot")]
    assert next_move(running, split_replicas(3, 3, 0), fallback=True) is None  # running spot pods stay


def test_status_says_what_the_next_move_waits_for() -> None:
    target = split_replicas(3, 1, 70)
    ready = [_pod(f"p{i}", "on-demand") for i in range(3)]
    assert move_waits_for(ready, target) is None
    deleting = [*ready[:2], dataclasses.replace(ready[2], deleting=True)]
    assert move_waits_for(deleting, target) == "pod p2 is being deleted"
    unready = [dataclasses.replace(p, ready=False) for p in ready]
    assert move_waits_for(unready, target) == "pods p0, p1, p2 are not Ready yet"
    assert move_waits_for(ready[:2], target) == "2 pods for 3 replicas"


def test_a_pod_just_moved_that_the_view_still_shows_is_no_reason_for_another_move() -> None:
    target = split_replicas(11, 1, 70)  # 4 on-demand, 7 spot
    pods = [_pod(f"od-{i}", "on-demand", created=i) for i in range(6)] + [
        _pod(f"s-{i}", "spot") for i in range(5)
    ]
    assert next_move(pods, target, fallback=False, moving={"od-5"}) is None
    assert move_waits_for(pods, target, moving={"od-5"}) == "pod od-5 is being moved"
    # Once the view shows it going (or gone), the next move is made.
    going = [*pods[:5], dataclasses.replace(pods[5], deleting=True), *pods[6:]]
    assert move_waits_for(going, target, moving={"od-5"}) == "pod od-5 is being deleted"
    move = next_move(pods, target, fallback=False, moving={"od-9"})
    assert move is not None
    assert move.pods == ("od-5",)
