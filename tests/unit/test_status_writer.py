"""What the status writer refuses to send: a number JSON cannot carry."""

from __future__ import annotations

import math

from thrifty.handlers.status_writer import without_non_finite


def test_non_finite_numbers_are_left_out_of_a_status_patch() -> None:
    wire = {"spent": math.inf, "forecast": math.nan, "remaining": 3.5, "cost": {"monthly": -math.inf, "x": 1}}
    assert without_non_finite(wire) == {"remaining": 3.5, "cost": {"x": 1}}
    assert without_non_finite([1.0, math.nan]) == [1.0, None]
