"""Right-sizing: container requests (and optionally limits) from usage percentiles, many at once.

Per container: request = percentile of usage x (1 + buffer), over all samples of the container
(every pod pooled). Memory is raised after an OOM kill to max(used + minIncrease, used x multiplier).
Then, in this order:

1. floors, 10m CPU and 32 MiB memory. A percentile of a near-idle container is scrape noise, and a
   request below these buys nothing: 10m is the smallest CPU share worth scheduling by (the cgroup
   weight of anything smaller rounds to the minimum), 32 MiB is below the working set of any real
   runtime plus its page cache. VPA's 25m / 250 MiB per pod over-sizes small sidecars; krr has none.
2. minAllowed / maxAllowed, which win over the floors (the user said so explicitly).
3. rounding UP to a clean grid, so the result never undercuts the percentile: CPU in 1m steps below
   100m and 5m steps above; memory in 1 MiB steps below 1 GiB and 16 MiB steps above. Every step is
   at most 5% of the value, well under the default 10% change threshold. maxAllowed caps again
   afterwards, so an off-grid maxAllowed is returned exactly.
4. RequestsOnly: the request is capped at the current limit (a request above its limit is invalid).
   RequestsAndLimits: the limit keeps its current limit/request ratio; no limit stays no limit.
5. small changes, per resource: a resource whose request moves by less than minChange of its current
   value keeps its current request and limit, so a pod is not restarted for a CPU change just because
   memory changed. A memory increase after an OOM kill is never suppressed. If neither resource
   changes, the container is Unchanged.

Containers with fewer valid samples than minSamples, or less history than minHistoryHours (span from
first to last valid sample), get no recommendation: InsufficientHistory, with what they have.

Arrays: samples are (containers, time) or (containers, pods, time) with NaN for missing samples;
current values are (containers,) with NaN for "unset". Work is vectorized over containers; only the
reason strings are built per container.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from thrifty.engine.quantities import MiB, describe_cpu, describe_memory, format_cpu, format_memory

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

ControlledValues = Literal["RequestsOnly", "RequestsAndLimits"]
Status = Literal["Recommended", "InsufficientHistory", "Unchanged"]

CPU_FLOOR_CORES: Final = 0.010
MEMORY_FLOOR_BYTES: Final = 32.0 * MiB


@dataclass(frozen=True)
class _Grid:
    """Round-up grid, in units of 1/scale: ``fine`` steps below ``boundary``, ``coarse`` above."""

    scale: float
    boundary: float
    fine: float
    coarse: float


_CPU_GRID: Final = _Grid(scale=1000.0, boundary=100.0, fine=1.0, coarse=5.0)  # millicores
_MEMORY_GRID: Final = _Grid(scale=1.0 / MiB, boundary=1024.0, fine=1.0, coarse=16.0)  # MiB


@dataclass(frozen=True)
class VerticalSettings:
    """ScalingPolicy.spec.vertical in engine units: fractions, cores and bytes; None = no bound."""

    cpu_percentile: float = 95.0
    cpu_buffer: float = 0.0
    memory_percentile: float = 100.0
    memory_buffer: float = 0.15
    min_cpu_cores: float | None = None
    max_cpu_cores: float | None = None
    min_memory_bytes: float | None = None
    max_memory_bytes: float | None = None
    controlled_values: ControlledValues = "RequestsOnly"
    min_change: float = 0.10
    oom_min_increase_bytes: float = 100.0 * MiB
    oom_multiplier: float = 1.2
    min_samples: int = 100
    min_history_hours: float = 3.0
    cpu_floor_cores: float = CPU_FLOOR_CORES
    memory_floor_bytes: float = MEMORY_FLOOR_BYTES

    def __post_init__(self) -> None:
        for name in ("cpu_percentile", "memory_percentile"):
            if not 0 < getattr(self, name) <= 100:
                raise ValueError(f"{name} must be in (0, 100]")
        for name in ("cpu_buffer", "memory_buffer", "min_change", "oom_min_increase_bytes"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be non-negative")
        if self.oom_multiplier < 1:
            raise ValueError("oom_multiplier must be at least 1")
        for low, high in (
            (self.min_cpu_cores, self.max_cpu_cores),
            (self.min_memory_bytes, self.max_memory_bytes),
        ):
            if low is not None and high is not None and low > high:
                raise ValueError(f"minAllowed {low} is above maxAllowed {high}")


@dataclass(frozen=True)
class VerticalRecommendation:
    """The decision for one container. Values in cores and bytes; a None limit means no limit, and
    every value is None under InsufficientHistory. Unchanged resources carry their current values."""

    status: Status
    cpu_request: float | None
    cpu_limit: float | None
    memory_request: float | None
    memory_limit: float | None
    cpu_changed: bool
    memory_changed: bool
    oom_bumped: bool
    reason: str
    samples: int
    hours: float
    # RequestsOnly after an OOM kill at the limit: the request cannot pass the limit, so the limit is
    # what kills the container. The limit Thrifty would set; None when the limit is not the cause.
    memory_limit_needed: float | None = None


@dataclass(frozen=True)
class ContainerUsage:
    """One container's usage (1-D, or pods x time) and current resources; None = unset."""

    cpu_cores: npt.ArrayLike
    memory_bytes: npt.ArrayLike
    step_seconds: float
    cpu_request: float | None = None
    cpu_limit: float | None = None
    memory_request: float | None = None
    memory_limit: float | None = None
    oom_killed: bool = False
    oom_memory_bytes: float | None = None


