"""kopf's index gate, as installed by the operator: it holds events until every toggle is dropped,
releases them all then, and wakes each waiter about once rather than once per dropped toggle."""

from __future__ import annotations

import asyncio

from kopf._cogs.aiokits.aiotoggles import ToggleSet

from thrifty.handlers import kopf_setup  # noqa: F401  (installs the gate)

OBJECTS = 400


def _counting_all() -> tuple[ToggleSet, list[int]]:
    checks = [0]

    def all_on(states: object) -> bool:
        checks[0] += 1
        return all(states)  # type: ignore[call-overload, no-any-return]

    return ToggleSet(all_on), checks


def test_waiting_events_are_released_only_when_every_toggle_is_dropped() -> None:
    async def scenario() -> tuple[list[bool], int]:
        gate, checks = _counting_all()
        toggles = [await gate.make_toggle(name=f"object-{i}") for i in range(OBJECTS)]
        released: list[bool] = []

        async def held() -> None:
            await gate.wait_for(True)
            released.append(True)

        waiters = [asyncio.create_task(held()) for _ in range(OBJECTS)]
        await asyncio.sleep(0)
        checks_before = checks[0]
        for toggle in toggles[:-1]:
            await gate.drop_toggle(toggle)
            await asyncio.sleep(0)
        assert released == []  # one toggle is still there
        await gate.drop_toggles(toggles[-1:])
        await asyncio.gather(*waiters)
        return released, checks[0] - checks_before

    released, checks = asyncio.run(scenario())
    assert len(released) == OBJECTS
    # Two checks per drop, and one per waiter once the gate opens; kopf's own checked every waiter
    # on every drop (OBJECTS * OBJECTS).
    assert checks <= 4 * OBJECTS


def test_a_new_toggle_closes_an_open_gate_for_those_waiting_for_it_closed() -> None:
    async def scenario() -> bool:
        gate, _ = _counting_all()
        closed = asyncio.create_task(gate.wait_for(False))
        await asyncio.sleep(0)
        assert not closed.done()  # an empty set is open
        await gate.make_toggle(name="listing")
        await asyncio.wait_for(closed, timeout=60)
        return gate.is_on()

    assert asyncio.run(scenario()) is False
