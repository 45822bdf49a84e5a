"""Keep forgotten people forgotten: a keyed hash of each erased address, nothing else.

After `invite forget`, a later import or nomination of the same address must not bring
the person back by accident. The hash is an HMAC under the workspace's secret key
(which lives outside the database), so the database alone does not tell which
addresses were erased; with several keys (rotation) any of them matches.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime

from rsvp.store import Store, stamp, utcnow


def address_hash(key: str, email: str) -> str:
    """The hash one key gives an address (in any case, around any spaces)."""
    return hmac.new(key.encode(), email.strip().casefold().encode(), hashlib.sha256).hexdigest()


class ForgottenAddresses:
    """Asks and changes the list of forgotten addresses of one workspace."""

    def __init__(self, store: Store, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("a secret key is needed to hash forgotten addresses")
        self.store = store
        self.keys = tuple(keys)

    def _hashes(self, email: str) -> list[str]:
        return [address_hash(key, email) for key in self.keys]

    def contains(self, email: str) -> bool:
        hashes = self._hashes(email)
        marks = ", ".join("?" * len(hashes))
        return self.store.conn.execute(
            f"SELECT 1 FROM forgotten WHERE address_hash IN ({marks})", hashes).fetchone() is not None

    def remember(self, email: str, now: datetime | None = None) -> None:
        """Note `email` as forgotten, under the key that signs (the last)."""
        with self.store.write():
            self.store.conn.execute(
                "INSERT OR IGNORE INTO forgotten (address_hash, forgotten_at) VALUES (?, ?)",
                (self._hashes(email)[-1], stamp(now or utcnow())))

    def release(self, email: str) -> bool:
        """Let `email` come back (the person asked to); True if it was forgotten."""
        hashes = self._hashes(email)
        marks = ", ".join("?" * len(hashes))
        with self.store.write():
            cursor = self.store.conn.execute(
                f"DELETE FROM forgotten WHERE address_hash IN ({marks})", hashes)
        return cursor.rowcount > 0
