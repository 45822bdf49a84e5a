"""Asyncio helpers for a run that can be stopped: wait unless stopped, end tasks for sure.

Why "for sure": on Python 3.11 `asyncio.wait_for` (inside aiosmtplib's reads) swallows
a cancel that arrives together with the relay's reply, so one `cancel()` does not
always end a task. That once left a stopped `invite send` waiting for its workers
for more than a minute.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from typing import Any, TypeVar

CANCEL_AGAIN = 0.2  # seconds between cancels of a task that swallowed one

T = TypeVar("T")


async def unless_set(awaitable: Awaitable[Any], event: asyncio.Event) -> None:
    """Wait for `awaitable`, or give it up (cancelled) as soon as `event` is set."""
    waiting = asyncio.ensure_future(awaitable)
    stopped = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({waiting, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiting.cancel()
        stopped.cancel()


async def end_for_sure(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Cancel the tasks still running, and again every CANCEL_AGAIN seconds for any
    that swallowed the cancel, until all have ended."""
    running = [task for task in tasks if not task.done()]
    while running:
        for task in running:
            task.cancel()
        await asyncio.wait(running, timeout=CANCEL_AGAIN)
        running = [task for task in running if not task.done()]


def take_all(queue: asyncio.Queue[T | None]) -> list[T]:
    """Empty `queue` at once, each item marked done; return what it held, without the
    end markers (None)."""
    items = []
    while not queue.empty():
        item = queue.get_nowait()
        queue.task_done()
        if item is not None:
            items.append(item)
    return items
