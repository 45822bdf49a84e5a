"""The outbox table: one row per recipient and mailing, which alone drives sending.

States: queued -> sending -> sent | deferred (transient, retried) | failed (permanent)
| cancelled (the person unsubscribed before it went out). A row found in `sending`
when no sender runs was interrupted by a crash: its fate is unknown.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rsvp.store import Recipient, Store, recipient_from_row, stamp, utcnow

MAILINGS = ("invitation", "reminder")
STATES = ("queued", "sending", "sent", "deferred", "failed", "cancelled")

# Who should get each mailing, derived from recipients, responses and earlier mail.
_ELIGIBLE = {
    "invitation": "r.unsubscribed_at IS NULL",
    "reminder": (
        "r.unsubscribed_at IS NULL "
        "AND NOT EXISTS (SELECT 1 FROM responses s WHERE s.recipient_id = r.id) "
        "AND EXISTS (SELECT 1 FROM outbox i WHERE i.recipient_id = r.id "
        "AND i.mailing = 'invitation' AND i.state = 'sent')"
    ),
}


@dataclass(frozen=True)
class OutboxItem:
    """A pending row with its recipient, ready to be rendered and sent."""

    id: int
    mailing: str
    state: str
    attempts: int
    recipient: Recipient


@dataclass(frozen=True)
class Outcome:
    """What became of one attempt: the new state and the relay's last word."""

    id: int
    state: str
    reply: str


