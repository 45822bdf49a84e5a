"""Run each request's database work in a thread with a connection of its own, off the loop.

SQLite calls block. On the event loop, a slow read or a write waiting for the lock (an
import or `invite send` in another process) would stall every request of the worker,
/healthz included. So a request hands its whole database work and page render to a
thread in one hop (rsvp.web.lanes): reads to the reader thread, writes to the writer
thread, so reads never queue behind a write waiting for the lock. One thread each:
SQLite lets one writer in at a time, reads never wait for writers (WAL), and a second
thread of either kind only competes for the GIL. A write that cannot get the lock
within `wait` seconds of the request's arrival raises DatabaseBusyError
(rsvp.web.stores).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import TypeVar

from rsvp.errors import ConfigError
from rsvp.schema import connect
from rsvp.store import Store
from rsvp.web.lanes import Lane
from rsvp.web.stores import RequestStore

T = TypeVar("T")

# Seconds a web write waits for the lock (INVITE_DB_WAIT): long enough for any write of
# ours or of `invite send`, short enough that a person is told at once to retry.
DEFAULT_WAIT = 3.0
# /healthz says "unreachable" when opening and reading the file takes longer than this.
HEALTH_WAIT = 1.0


def wait_from_env(environ: Mapping[str, str]) -> float:
    """Read INVITE_DB_WAIT: seconds a web write waits for the lock (default 3)."""
    text = environ.get("INVITE_DB_WAIT", "").strip()
    if not text:
        return DEFAULT_WAIT
    try:
        wait = float(text)
    except ValueError:
        wait = -1.0
    if not 0 <= wait <= 60:
        raise ConfigError(f"INVITE_DB_WAIT is {text!r}; use seconds between 0 and 60, e.g. 3")
    return wait


def _open(path: Path, wait: float) -> RequestStore:
    return RequestStore(connect(os.fspath(path), wait=wait))


class Database:
    """The threads that do the app's database work, each with its own connection."""

    def __init__(self, path: Path, wait: float = DEFAULT_WAIT) -> None:
        self.path = path
        self.wait = wait
        opener = partial(_open, path, wait)
        self._reader = Lane("invite-db-read", opener, wait)
        self._writer = Lane("invite-db-write", opener, wait)

    async def read(self, work: Callable[[RequestStore], T]) -> T:
        """Run `work` (reads, and the render) in a reader thread; return what it returns."""
        return await self._reader.run(work)

    async def write(self, work: Callable[[RequestStore], T]) -> T:
        """Run `work` (which writes) in the writer thread; its writes wait for the lock
        until `wait` seconds after now, then raise DatabaseBusyError."""
        return await self._writer.run(work, time.monotonic() + self.wait)

    async def reachable(self) -> bool:
        """Tell within HEALTH_WAIT whether the database file can be opened and read, on a
        connection of its own in the loop's default thread pool (never a busy lane)."""
        probe = asyncio.get_running_loop().run_in_executor(
            None, Store.reachable, self.path, HEALTH_WAIT / 2)
        try:
            return await asyncio.wait_for(probe, HEALTH_WAIT)
        except TimeoutError:
            return False

    def close(self) -> None:
        """Let queued work finish, then close every thread's connection."""
        self._reader.stop()
        self._writer.stop()
