"""What the horizontal step decided last, per policy, in this process.

Status is written only when something a user reads changes, so between writes the stabilization
windows run on this; a process that has not decided for a policy yet starts from status instead
(``engine.scaling_history.resumed_state``). Losing it on a restart is safe, never exact.
"""

from __future__ import annotations

import threading

from thrifty.engine.horizontal import HorizontalState

__all__ = ["forget", "recall", "remember"]

_STATES: dict[str, HorizontalState] = {}
_LOCK = threading.Lock()


def recall(policy_uid: str) -> HorizontalState | None:
    with _LOCK:
        return _STATES.get(policy_uid)


def remember(policy_uid: str, state: HorizontalState) -> None:
    with _LOCK:
        _STATES[policy_uid] = state


def forget(policy_uid: str) -> None:
    with _LOCK:
        _STATES.pop(policy_uid, None)
