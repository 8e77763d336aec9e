"""Write a resource's status only when it changed, and post an Event when Ready changes.

A reconcile collects what its steps concluded (``Conclusions``), builds the status it wants, and
publishes both here. Re-running with the same conclusions patches nothing and posts nothing, which
is what makes a restart of the operator free of side effects.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import kopf
from kubernetes.client import ApiException
from pydantic import ValidationError

from thrifty.actuators.object_events import post_event
from thrifty.actuators.status_writes import write_status
from thrifty.api.common import ApiModel, Condition
from thrifty.api.condition_types import INVALID_SPEC, RECONCILE_ERROR, STALLED
from thrifty.api.conditions import READY, ConditionSet, Observation, merge_conditions, ready_from
from thrifty.settings import STATUS_REFRESH_SECONDS

__all__ = [
    "Conclusions",
    "commit",
    "committed",
    "forget",
    "freshest",
    "publish",
    "reconcile_guard",
    "record_change",
    "stalled",
    "without_managed_fields",
]

log = logging.getLogger(__name__)
Handler = Callable[..., None]
StatusComparison = Callable[[Mapping[str, Any], Mapping[str, Any]], bool]
# When each object's status was last written by this process (first seen counts as written).
_LAST_WRITE: dict[str, float] = {}


@dataclass
class Conclusions:
    """What the steps of one reconcile concluded about its conditions."""

    prerequisites: list[Observation] = field(default_factory=list)  # decide Ready
    informational: list[Observation] = field(default_factory=list)  # reported, Ready does not wait on them
    not_ready: Observation | None = None  # overrides a True Ready (e.g. a conflict in Apply mode)
    # Owned types carried over unchanged from the last round (e.g. Recommendation while Prometheus is
    # down): not observed now, yet still true of the object.
    kept: set[str] = field(default_factory=set)

    def add(self, other: Conclusions) -> None:
        self.prerequisites += other.prerequisites
        self.informational += other.informational
        self.not_ready = self.not_ready or other.not_ready
        self.kept |= other.kept


def stalled(reason: str, message: str) -> Conclusions:
    """The reconcile cannot go on until something changes (the spec, or what it names): Stalled=True
    and Ready=False with the same reason."""
    return Conclusions(
        informational=[Observation(STALLED, "True", reason, message)],
        not_ready=Observation(READY, "False", reason, message),
    )


def _combined(observations: list[Observation]) -> list[Observation]:
    """Each type once: several steps' observations of one type give False if any is False."""
    merged = []
    for kind in dict.fromkeys(o.type for o in observations):
        of_kind = [o for o in observations if o.type == kind]
        chosen = [o for o in of_kind if o.status != "True"] or of_kind
        messages = dict.fromkeys(o.message for o in chosen)  # two steps may say the same thing
        merged.append(Observation(kind, chosen[0].status, chosen[0].reason, "; ".join(messages)))
    return merged


def _carried(existing: Iterable[Condition], kept: set[str], observed: set[str]) -> list[Observation]:
    return [
        Observation(c.type, c.status, c.reason or "", c.message or "")
        for c in existing
        if c.type in kept and c.type not in observed
    ]


def publish(
    body: kopf.Body,
    patch: kopf.Patch,
    owned: ConditionSet,
    desired: ApiModel,
    conclusions: Conclusions,
    ready: tuple[str, str],
    unchanged: StatusComparison | None = None,
) -> None:
    """Merge the conclusions into ``desired`` (plus a summary Ready) and patch what differs from the
    object's status. Ready is False with the first failing prerequisite's reason, or with
    ``not_ready`` when given. An owned condition type neither observed nor kept is removed.

    With ``unchanged`` (before, after in wire form), a status that reads the same to a user is not
    written, unless ``THRIFTY_STATUS_REFRESH_SECONDS`` is set and the last write is that old."""
    current_raw = body.get("status") or {}
    current = type(desired).model_validate(current_raw)
    existing: list[Condition] = list(getattr(current, "conditions", []))
    prerequisites = _combined(conclusions.prerequisites)
    informational = _combined(conclusions.informational)
    summary = ready_from(prerequisites, *ready)
    if summary.status == "True" and conclusions.not_ready is not None:
        summary = conclusions.not_ready
    observed = [*prerequisites, *informational, summary]
    observed += _carried(existing, conclusions.kept, {o.type for o in observed})
    owned.check(observed)
    generation = body.metadata.get("generation")
    conditions = merge_conditions(existing, observed, generation, datetime.now(UTC), owned.types)
    wire = without_non_finite(
        desired.model_copy(update={"observed_generation": generation, "conditions": conditions}).to_wire()
    )
    differs = {key: value for key, value in wire.items() if current_raw.get(key) != value}
    uid, now = str(body.metadata.uid), time.monotonic()
    written = _LAST_WRITE.setdefault(uid, now)
    if (
        differs
        and unchanged is not None
        and unchanged(current_raw, wire)
        and now - written < STATUS_REFRESH_SECONDS
    ):
        return  # nothing a user would read differently: no write, and Ready has not moved
    for key, value in differs.items():
        patch.status[key] = value
    if differs:
        _LAST_WRITE[uid] = now
    before = next((c for c in existing if c.type == READY), None)
    if before is None or (before.status, before.reason) != (summary.status, summary.reason):
        kind = "Normal" if summary.status == "True" else "Warning"
        post_event(body, kind, summary.reason, summary.message)


def forget(uid: str) -> None:
    """Drop what this process remembers of a deleted object."""
    _LAST_WRITE.pop(uid, None)
    _WRITTEN.forget(uid)


