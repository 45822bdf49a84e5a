"""What a request's database work needs: writes that share one transaction, and a
clear error when another process holds the write lock too long.

An answer writes up to three times (a nomination, the answer with its history, a
first-come decision). The routes open one transaction around them, so they are
written together or, when the lock is not had in time, not at all; the app answers
that DatabaseBusyError with 503 and Retry-After in the person's language.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from rsvp.errors import InviteError
from rsvp.store import Store

# What a 503 asks people (and scripts) to wait before trying again, in seconds.
RETRY_AFTER = 5


class DatabaseBusyError(InviteError):
    """Another connection held the write lock too long; nothing of this request was written.

    `lang` is the person's language once known (None: the page speaks every language)."""

    def __init__(self, lang: str | None = None) -> None:
        super().__init__("the database is busy; try again in a moment")
        self.lang = lang
        self.retry_after = RETRY_AFTER


def is_busy(error: sqlite3.Error) -> bool:
    """Tell whether SQLite refused for a lock held elsewhere ("database is locked")."""
    code = getattr(error, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


@contextmanager
def busy_in(lang: str) -> Iterator[None]:
    """Raise DatabaseBusyError in `lang` for a write of the block refused for the lock."""
    try:
        yield
    except sqlite3.OperationalError as error:
        if is_busy(error):
            raise DatabaseBusyError(lang) from error
        raise


class RequestStore(Store):
    """A Store whose writes join a transaction already open on its connection."""

    @contextmanager
    def write(self) -> Iterator[None]:
        if self.conn.in_transaction:
            yield
            return
        with super().write():
            yield
