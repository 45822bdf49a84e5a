"""Count the mails each relay took per UTC day, in the database, so that a relay's daily
cap holds across runs (`invite send` now, the background sender of `invite serve` later);
and remember the days a provider said its quota was used up, for the same reason."""

from __future__ import annotations

from datetime import date

from rsvp.store import Store


class RelayDays:
    """How many mails each relay took on a given UTC day."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def sent(self, relay: str, day: date) -> int:
        row = self.store.conn.execute("SELECT sent FROM relay_days WHERE relay = ? AND day = ?",
                                      (relay, day.isoformat())).fetchone()
        return int(row[0]) if row is not None else 0

    def add(self, relay: str, day: date) -> None:
        """Count one more mail for `relay` on `day`; committed at once (before the mail's
        end of data goes out, so a crash can only count one too many, never too few)."""
        with self.store.write():
            self.store.conn.execute(
                "INSERT INTO relay_days (relay, day, sent) VALUES (?, ?, 1) "
                "ON CONFLICT (relay, day) DO UPDATE SET sent = sent + 1",
                (relay, day.isoformat()))

    def subtract(self, relay: str, day: date) -> None:
        """Take back one mail counted for `relay` on `day` that the relay refused."""
        with self.store.write():
            self.store.conn.execute(
                "UPDATE relay_days SET sent = max(sent - 1, 0) WHERE relay = ? AND day = ?",
                (relay, day.isoformat()))

    def quota_spent(self, relay: str, day: date) -> bool:
        """Whether the provider of `relay` said its quota for `day` is used up."""
        row = self.store.conn.execute(
            "SELECT quota_used FROM relay_days WHERE relay = ? AND day = ?",
            (relay, day.isoformat())).fetchone()
        return row is not None and bool(row[0])

    def quota_used_up(self, relay: str, day: date) -> None:
        """The provider of `relay` said its quota for `day` is used up: no more that day."""
        with self.store.write():
            self.store.conn.execute(
                "INSERT INTO relay_days (relay, day, quota_used) VALUES (?, ?, 1) "
                "ON CONFLICT (relay, day) DO UPDATE SET quota_used = 1",
                (relay, day.isoformat()))
