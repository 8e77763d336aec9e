"""Who may take the operator's Lease: never while its holder renews, always once it stops."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from thrifty.engine.leader_lease import LeaseRecord, LeaseTiming, may_take

TIMING = LeaseTiming()
HELD = LeaseRecord("thrifty-a", "41")


def test_a_lease_nobody_holds_is_taken_at_once() -> None:
    assert may_take(None, "thrifty-b", unchanged_since=100.0, now=100.0, timing=TIMING)
    assert may_take(LeaseRecord("", "42"), "thrifty-b", unchanged_since=100.0, now=100.0, timing=TIMING)


def test_the_holder_renews_its_own_lease() -> None:
    assert may_take(HELD, "thrifty-a", unchanged_since=100.0, now=100.0, timing=TIMING)


def test_a_renewed_lease_is_not_taken_and_an_unrenewed_one_is() -> None:
    assert not may_take(HELD, "thrifty-b", unchanged_since=100.0, now=114.9, timing=TIMING)
    assert may_take(HELD, "thrifty-b", unchanged_since=100.0, now=115.0, timing=TIMING)


# A millisecond short of the duration: closer than that, float rounding of now - seen decides.
@given(st.floats(0, 1e6), st.floats(0, TIMING.duration_seconds - 1e-3))
def test_within_a_lease_duration_of_the_last_renewal_seen_nobody_else_takes_it(
    seen: float, later: float
) -> None:
    assert not may_take(HELD, "thrifty-b", unchanged_since=seen, now=seen + later, timing=TIMING)