def recommend(usage: ContainerUsage, settings: VerticalSettings | None = None) -> VerticalRecommendation:
    """Right-size one container (a batch of one)."""

    def one(value: float | None) -> list[float]:
        return [np.nan if value is None else value]

    return recommend_batch(
        np.asarray(usage.cpu_cores, dtype=np.float64)[np.newaxis],
        np.asarray(usage.memory_bytes, dtype=np.float64)[np.newaxis],
        usage.step_seconds,
        settings,
        cpu_request=one(usage.cpu_request),
        cpu_limit=one(usage.cpu_limit),
        memory_request=one(usage.memory_request),
        memory_limit=one(usage.memory_limit),
        oom_killed=[usage.oom_killed],
        oom_memory_bytes=one(usage.oom_memory_bytes),
    )[0]


def recommend_batch(
    cpu_cores: npt.ArrayLike,
    memory_bytes: npt.ArrayLike,
    step_seconds: float,
    settings: VerticalSettings | None = None,
    *,
    cpu_request: npt.ArrayLike | None = None,
    cpu_limit: npt.ArrayLike | None = None,
    memory_request: npt.ArrayLike | None = None,
    memory_limit: npt.ArrayLike | None = None,
    oom_killed: npt.ArrayLike | None = None,
    oom_memory_bytes: npt.ArrayLike | None = None,
) -> list[VerticalRecommendation]:
    """Right-size n containers that share one settings group.

    ``cpu_cores`` and ``memory_bytes``: (n, time) or (n, pods, time), NaN = missing sample, one sample
    per ``step_seconds``. Current requests and limits: (n,), NaN = unset; None = unset for all.
    ``oom_killed``: (n,) bools, an OOM kill within the lookback; ``oom_memory_bytes``: memory in use
    at that kill, NaN = unknown (the observed peak is used instead).
    """
    settings = settings or VerticalSettings()
    if step_seconds <= 0:
        raise ValueError("step_seconds must be positive")
    cpu, cpu_span = _pooled(cpu_cores, step_seconds)
    memory, memory_span = _pooled(memory_bytes, step_seconds)
    if cpu.shape[0] != memory.shape[0]:
        raise ValueError(f"cpu has {cpu.shape[0]} containers, memory {memory.shape[0]}")
    n = cpu.shape[0]
    current_cpu = _Current.of(cpu_request, cpu_limit, n)
    current_memory = _Current.of(memory_request, memory_limit, n)
    killed = np.zeros(n, np.bool_) if oom_killed is None else np.asarray(oom_killed, dtype=np.bool_)
    if killed.shape != (n,):
        raise ValueError(f"expected {n} OOM flags, got shape {killed.shape}")
    killed_at = _vector(oom_memory_bytes, n)

    samples = np.minimum(np.count_nonzero(~np.isnan(cpu), 1), np.count_nonzero(~np.isnan(memory), 1))
    hours = np.minimum(cpu_span, memory_span) / 3600.0
    enough = (samples >= settings.min_samples) & (hours >= settings.min_history_hours) & (samples > 0)

    rows = np.flatnonzero(enough)
    if len(rows) < n:  # only then: selecting rows copies the sample arrays
        cpu, memory = cpu[rows], memory[rows]
    cpu_plan = _plan_cpu(cpu, current_cpu.take(rows), settings)
    memory_plan = _plan_memory(memory, current_memory.take(rows), killed[rows], killed_at[rows], settings)
    plan_of = dict(zip(rows.tolist(), range(len(rows)), strict=True))
    return [
        _decide(cpu_plan, memory_plan, plan_of[i], int(samples[i]), float(hours[i]), settings)
        if i in plan_of
        else _insufficient(int(samples[i]), float(hours[i]), settings)
        for i in range(n)
    ]


