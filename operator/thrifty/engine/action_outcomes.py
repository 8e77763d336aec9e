"""The changes the operator makes to the cluster, by kind, and how the API server answered each:
the words of ``thrifty_actions_total{kind, result}``."""

from __future__ import annotations

from typing import Final

from thrifty.engine.budget_caps import ReplicaCap

__all__ = [
    "ACTION_KINDS",
    "ACTION_RESULTS",
    "APPLIED",
    "BUDGET_SCALE_DOWN",
    "CONFLICT",
    "EVICT",
    "FAILED",
    "REFUSED",
    "REPLACE_PENDING",
    "RESIZE",
    "SCALE",
    "action_result",
    "scale_kind",
]

SCALE: Final = "scale"  # replicas, through the scale subresource
BUDGET_SCALE_DOWN: Final = "budget_scale_down"  # replicas lowered to a ResourceBudget's cap
RESIZE: Final = "resize"  # container requests (and limits) in the pod template
EVICT: Final = "evict"  # a pod evicted to be created again on the other capacity type
REPLACE_PENDING: Final = "replace_pending"  # a pod without a node deleted to be created elsewhere
ACTION_KINDS: Final = (SCALE, BUDGET_SCALE_DOWN, RESIZE, EVICT, REPLACE_PENDING)

APPLIED: Final = "applied"
FAILED: Final = "failed"
REFUSED: Final = "refused"  # 429: a PodDisruptionBudget allows no disruption now
CONFLICT: Final = "conflict"  # 409: the object changed meanwhile (a pending pod got a node)
ACTION_RESULTS: Final = (APPLIED, FAILED, REFUSED, CONFLICT)


def action_result(http_status: int | None) -> str:
    """The result of an action the API server refused with ``http_status`` (None: no answer)."""
    if http_status == 429:
        return REFUSED
    if http_status == 409:
        return CONFLICT
    return FAILED


def scale_kind(before: int, after: int, limited_by: str | None, budget_cap: ReplicaCap | None) -> str:
    """A change of replicas from ``before`` to ``after``: a budget's scale-down when it goes down and
    the budget's cap is the bound that set the count (``limited_by``, as the horizontal decision
    names it: "budget NAME (cap N)"), else a scale."""
    if budget_cap is None or limited_by is None or after >= before:
        return SCALE
    return BUDGET_SCALE_DOWN if limited_by.startswith(f"{budget_cap[1]} (") else SCALE