def record_change(
    body: kopf.Body, workload_ref: dict[str, Any], reason: str, message: str, by_policy: str
) -> None:
    """An Event on the policy and one on the workload, so both `kubectl describe`s show the change."""
    post_event(body, "Normal", reason, message)
    post_event(workload_ref, "Normal", reason, f"by ScalingPolicy {body.metadata.name}: {by_policy}")


def without_non_finite(value: Any) -> Any:
    """The status with every non-finite number left out: JSON has no NaN or infinity, and the API
    server refuses a whole patch that carries one."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {
            k: v for k, item in value.items() if (v := without_non_finite(item)) is not None or item is None
        }
    if isinstance(value, list):
        return [without_non_finite(item) for item in value]
    return value


def reconcile_guard(owned: ConditionSet, status_model: type[ApiModel]) -> Callable[[Handler], Handler]:
    """Every exception a reconcile raises ends in status (Stalled=True, Ready=False, the error in the
    message) and one log line, never in a traceback that retries forever with nothing shown in
    `kubectl get`: reason InvalidSpec for a spec the models refuse (an object stored before the
    schema refused what it holds), ReconcileError for anything else. The status keeps everything
    else as it was; the next round tries again."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def guarded(*args: Any, body: kopf.Body, patch: kopf.Patch, **kwargs: Any) -> None:
            try:
                handler(*args, body=body, patch=patch, **kwargs)
            except ValidationError as error:
                _stall(body, patch, owned, status_model, INVALID_SPEC, _spec_errors(error))
            # Whatever nothing else caught: a bug, or input no check foresaw.
            except Exception as error:
                message = f"{type(error).__name__}: {error}"
                log.error("%s %s: reconcile failed: %s", owned.kind, body.metadata.name, message)
                log.debug("reconcile failure", exc_info=True)
                why = f"the operator could not evaluate this object: {message}"
                _stall(body, patch, owned, status_model, RECONCILE_ERROR, why)

        return guarded

    return wrap


def committed(plural: str) -> Callable[[Handler], Handler]:
    """A kopf handler that decides on the freshest copy of its object (``freshest``) and whose
    status is then written by ``commit``, not by kopf."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def handled(*args: Any, body: kopf.Body, patch: kopf.Patch, **kwargs: Any) -> None:
            fresh = _WRITTEN.freshest(body)
            if fresh is not body:
                body = kopf.Body(dict(fresh))  # type: ignore[arg-type]  # kopf wraps any raw dict
                kwargs.update({key: body.get(key) or {} for key in ("spec", "status") if key in kwargs})
            handler(*args, body=body, patch=patch, **kwargs)
            commit(body, patch, plural)

        return handled

    return wrap


def commit(body: kopf.Body, patch: kopf.Patch, plural: str) -> bool:
    """Write the status a reconcile put in ``patch`` as field manager thrifty (rather than leave it
    to kopf), and keep the object as written until the watch delivers it; whether it wrote."""
    status = patch.pop("status", None)
    if not status:
        return False
    try:
        written = write_status(plural, body.metadata.namespace, str(body.metadata.name), status)
    except ApiException as error:
        if error.status == 404:  # deleted meanwhile: no status to write
            return False
        raise
    _WRITTEN.remember(written)
    return True


def without_managed_fields(obj: Mapping[str, Any]) -> dict[str, Any]:
    """``obj`` without ``metadata.managedFields``: most of an object's size, and nothing decides on it."""
    meta = {key: value for key, value in obj.get("metadata", {}).items() if key != "managedFields"}
    return {**obj, "metadata": meta}


class _Written:
    """The objects this process wrote last, until the watch delivers them: a round that starts
    before the watch caught up must not decide on the status before its own write."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._objects: dict[str, dict[str, Any]] = {}

    def remember(self, obj: dict[str, Any]) -> None:
        kept = without_managed_fields(obj)
        with self._guard:
            self._objects[str(kept["metadata"].get("uid", ""))] = kept

    def freshest(self, raw: Mapping[str, Any]) -> Mapping[str, Any]:
        uid = str(raw.get("metadata", {}).get("uid", ""))
        with self._guard:
            written = self._objects.get(uid)
            if written is None:
                return raw
            if _version(raw) >= _version(written):
                del self._objects[uid]
                return raw
            return written

    def forget(self, uid: str) -> None:
        with self._guard:
            self._objects.pop(uid, None)


def _version(obj: Mapping[str, Any]) -> int:
    """The object's resourceVersion as a number: etcd's revision, which is what every API server
    backed by etcd gives; an opaque one counts as oldest, so the watch's copy wins."""
    try:
        return int(obj.get("metadata", {}).get("resourceVersion", ""))
    except ValueError:
        return -1


_WRITTEN = _Written()


def freshest(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    """``raw`` (from the watch or an index), or the object as this process last wrote it, if newer."""
    return _WRITTEN.freshest(raw)


def _stall(
    body: kopf.Body,
    patch: kopf.Patch,
    owned: ConditionSet,
    status_model: type[ApiModel],
    reason: str,
    message: str,
) -> None:
    """Stalled and Ready=False with ``reason``; everything else in status stays as it was."""
    patch.pop("status", None)
    conclusions = stalled(reason, message)
    conclusions.kept |= set(owned.types)
    desired = status_model.model_validate(body.get("status") or {})
    publish(body, patch, owned, desired, conclusions, ready=(reason, message))


def _spec_errors(error: ValidationError) -> str:
    """pydantic's errors as the API server words them: the field path, then what is wrong."""
    return "; ".join(
        f"spec.{'.'.join(str(p) for p in item['loc'])}: {item['msg']}" for item in error.errors()
    )