def with_cpu_request(
    rec: VerticalRecommendation,
    cpu_request: float,
    current_request: float | None,
    current_limit: float | None,
    settings: VerticalSettings,
    why: str,
) -> VerticalRecommendation:
    """``rec`` with its CPU request moved to ``cpu_request`` (for ``why``, which the reason says),
    through the same last steps as its own: minAllowed and maxAllowed, the grid (up), the current
    limit under RequestsOnly or the limit's ratio under RequestsAndLimits, and minChange."""
    request = float(_round_up(np.array([cpu_request]), _CPU_GRID)[0])
    if settings.min_cpu_cores is not None:
        request = max(request, settings.min_cpu_cores)
    if settings.max_cpu_cores is not None:
        request = min(request, settings.max_cpu_cores)
    limit = current_limit
    if settings.controlled_values == "RequestsOnly":
        if current_limit is not None:
            request = min(request, current_limit)
    elif current_limit is not None and current_request:
        limit = float(_round_up(np.array([request * current_limit / current_request]), _CPU_GRID)[0])
    changed = not current_request or (
        request != current_request and abs(request - current_request) / current_request >= settings.min_change
    )
    # The CPU part of a reason never holds "; " (only memory's limit note does): the rest is kept,
    # and of the CPU part what it was computed from ("cpu p95 400m"), before its outcome.
    own, *rest = rec.reason.split("; ", 1)
    basis = own.split(" → ", 1)[0].split(": keeps", 1)[0]
    was = "" if current_request is None else f" (was {format_cpu(current_request)})"
    if changed:
        text = f"{basis}, {why} → {format_cpu(request)}{was}"
        if settings.controlled_values == "RequestsAndLimits" and limit is not None:
            text += f", limit {format_cpu(limit)}"
    else:
        request, limit = current_request or request, current_limit
        text = f"{basis}, {why}: keeps {format_cpu(request)} (change under {settings.min_change:.0%})"
    return replace(
        rec,
        status="Recommended" if changed or rec.memory_changed else "Unchanged",
        cpu_request=request,
        cpu_limit=limit,
        cpu_changed=bool(changed),
        reason="; ".join([text, *rest]),
    )


