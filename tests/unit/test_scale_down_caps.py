"""ScaleDown's caps: every governed workload that costs something goes to its minReplicas, the lowest
priority first, and stays listed and held there in the rounds after."""

from __future__ import annotations

from thrifty.engine.budget_caps import GovernedPolicy, scale_down_caps
from thrifty.engine.workload_records import TemplateContainer, Workload


def governed(
    name: str, replicas: int, priority: int, min_replicas: int
) -> tuple[GovernedPolicy, Workload, None]:
    policy = GovernedPolicy("shop", name, "Deployment", name, priority, min_replicas)
    workload = Workload(
        "Deployment",
        "shop",
        name,
        f"uid-{name}",
        replicas,
        replicas,
        (TemplateContainer("app", 0.5, None, None, None),),
    )
    return policy, workload, None


HOURLY = {
    ("shop", "Deployment", "low"): 0.3,
    ("shop", "Deployment", "high"): 0.3,
    ("shop", "Deployment", "free"): 0.0,
}


def test_every_costed_workload_goes_to_its_minimum_lowest_priority_first() -> None:
    caps = scale_down_caps(
        [governed("high", 3, 100, 1), governed("low", 3, 10, 2), governed("free", 3, 0, 1)], HOURLY
    )
    assert [(c.name, c.max_replicas) for c in caps] == [("low", 2), ("high", 1)]
    assert caps[0].reason == "priority 10: 3 -> 2 replicas (its minReplicas), saving 0.10/h"


def test_a_workload_already_at_its_minimum_stays_listed_and_held_there() -> None:
    caps = scale_down_caps([governed("high", 1, 100, 1), governed("low", 2, 10, 2)], HOURLY)
    assert [(c.name, c.max_replicas) for c in caps] == [("low", 2), ("high", 1)]
    assert caps[0].reason == "priority 10: held at 2 replicas (its minReplicas)"
