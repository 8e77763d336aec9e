"""An OOM kill at the container's limit under RequestsOnly: the request cannot pass the limit, so
holding it there makes the next OOM certain. Status says the limit is the cause and which limit
Thrifty would set; only RequestsAndLimits lets Apply mode raise it."""

from __future__ import annotations

import numpy as np

from thrifty.api.cost_policy import Pricing
from thrifty.api.scaling_policy import Vertical
from thrifty.engine.policy_requests import recommend_requests
from thrifty.engine.quantities import MiB
from thrifty.engine.rightsizing import ContainerUsage, VerticalRecommendation, VerticalSettings, recommend
from thrifty.engine.workload_prices import Prices, price_book
from thrifty.engine.workload_records import ContainerHistory, TemplateContainer, Workload

STEP = 300.0
LIMIT = 512 * MiB


def killed_at_the_limit(settings: VerticalSettings) -> VerticalRecommendation:
    return recommend(
        ContainerUsage(
            np.full(200, 0.1),
            np.full(200, 480 * MiB),
            STEP,
            cpu_request=0.1,
            memory_request=LIMIT,
            memory_limit=LIMIT,
            oom_killed=True,
            oom_memory_bytes=LIMIT,
        ),
        settings,
    )


def test_requests_only_keeps_the_request_at_the_limit_and_names_the_limit_it_needs() -> None:
    result = killed_at_the_limit(VerticalSettings(controlled_values="RequestsOnly"))
    # max(512Mi + 100Mi, 512Mi x 1.2) = 614.4Mi, rounded up to the 1Mi grid below 1Gi: 615Mi.
    assert result.memory_limit_needed == 615 * MiB
    assert result.memory_request == LIMIT
    assert result.memory_limit == LIMIT
    assert "the limit 512Mi is what kills the container" in result.reason
    assert "at least 615Mi" in result.reason


def test_requests_and_limits_raises_the_limit_with_the_request() -> None:
    result = killed_at_the_limit(VerticalSettings(controlled_values="RequestsAndLimits"))
    assert result.memory_limit_needed is None
    assert result.memory_request == 615 * MiB
    assert result.memory_limit == 615 * MiB
    assert result.memory_changed


def test_an_oom_below_the_limit_is_not_blamed_on_it() -> None:
    result = recommend(
        ContainerUsage(
            np.full(200, 0.1),
            np.full(200, 200 * MiB),
            STEP,
            memory_request=256 * MiB,
            memory_limit=2048 * MiB,
            oom_killed=True,
            oom_memory_bytes=300 * MiB,
        ),
        VerticalSettings(controlled_values="RequestsOnly"),
    )
    assert result.memory_limit_needed is None
    assert result.memory_request == 400 * MiB


def test_status_condition_says_the_limit_is_the_cause_and_what_thrifty_would_set() -> None:
    template = TemplateContainer("web", 0.1, None, LIMIT, LIMIT)
    workload = Workload("Deployment", "demo", "web", "uid", 2, 2, (template,))
    history = ContainerHistory(
        kind="Deployment", workload="web", container="web", pods=("web-1",),
        cpu_cores=np.full((1, 200), 0.1), memory_bytes=np.full((1, 200), 480 * MiB),
        cpu_request=0.1, cpu_limit=None, memory_request=LIMIT, memory_limit=LIMIT, oom_killed=True,
    )  # fmt: skip
    vertical = Vertical.model_validate({"controlledValues": "RequestsOnly"})
    prices = Prices.on_nodes(price_book(Pricing()), [])
    outcome = recommend_requests([history], STEP, vertical, workload, prices)
    assert (outcome.observation.type, outcome.observation.reason) == ("Recommendation", "LimitCausesOOM")
    assert "OOM-killed at its memory limit 512Mi" in outcome.observation.message
    assert "set the limit to 615Mi" in outcome.observation.message
    # Apply mode writes requests only: the limit stays the user's.
    assert all(not change.limits for change in outcome.changes.values())