def row_percentiles(values: npt.ArrayLike, q: npt.ArrayLike) -> FloatArray:
    """Per-row percentile ``q`` (0..100, scalar or one per row) of a 2-D array, ignoring NaN.

    Equals ``np.nanpercentile(row, q)`` with the default 'linear' method, row by row, but sorts all
    rows at once. Rows with no valid value give NaN.
    """
    table = np.asarray(values, dtype=np.float64)
    if table.ndim != 2:
        raise ValueError(f"expected a 2-D array, got shape {table.shape}")
    rows = table.shape[0]
    fraction = np.broadcast_to(np.asarray(q, dtype=np.float64), (rows,)) / 100.0
    if np.any((fraction < 0) | (fraction > 1)):
        raise ValueError("percentiles must be within 0..100")
    count = np.count_nonzero(~np.isnan(table), axis=1)
    result = np.full(rows, np.nan)
    has = count > 0
    if not np.any(has):
        return result
    ordered = np.sort(table[has], axis=1)  # NaN sorts last, so each row's valid values lead
    position = fraction[has] * (count[has] - 1)
    low = np.floor(position).astype(np.intp)
    high = np.minimum(low + 1, count[has] - 1)
    t = position - low
    a = np.take_along_axis(ordered, low[:, np.newaxis], 1)[:, 0]
    b = np.take_along_axis(ordered, high[:, np.newaxis], 1)[:, 0]
    # numpy's own lerp: interpolate from the nearer end, which is exact at t = 0 and t = 1.
    result[has] = np.where(t >= 0.5, b - (b - a) * (1 - t), a + (b - a) * t)
    return result


# ----- internals -----


@dataclass(frozen=True)
class _Current:
    """Current request and limit per container, NaN = unset. A limit without a request means
    request = limit, as the apiserver defaults it."""

    request: FloatArray
    limit: FloatArray

    @classmethod
    def of(cls, request: npt.ArrayLike | None, limit: npt.ArrayLike | None, n: int) -> _Current:
        limit_values = _vector(limit, n)
        request_values = _vector(request, n)
        return cls(np.where(np.isnan(request_values), limit_values, request_values), limit_values)

    def take(self, rows: npt.NDArray[np.intp]) -> _Current:
        return _Current(self.request[rows], self.limit[rows])


@dataclass(frozen=True)
class _Plan:
    """Every intermediate value of one resource's decision, kept so the reason can tell the story."""

    resource: Literal["cpu", "memory"]
    statistic: float  # the percentile
    target: FloatArray  # statistic x (1 + buffer), raised by the OOM bump for memory
    percentile: FloatArray
    bump: FloatArray  # OOM bump target, NaN when none
    used_at_kill: FloatArray
    floored: BoolArray
    raised_to_min: BoolArray
    capped_at_max: BoolArray
    capped_at_limit: BoolArray
    limit_needed: FloatArray  # RequestsOnly: the limit an OOM bump needs above the current one, else NaN
    request: FloatArray
    limit: FloatArray
    changed: BoolArray
    current: _Current


def _plan_cpu(cpu: FloatArray, current: _Current, settings: VerticalSettings) -> _Plan:
    percentile = _percentile(cpu, settings.cpu_percentile)
    target = percentile * (1 + settings.cpu_buffer)
    none = np.full(len(target), np.nan)
    return _finish(
        "cpu", settings.cpu_percentile, percentile, target, none, none, current, settings,
        floor=settings.cpu_floor_cores, bounds=(settings.min_cpu_cores, settings.max_cpu_cores),
        grid=_CPU_GRID, never_suppress=np.zeros(len(target), bool),
    )  # fmt: skip


def _plan_memory(
    memory: FloatArray,
    current: _Current,
    killed: BoolArray,
    killed_at: FloatArray,
    settings: VerticalSettings,
) -> _Plan:
    percentile = _percentile(memory, settings.memory_percentile)
    target = percentile * (1 + settings.memory_buffer)
    # Samples every few minutes miss the spike that killed the container; the memory at the kill,
    # when the source knows it (often the limit), is the better base.
    used = np.where(killed, np.where(np.isnan(killed_at), _percentile(memory, 100.0), killed_at), np.nan)
    bump = np.maximum(used + settings.oom_min_increase_bytes, used * settings.oom_multiplier)
    bumped = bump > target
    target = np.where(bumped, bump, target)
    return _finish(
        "memory", settings.memory_percentile, percentile, target, np.where(bumped, bump, np.nan), used,
        current, settings, floor=settings.memory_floor_bytes,
        bounds=(settings.min_memory_bytes, settings.max_memory_bytes), grid=_MEMORY_GRID,
        never_suppress=bumped,
    )  # fmt: skip


