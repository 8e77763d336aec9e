"""Operator settings taken from the environment, read once at import (kopf decorators need them then)."""

from __future__ import annotations

import os
from typing import Final


def _seconds(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = float(raw)
    if value <= 0:
        raise ValueError(f"{name} must be a positive number of seconds, got {raw!r}")
    return value


# How often every policy is re-checked even without a change to it (e.g. its target appearing).
RESYNC_SECONDS: Final = _seconds("THRIFTY_RESYNC_SECONDS", 10.0)
PREFIX: Final = "thrifty.dev"
# How often usage history is read from Prometheus (one batch per namespace per round).
EVALUATION_SECONDS: Final = _seconds("THRIFTY_EVALUATION_SECONDS", 60.0)
# How often replicas are decided (the HPA's --horizontal-pod-autoscaler-sync-period is 15 s).
HORIZONTAL_SYNC_SECONDS: Final = _seconds("THRIFTY_HORIZONTAL_SYNC_SECONDS", 15.0)
