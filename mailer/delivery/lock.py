"""Keep two senders off one workspace, so a row in `sending` always means a crash."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rsvp.errors import BusyError

LOCK_FILE = ".send.lock"


@contextmanager
def sender_lock(workspace: Path) -> Iterator[None]:
    """Hold the workspace's sender lock for the block, or raise BusyError at once."""
    fd = os.open(workspace / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BusyError("another `invite send` or `invite serve` is sending for this workspace",
                            hint="Wait for it to finish, or stop it first.") from None
        yield
    finally:
        os.close(fd)