def _finish(
    resource: Literal["cpu", "memory"],
    statistic: float,
    percentile: FloatArray,
    target: FloatArray,
    bump: FloatArray,
    used_at_kill: FloatArray,
    current: _Current,
    settings: VerticalSettings,
    *,
    floor: float,
    bounds: tuple[float | None, float | None],
    grid: _Grid,
    never_suppress: BoolArray,
) -> _Plan:
    low = -np.inf if bounds[0] is None else bounds[0]
    high = np.inf if bounds[1] is None else bounds[1]
    floored = np.maximum(target, floor)
    bounded = np.clip(floored, low, high)
    rounded = _round_up(bounded, grid)
    request = np.minimum(rounded, high)
    capped_at_limit = np.zeros(len(request), bool)
    limit_needed = np.full(len(request), np.nan)
    if settings.controlled_values == "RequestsOnly":
        capped_at_limit = request > current.limit  # False where the limit is NaN
        # An OOM bump held at the limit it was killed at would be killed again: report the limit.
        limit_needed = np.where(capped_at_limit & never_suppress, request, np.nan)
        request = np.where(capped_at_limit, current.limit, request)
        limit = current.limit
    else:
        ratio = current.limit / current.request  # NaN without a limit: stays without one
        limit = np.where(np.isnan(ratio), np.nan, _round_up(request * ratio, grid))
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.abs(request - current.request) / current.request
    changed = (
        np.isnan(current.request)
        | (current.request == 0)
        | ((request != current.request) & (relative >= settings.min_change))
        | (never_suppress & (request > current.request))
    )
    return _Plan(
        resource=resource,
        statistic=statistic,
        target=target,
        percentile=percentile,
        bump=bump,
        used_at_kill=used_at_kill,
        floored=(target < floor) & (floored >= low) & (floored <= high),
        raised_to_min=floored < low,
        capped_at_max=(floored > high) | (rounded > high),
        capped_at_limit=capped_at_limit & changed,
        limit_needed=limit_needed,
        request=np.where(changed, request, current.request),
        limit=np.where(changed, limit, current.limit),
        changed=changed,
        current=current,
    )


def _round_up(values: FloatArray, grid: _Grid) -> FloatArray:
    """The smallest grid point >= each value; dividing by an integer step count keeps 215m exactly 0.215."""
    units = values * grid.scale
    step = np.where(units < grid.boundary, grid.fine, grid.coarse)
    count = np.ceil(units / step)
    # Float division can land one step high (0.215 * 1000 / 5 = 43.00000000000001): take the step
    # below whenever it still covers the value, so the result is the exact smallest grid point.
    below = (count - 1) * step / grid.scale
    return np.where(below >= values, below, count * step / grid.scale)


def _percentile(samples: FloatArray, q: float) -> FloatArray:
    if q == 100.0:  # the maximum needs no sort
        return np.nanmax(samples, axis=1) if samples.shape[0] else np.zeros(0)
    return row_percentiles(samples, q)


def _pooled(samples: npt.ArrayLike, step_seconds: float) -> tuple[FloatArray, FloatArray]:
    """Samples as (n, pods x time) and the span in seconds from the first to the last valid time."""
    array = np.asarray(samples, dtype=np.float64)
    if array.ndim not in (2, 3):
        raise ValueError(f"samples must be (containers, time) or (containers, pods, time), got {array.shape}")
    array = np.where(np.isfinite(array), array, np.nan)
    valid: BoolArray = ~np.isnan(array)
    in_time: BoolArray = np.any(valid, axis=1) if array.ndim == 3 else valid
    width = in_time.shape[1]
    if width == 0:
        return array.reshape(array.shape[0], 0), np.zeros(array.shape[0])
    first = np.argmax(in_time, axis=1)
    last = width - 1 - np.argmax(in_time[:, ::-1], axis=1)
    span = np.where(np.any(in_time, axis=1), (last - first) * step_seconds, 0.0)
    return array.reshape(array.shape[0], -1), span.astype(np.float64)


def _vector(values: npt.ArrayLike | None, n: int) -> FloatArray:
    """(n,) floats; None means NaN (unset) for every container."""
    if values is None:
        return np.full(n, np.nan)
    array = np.asarray(values, dtype=np.float64)
    if array.shape != (n,):
        raise ValueError(f"expected {n} values, got shape {array.shape}")
    return array


