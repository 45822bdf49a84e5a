"""Keep two senders off one workspace, so a row in `sending` always means a crash; say
who holds the workspace, and let `invite send` wait for a background round.

The lock is an flock on `.send.lock`: the kernel drops it when its holder ends, even on
kill -9, so a crash never leaves the workspace locked. Its holder writes its pid and
role into the file, in one write of a fixed size, so that who is kept waiting can say
who holds it. A record left by an ended holder is harmless: it is read only while the
lock is taken, and every holder writes its own first.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rsvp.errors import BusyError

LOCK_FILE = ".send.lock"
SEND = "send"
BACKGROUND = "background"
RECORD_SIZE = 64
POLL_SECONDS = 0.1


@dataclass(frozen=True)
class Holder:
    """Who holds the lock, as its record says (pid 0 and role "" when unreadable)."""

    pid: int
    role: str

    def __str__(self) -> str:
        if self.role == BACKGROUND:
            return f"invite serve's background sender (pid {self.pid})"
        if self.role == SEND:
            return f"another `invite send` (pid {self.pid})"
        return "another `invite send` or `invite serve`"


@contextmanager
def sender_lock(workspace: Path, role: str = SEND, wait: float = 0.0,
                on_wait: Callable[[Holder], None] | None = None) -> Iterator[None]:
    """Hold the workspace's sender lock for the block as `role`. While the background
    sender holds it, wait up to `wait` seconds for its round to end (`on_wait` is told
    once); raise BusyError at once when anyone else holds it, or when the wait is over."""
    fd = os.open(workspace / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        _acquire(fd, wait, on_wait)
        os.pwrite(fd, f"{os.getpid()} {role}".ljust(RECORD_SIZE).encode(), 0)
        yield
    finally:
        os.close(fd)


def _acquire(fd: int, wait: float, on_wait: Callable[[Holder], None] | None) -> None:
    deadline = time.monotonic() + wait
    told = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        holder = _holder(fd)
        if holder.role != BACKGROUND or wait <= 0:
            raise BusyError(f"{holder} is sending for this workspace",
                            hint="Wait for it to finish, or stop it first.")
        if time.monotonic() >= deadline:
            raise BusyError(f"{holder} still holds the workspace after {wait:g} s",
                            hint="Try again later; if it stays busy, look at invite serve's "
                                 "log.")
        if not told and on_wait is not None:
            on_wait(holder)
            told = True
        time.sleep(POLL_SECONDS)


def _holder(fd: int) -> Holder:
    """Read the holder's record. One that has only just taken the lock may not have
    written it yet: a record that is unreadable or names an ended process (the one
    before) is read again a few times."""
    for _ in range(5):
        record = os.pread(fd, RECORD_SIZE, 0).decode(errors="replace")
        pid, _, role = record.strip().partition(" ")
        if pid.isdigit() and role in (SEND, BACKGROUND) and _alive(int(pid)):
            return Holder(int(pid), role)
        time.sleep(0.01)
    return Holder(0, "")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True
