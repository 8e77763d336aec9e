"""The event loop kopf runs on, with one report made quiet.

kopf's watch streams are async generators. One that shutdown stops in the middle of an event is
closed as the loop ends, and kopf's pause block awaits in its ``finally`` then, which asyncio reports
as "an error occurred during closing of asynchronous generator" with two tracebacks (a
``RuntimeError: generator didn't stop after athrow()``). The process is ending and the stream only
reads, so nothing is lost: that report becomes one warning line, and a traceback in the log keeps
meaning that something went wrong. Every other report goes to asyncio's default handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import kopf

__all__ = ["run_operator"]

log = logging.getLogger(__name__)

_WATCH_STREAM = "infinite_watch"  # kopf's generator of a resource's watch events


def _is_watch_stream_closing(context: dict[str, Any]) -> bool:
    stream = context.get("asyncgen")
    code = getattr(stream, "ag_code", None)
    return (
        isinstance(context.get("exception"), RuntimeError)
        and getattr(code, "co_name", None) == _WATCH_STREAM
        and "closing of asynchronous generator" in str(context.get("message", ""))
    )


def _report(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    if _is_watch_stream_closing(context):
        log.warning("a watch stream stopped mid-event at shutdown was closed uncleanly by kopf: %s",
                    context["exception"])  # fmt: skip
        return
    loop.default_exception_handler(context)


async def _operator(**options: Any) -> None:
    asyncio.get_running_loop().set_exception_handler(_report)
    await kopf.operator(**options)


def run_operator(**options: Any) -> None:
    """``kopf.run`` with ``options``, on a loop that reports as described above."""
    with contextlib.suppress(asyncio.CancelledError):
        asyncio.run(_operator(**options))