# ----- reasons -----


def _insufficient(samples: int, hours: float, settings: VerticalSettings) -> VerticalRecommendation:
    reason = (
        f"insufficient history: {samples} samples over {_span(hours)}; needs {settings.min_samples} "
        f"samples over {settings.min_history_hours:g} h"
    )
    return VerticalRecommendation(
        "InsufficientHistory", None, None, None, None, False, False, False, reason, samples, hours, None
    )


def _decide(
    cpu: _Plan, memory: _Plan, k: int, samples: int, hours: float, settings: VerticalSettings
) -> VerticalRecommendation:
    changed = bool(cpu.changed[k] or memory.changed[k])
    history = f"{samples} samples over {_span(hours)}"
    reason = f"{_explain(cpu, k, settings)}; {_explain(memory, k, settings)}; {history}"
    return VerticalRecommendation(
        status="Recommended" if changed else "Unchanged",
        cpu_request=float(cpu.request[k]),
        cpu_limit=_optional(cpu.limit[k]),
        memory_request=float(memory.request[k]),
        memory_limit=_optional(memory.limit[k]),
        cpu_changed=bool(cpu.changed[k]),
        memory_changed=bool(memory.changed[k]),
        oom_bumped=bool(not np.isnan(memory.bump[k])),
        reason=reason,
        samples=samples,
        hours=hours,
        memory_limit_needed=_optional(memory.limit_needed[k]),
    )


def _explain(plan: _Plan, k: int, settings: VerticalSettings) -> str:
    cpu = plan.resource == "cpu"
    describe, exact = (describe_cpu, format_cpu) if cpu else (describe_memory, format_memory)
    buffer = settings.cpu_buffer if cpu else settings.memory_buffer
    stat = "max" if plan.statistic == 100 else f"p{plan.statistic:g}"
    text = f"{plan.resource} {stat} {describe(plan.percentile[k])}"
    if buffer:
        text += f" x {1 + buffer:g} = {describe(plan.percentile[k] * (1 + buffer))}"
    if not np.isnan(plan.bump[k]):
        used = describe(plan.used_at_kill[k])
        text += (
            f", OOM kill at {used}: max({used} + {describe(settings.oom_min_increase_bytes)}, "
            f"{used} x {settings.oom_multiplier:g}) = {describe(plan.bump[k])}"
        )
    floor, low, high = (
        (settings.cpu_floor_cores, settings.min_cpu_cores, settings.max_cpu_cores)
        if cpu
        else (settings.memory_floor_bytes, settings.min_memory_bytes, settings.max_memory_bytes)
    )
    # (applies, what, value): the value is only formatted when the note applies, since it may be unset.
    notes = [
        (plan.floored[k], "raised to the floor", floor),
        (plan.raised_to_min[k], "raised to minAllowed", low),
        (plan.capped_at_max[k], "capped at maxAllowed", high),
        (plan.capped_at_limit[k], "capped at the current limit", plan.current.limit[k]),
    ]
    text += "".join(
        f", {what} {exact(value)}" for applies, what, value in notes if applies and value is not None
    )
    if not np.isnan(plan.limit_needed[k]):
        text += (
            f"; the limit {exact(plan.current.limit[k])} is what kills the container: it needs a limit of "
            f"at least {exact(plan.limit_needed[k])}, which controlledValues RequestsOnly leaves to you"
        )
    current = plan.current.request[k]
    if not plan.changed[k]:
        return text + f": keeps {exact(current)} (change under {settings.min_change:.0%})"
    text += f" → {exact(plan.request[k])}" + ("" if np.isnan(current) else f" (was {exact(current)})")
    if settings.controlled_values == "RequestsAndLimits" and not np.isnan(plan.limit[k]):
        text += f", limit {exact(plan.limit[k])}"
    return text


def _span(hours: float) -> str:
    return f"{hours / 24:.1f} d" if hours >= 48 else f"{hours:.1f} h"


def _optional(value: np.float64) -> float | None:
    return None if np.isnan(value) else float(value)
