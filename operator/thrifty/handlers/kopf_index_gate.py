"""kopf's index gate wakes the events waiting on it only when it opens or closes.

Until every index is filled, kopf holds each object's first handling on one set of toggles (one per
resource kind being listed and one per object the listing found), and every event of an object
drops its toggle again. Each drop woke every waiting event to check the set once more: with
thousands of policies, their Deployments, ReplicaSets and pods, N wake-ups per event. On two cores
the event loop spent about 70% of the operator's CPU there at 3,000 policies, the gate was still
closed 8 minutes after start, and every held worker kept its object's whole event in memory.

An event waits for the set's state (open or closed) alone, so waking the waiters when that state
changes holds and releases exactly the same events, at one wake-up per waiter.
"""

from __future__ import annotations

from collections.abc import Iterable

from kopf._cogs.aiokits.aiotoggles import Toggle, ToggleSet

__all__ = ["install"]


async def _make_toggle(self: ToggleSet, state: bool = False, *, name: str | None = None) -> Toggle:
    toggle = Toggle(state, name=name, condition=self._condition)
    async with self._condition:
        was_on = self.is_on()
        self._toggles.add(toggle)
        if self.is_on() != was_on:
            self._condition.notify_all()
    return toggle


async def _drop_toggle(self: ToggleSet, toggle: Toggle) -> None:
    await _drop_toggles(self, (toggle,))


async def _drop_toggles(self: ToggleSet, toggles: Iterable[Toggle]) -> None:
    async with self._condition:
        was_on = self.is_on()
        self._toggles.difference_update(toggles)
        if self.is_on() != was_on:
            self._condition.notify_all()


def install() -> None:
    """Replace ToggleSet's methods that change its membership (idempotent)."""
    ToggleSet.make_toggle = _make_toggle  # type: ignore[method-assign]
    ToggleSet.drop_toggle = _drop_toggle  # type: ignore[method-assign]
    ToggleSet.drop_toggles = _drop_toggles  # type: ignore[method-assign]
