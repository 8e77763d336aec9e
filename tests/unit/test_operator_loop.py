"""The operator's event loop: kopf's watch stream closed uncleanly at shutdown is one warning line;
every other report reaches asyncio's default handler."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from thrifty.handlers import operator_loop
from thrifty.handlers.operator_loop import _report


async def infinite_watch() -> AsyncIterator[int]:  # named as kopf's generator of watch events
    yield 1


async def other_stream() -> AsyncIterator[int]:
    yield 1


class _Loop:
    def __init__(self) -> None:
        self.defaulted: list[dict[str, Any]] = []

    def default_exception_handler(self, context: dict[str, Any]) -> None:
        self.defaulted.append(context)


def _closing(stream: AsyncIterator[int]) -> dict[str, Any]:
    return {
        "message": f"an error occurred during closing of asynchronous generator {stream!r}",
        "exception": RuntimeError("generator didn't stop after athrow()"),
        "asyncgen": stream,
    }


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_watch_stream_closed_uncleanly_at_shutdown_is_one_warning() -> None:
    loop, seen = _Loop(), _Records()
    logging.getLogger(operator_loop.__name__).addHandler(seen)
    try:
        _report(loop, _closing(infinite_watch()))  # type: ignore[arg-type]
    finally:
        logging.getLogger(operator_loop.__name__).removeHandler(seen)
    assert loop.defaulted == []
    assert [(r.levelname, r.exc_info) for r in seen.records] == [("WARNING", None)]


def test_any_other_report_goes_to_asyncio_s_handler() -> None:
    loop = _Loop()
    _report(loop, _closing(other_stream()))  # type: ignore[arg-type]
    _report(loop, {"message": "Task exception was never retrieved", "exception": ValueError("boom")})  # type: ignore[arg-type]
    assert len(loop.defaulted) == 2


def test_the_operator_runs_on_a_loop_with_that_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[object] = []

    async def operator(**options: Any) -> None:
        seen.append(asyncio.get_running_loop().get_exception_handler())
        seen.append(options)

    monkeypatch.setattr(operator_loop.kopf, "operator", operator)
    operator_loop.run_operator(clusterwide=True)
    assert seen == [_report, {"clusterwide": True}]
