"""Kubernetes quantities <-> plain numbers: CPU in cores, memory in bytes.

``format_cpu`` and ``format_memory`` write the canonical form the apiserver itself stores ("250m",
"2", "1536Mi"), so a recommendation written to status reads exactly like the pod spec it becomes;
a value like "1.5Gi" is valid input but the apiserver rewrites it as "1536Mi". They round UP to the
smallest unit they write (1m, 1 byte), so formatting never undercuts the value. ``describe_cpu`` and
``describe_memory`` are for people (reasons, kubectl columns): short, rounded to nearest, not exact.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Final

KiB: Final = 1024
MiB: Final = 1024**2
GiB: Final = 1024**3

_BINARY: Final = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL: Final = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_QUANTITY: Final = re.compile(
    r"^(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?P<suffix>[KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?$"
)


def parse_quantity(value: str | float) -> float:
    """A Kubernetes quantity ("250m", "1.5Gi", "2", "1e3", 2) as a plain number (cores or bytes)."""
    if isinstance(value, int | float):
        return float(value)
    match = _QUANTITY.match(value.strip())
    if match is None:
        raise ValueError(f"not a Kubernetes quantity: {value!r}")
    # Decimal keeps "0.1" exact until the single rounding into a float.
    number = Decimal(match["number"])
    suffix = match["suffix"] or ""
    if suffix in _BINARY:
        return float(number * 1024 ** _BINARY[suffix])
    return float(number.scaleb(_DECIMAL[suffix] if suffix in _DECIMAL else int(suffix[1:])))


def format_cpu(cores: float) -> str:
    """Cores as a quantity, rounded up to whole millicores: 0.25 -> "250m", 2 -> "2"."""
    cores = _non_negative(cores, "cpu")
    millicores = math.ceil(cores * 1000)
    # 0.25 * 1000 can come out as 250.00000000000003: step back when one millicore less still covers it.
    if millicores > 0 and (millicores - 1) / 1000 >= cores:
        millicores -= 1
    return str(millicores // 1000) if millicores % 1000 == 0 else f"{millicores}m"


def format_memory(size: float) -> str:
    """Bytes as a quantity, rounded up to whole bytes, in the largest binary unit that stays exact."""
    remaining = math.ceil(_non_negative(size, "memory"))
    if remaining == 0:
        return "0"
    for suffix, power in reversed(_BINARY.items()):
        if remaining % 1024**power == 0:
            return f"{remaining // 1024**power}{suffix}"
    return str(remaining)


def describe_cpu(cores: float) -> str:
    """Cores for a sentence: "212m" below one core, "1.5" above (rounded to 2-3 digits, not exact)."""
    millicores = cores * 1000
    if millicores < 10:  # keep a digit after the point for near-idle containers: "0.3m", not "0m"
        return f"{millicores:.2g}m"
    if cores < 1:
        return f"{round(millicores)}m"
    return _short(cores)


def describe_memory(size: float) -> str:
    """Bytes for a sentence: "301Mi", "1.5Gi" (three significant digits in the largest fitting unit)."""
    for suffix, power in reversed(_BINARY.items()):
        if size >= 1024**power:
            return f"{_short(size / 1024**power)}{suffix}"
    return f"{size:.0f}"


def _short(value: float) -> str:
    # ".3g" alone turns 1000..1023 into "1e+03".
    return f"{value:.0f}" if value >= 100 else f"{value:.3g}"


def _non_negative(value: float, what: str) -> float:
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{what} quantity must be finite and non-negative, got {value!r}")
    return value
