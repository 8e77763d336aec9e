"""Kubernetes quantities: the canonical strings the apiserver stores, parsed back within rounding."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from thrifty.engine.quantities import (
    GiB,
    MiB,
    describe_cpu,
    describe_memory,
    format_cpu,
    format_memory,
    parse_quantity,
)


@pytest.mark.parametrize(
    ("cores", "text"),
    [(0.25, "250m"), (2, "2"), (1.5, "1500m"), (0.001, "1m"), (0.0001, "1m"), (0.2121, "213m"), (0, "0")],
)
def test_cpu_is_written_in_whole_millicores_rounded_up(cores: float, text: str) -> None:
    assert format_cpu(cores) == text


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (512 * MiB, "512Mi"),
        (GiB, "1Gi"),
        (1.5 * GiB, "1536Mi"),  # the apiserver's canonical form of "1.5Gi"
        (64 * 1024, "64Ki"),
        (1000, "1000"),
        (100.2, "101"),
        (0, "0"),
    ],
)
def test_memory_is_written_in_the_largest_exact_binary_unit(size: float, text: str) -> None:
    assert format_memory(size) == text


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("250m", 0.25),
        ("2", 2.0),
        ("1.5Gi", 1.5 * GiB),
        ("512Mi", 512 * MiB),
        ("1k", 1000.0),
        ("1M", 1e6),
        ("1e3", 1000.0),
        ("1E-3", 0.001),
        ("1E", 1e18),
        (".5", 0.5),
        ("+3Ki", 3072.0),
        ("100n", 1e-7),
    ],
)
def test_parse_reads_every_suffix(text: str, value: float) -> None:
    assert parse_quantity(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["", "abc", "1.5mi", "1 Gi", "Gi", "1e1.5"])
def test_parse_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        parse_quantity(text)


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf])
def test_formatting_refuses_negative_or_non_finite(bad: float) -> None:
    with pytest.raises(ValueError, match="non-negative"):
        format_cpu(bad)
    with pytest.raises(ValueError, match="non-negative"):
        format_memory(bad)


def test_descriptions_are_short_for_reasons() -> None:
    assert describe_cpu(0.2123) == "212m"
    assert describe_cpu(0.00029) == "0.29m"
    assert describe_cpu(1.5) == "1.5"
    assert describe_memory(301.4 * MiB) == "301Mi"
    assert describe_memory(1.5 * GiB) == "1.5Gi"
    assert describe_memory(1023.7 * MiB) == "1024Mi"  # not "1.02e+03Mi"


@given(st.floats(min_value=0, max_value=1e5, allow_nan=False))
def test_cpu_round_trips_to_within_one_millicore_never_below(cores: float) -> None:
    parsed = parse_quantity(format_cpu(cores))
    assert cores - 1e-12 <= parsed < cores + 0.001 + 1e-9


@given(st.floats(min_value=0, max_value=2.0**50, allow_nan=False))
def test_memory_round_trips_to_within_one_byte_never_below(size: float) -> None:
    parsed = parse_quantity(format_memory(size))
    assert size <= parsed <= size + 1


@given(st.integers(min_value=0, max_value=2**50))
def test_whole_bytes_round_trip_exactly(size: int) -> None:
    assert parse_quantity(format_memory(size)) == size
