"""Who may lead: the rule for taking a coordination.k8s.io Lease, as client-go's leader election
has it. Time is this process's own monotonic clock, never the holder's renewTime, so clocks that
disagree between nodes cannot hand the lease to two processes."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LeaseRecord", "LeaseTiming", "may_take"]


@dataclass(frozen=True)
class LeaseTiming:
    """client-go's defaults: a leader that has not renewed for 15 s has lost the lease; it gives up
    itself after failing to renew for 10 s; everyone retries every 2 s."""

    duration_seconds: float = 15.0
    renew_deadline_seconds: float = 10.0
    retry_seconds: float = 2.0


@dataclass(frozen=True)
class LeaseRecord:
    holder: str  # "" when nobody holds it (released)
    version: str  # the Lease's resourceVersion: it changes whenever the holder renews


def may_take(
    record: LeaseRecord | None, me: str, unchanged_since: float, now: float, timing: LeaseTiming
) -> bool:
    """Whether ``me`` may write itself in as holder. ``unchanged_since`` is when this process first
    saw ``record`` as it is now; a holder that renews changes it, so one unchanged for a whole lease
    duration has stopped."""
    if record is None or not record.holder or record.holder == me:
        return True
    return now - unchanged_since >= timing.duration_seconds