class Outbox:
    """Reads and changes the outbox; every state change is committed at once."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.conn = store.conn

    def queue(self, mailing: str, now: datetime | None = None) -> int:
        """Add a queued row for everyone who should get `mailing` and has none yet."""
        when = stamp(now or utcnow())
        with self.store.write():
            cursor = self.conn.execute(
                "INSERT OR IGNORE INTO outbox (recipient_id, mailing, state, queued_at, updated_at) "
                f"SELECT r.id, ?, 'queued', ?, ? FROM recipients r WHERE {_ELIGIBLE[mailing]}",
                (mailing, when, when))
        return int(cursor.rowcount)

    def cancel_unsubscribed(self, mailing: str, now: datetime | None = None) -> int:
        """Cancel pending rows of people who unsubscribed after they were queued."""
        with self.store.write():
            cursor = self.conn.execute(
                "UPDATE outbox SET state = 'cancelled', last_reply = 'unsubscribed', updated_at = ? "
                "WHERE mailing = ? AND state IN ('queued', 'deferred') AND recipient_id IN "
                "(SELECT id FROM recipients WHERE unsubscribed_at IS NOT NULL)",
                (stamp(now or utcnow()), mailing))
        return int(cursor.rowcount)

    def count_pending(self, mailing: str, resend_unknown: bool = False) -> int:
        states = _pending_states(resend_unknown)
        marks = ", ".join("?" * len(states))
        row = self.conn.execute(
            f"SELECT count(*) AS n FROM outbox WHERE mailing = ? AND state IN ({marks})",
            (mailing, *states)).fetchone()
        return int(row["n"])

    def count_would_queue(self, mailing: str) -> int:
        """How many rows `queue` would add now (for dry runs, which write nothing)."""
        row = self.conn.execute(
            f"SELECT count(*) AS n FROM recipients r WHERE {_ELIGIBLE[mailing]} AND NOT EXISTS "
            "(SELECT 1 FROM outbox o WHERE o.recipient_id = r.id AND o.mailing = ?)",
            (mailing,)).fetchone()
        return int(row["n"])

    def unknown(self, mailing: str | None = None) -> list[str]:
        """Addresses whose row was left in `sending` by an interrupted run."""
        query = ("SELECT r.email FROM outbox o JOIN recipients r ON r.id = o.recipient_id "
                 "WHERE o.state = 'sending'")
        args: tuple[Any, ...] = ()
        if mailing:
            query += " AND o.mailing = ?"
            args = (mailing,)
        return [row["email"] for row in self.conn.execute(query + " ORDER BY o.id", args)]

    def pending(self, mailing: str, resend_unknown: bool = False,
                chunk: int = 500) -> Iterator[OutboxItem]:
        """Stream the rows to send, oldest first, a chunk at a time to bound memory."""
        states = _pending_states(resend_unknown)
        marks = ", ".join("?" * len(states))
        last = 0
        while True:
            rows = self.conn.execute(
                "SELECT o.id AS outbox_id, o.mailing, o.state, o.attempts, r.* FROM outbox o "
                "JOIN recipients r ON r.id = o.recipient_id "
                f"WHERE o.mailing = ? AND o.state IN ({marks}) AND o.id > ? "
                "ORDER BY o.id LIMIT ?", (mailing, *states, last, chunk)).fetchall()
            if not rows:
                return
            for row in rows:
                yield OutboxItem(id=row["outbox_id"], mailing=row["mailing"], state=row["state"],
                                 attempts=row["attempts"], recipient=recipient_from_row(row))
            last = rows[-1]["outbox_id"]

    def would_queue(self, mailing: str) -> Iterator[Recipient]:
        """The people `queue` would add, for dry runs."""
        for row in self.conn.execute(
                f"SELECT r.* FROM recipients r WHERE {_ELIGIBLE[mailing]} AND NOT EXISTS "
                "(SELECT 1 FROM outbox o WHERE o.recipient_id = r.id AND o.mailing = ?) "
                "ORDER BY r.id", (mailing,)):
            yield recipient_from_row(row)

    def claim(self, claims: Sequence[tuple[int, str]], now: datetime | None = None) -> None:
        """Mark rows as `sending` with their Message-ID; committed before DATA starts."""
        when = stamp(now or utcnow())
        with self.store.write():
            self.conn.executemany(
                "UPDATE outbox SET state = 'sending', attempts = attempts + 1, message_id = ?, "
                "updated_at = ? WHERE id = ?",
                [(message_id, when, row_id) for row_id, message_id in claims])

    def finish(self, outcomes: Sequence[Outcome], now: datetime | None = None) -> None:
        """Record what the relay said for each attempt."""
        when = stamp(now or utcnow())
        with self.store.write():
            self.conn.executemany(
                "UPDATE outbox SET state = ?, last_reply = ?, updated_at = ?, "
                "sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END WHERE id = ?",
                [(o.state, o.reply[:500], when, o.state, when, o.id) for o in outcomes])

    def release(self, ids: Sequence[int], now: datetime | None = None) -> None:
        """Return claimed rows that never reached the relay to the queue."""
        with self.store.write():
            self.conn.executemany(
                "UPDATE outbox SET state = 'queued', attempts = max(attempts - 1, 0), "
                "updated_at = ? WHERE id = ? AND state = 'sending'",
                [(stamp(now or utcnow()), row_id) for row_id in ids])

    def counts(self) -> dict[str, dict[str, int]]:
        """Rows per mailing and state."""
        result: dict[str, dict[str, int]] = {}
        for row in self.conn.execute(
                "SELECT mailing, state, count(*) AS n FROM outbox GROUP BY mailing, state"):
            result.setdefault(row["mailing"], {})[row["state"]] = row["n"]
        return result

    def failures(self, mailing: str) -> list[tuple[str, str]]:
        """(address, last reply) of the mailing's permanently failed rows."""
        return [(row["email"], row["last_reply"]) for row in self.conn.execute(
            "SELECT r.email, o.last_reply FROM outbox o JOIN recipients r ON r.id = o.recipient_id "
            "WHERE o.mailing = ? AND o.state = 'failed' ORDER BY o.id", (mailing,))]

    def export_rows(self) -> Iterator[dict[str, Any]]:
        """Every row for `invite export --what outbox`."""
        for row in self.conn.execute(
                "SELECT r.email, o.mailing, o.state, o.attempts, o.last_reply, o.message_id, "
                "o.sent_at FROM outbox o JOIN recipients r ON r.id = o.recipient_id "
                "WHERE r.forgotten_at IS NULL ORDER BY o.id"):
            yield dict(row)


def _pending_states(resend_unknown: bool) -> tuple[str, ...]:
    return ("queued", "deferred", "sending") if resend_unknown else ("queued", "deferred")
