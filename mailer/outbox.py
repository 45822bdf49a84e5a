"""The outbox table: one row per recipient and mailing, which alone drives sending.

States: queued -> sending -> sent | deferred (transient, retried) | failed (permanent)
| cancelled (the person unsubscribed, or the decision it tells changed, before it
went out). A row found in `sending` when no sender runs was interrupted by a crash:
its fate is unknown. Each run of the `update` mailing is its own outbox mailing,
`update-N`, N being the calendar's SEQUENCE it carries (kept in `meta`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rsvp.store import Recipient, Store, recipient_from_row, stamp, utcnow

MAILINGS = ("invitation", "reminder", "confirmation", "regret", "waitlist", "update")
# What a run of each mailing is called in questions and reports.
PLURALS = {"invitation": "invitations", "reminder": "reminders",
           "confirmation": "confirmations", "regret": "regret notices",
           "waitlist": "waiting-list notices", "update": "updates"}
# Mailings that tell an admission decision; a pending one whose decision changed is cancelled.
DECISION_MAILINGS = ("confirmation", "regret", "waitlist")
# Mailings that carry the event as an iCalendar file.
CALENDAR_MAILINGS = ("confirmation", "update")
UPDATE = "update"
# Why a pending row of these mailings is cancelled once the person no longer qualifies.
_NO_LONGER_DUE = {"reminder": "answered", "confirmation": "decision changed",
                  "regret": "decision changed", "waitlist": "decision changed",
                  UPDATE: "decision changed"}
STATES = ("queued", "sending", "sent", "deferred", "failed", "cancelled")

_REACHABLE = "r.unsubscribed_at IS NULL AND r.forgotten_at IS NULL"
# Who should get each mailing, derived from recipients, responses and earlier mail.
_ELIGIBLE = {
    "invitation": "r.unsubscribed_at IS NULL",
    "reminder": (
        "r.unsubscribed_at IS NULL "
        "AND NOT EXISTS (SELECT 1 FROM responses s WHERE s.recipient_id = r.id) "
        "AND EXISTS (SELECT 1 FROM outbox i WHERE i.recipient_id = r.id "
        "AND i.mailing = 'invitation' AND i.state = 'sent')"
    ),
    "confirmation": f"{_REACHABLE} AND r.admission = 'admitted'",
    "regret": f"{_REACHABLE} AND r.admission = 'declined'",
    "waitlist": f"{_REACHABLE} AND r.admission = 'waitlisted'",
    "update": (
        f"{_REACHABLE} AND r.admission = 'admitted' "
        "AND EXISTS (SELECT 1 FROM outbox c WHERE c.recipient_id = r.id "
        "AND c.mailing = 'confirmation' AND c.state = 'sent')"
    ),
}


def split_mailing(key: str) -> tuple[str, int]:
    """Return (mailing, calendar SEQUENCE) of an outbox key: 'update-2' gives ('update', 2)."""
    kind, _, number = key.partition("-")
    if kind == UPDATE and number.isdigit():
        return kind, int(number)
    return key, 0


def plural(key: str) -> str:
    """'confirmations', 'updates', ...: how a run of the mailing `key` is named."""
    return PLURALS[split_mailing(key)[0]]


def _eligible(key: str) -> str:
    kind, sequence = split_mailing(key)
    if kind != UPDATE:
        return _ELIGIBLE[kind]
    if key != f"{UPDATE}-{sequence}":
        raise ValueError(f"queue an update under its numbered key, not {key!r}")
    # An update goes out as one batch: to those who are due when it is first queued.
    return (f"{_ELIGIBLE[UPDATE]} AND NOT EXISTS "
            f"(SELECT 1 FROM outbox u WHERE u.mailing = '{UPDATE}-{sequence:d}')")


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
                f"SELECT r.id, ?, 'queued', ?, ? FROM recipients r WHERE {_eligible(mailing)}",
                (mailing, when, when))
            kind, sequence = split_mailing(mailing)
            if kind == UPDATE and cursor.rowcount > 0:
                self.conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('calendar_sequence', ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(sequence),))
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

    def sync_decisions(self, mailing: str, now: datetime | None = None) -> int:
        """Cancel pending rows no longer due: a reminder to someone who has answered since,
        a decision mailing whose decision changed, an older update a newer one replaces;
        revive a cancelled decision mailing once its decision holds again."""
        kind, _ = split_mailing(mailing)
        if kind not in _NO_LONGER_DUE:
            return 0
        reason = _NO_LONGER_DUE[kind]
        when = stamp(now or utcnow())
        holds = f"SELECT r.id FROM recipients r WHERE {_ELIGIBLE[kind]}"
        with self.store.write():
            cursor = self.conn.execute(
                "UPDATE outbox SET state = 'cancelled', last_reply = ?, "
                "updated_at = ? WHERE mailing = ? AND state IN ('queued', 'deferred') "
                f"AND recipient_id NOT IN ({holds})", (reason, when, mailing))
            cancelled = int(cursor.rowcount)
            self.conn.execute(
                "UPDATE outbox SET state = 'queued', last_reply = '', updated_at = ? "
                "WHERE mailing = ? AND state = 'cancelled' AND last_reply = 'decision changed' "
                f"AND recipient_id IN ({holds})", (when, mailing))
            if kind == UPDATE:
                cursor = self.conn.execute(
                    "UPDATE outbox SET state = 'cancelled', last_reply = ?, updated_at = ? "
                    "WHERE mailing LIKE 'update-%' AND mailing != ? "
                    "AND state IN ('queued', 'deferred')", (f"replaced by {mailing}", when, mailing))
                cancelled += int(cursor.rowcount)
        return cancelled

    def calendar_sequence(self) -> int:
        """The SEQUENCE of the latest calendar sent: 0 for the confirmation, N for update N."""
        row = self.conn.execute(
            "SELECT value FROM meta WHERE key = 'calendar_sequence'").fetchone()
        return int(row["value"]) if row else 0

    def current_mailing(self, mailing: str, resend_unknown: bool = False) -> str:
        """The outbox key a run of `mailing` works on: for `update`, the latest update while
        some of it is still to send, else the next one (which `queue` starts only if someone
        gets it, so a run with nobody to tell leaves the sequence as it is)."""
        if mailing != UPDATE:
            return mailing
        sequence = self.calendar_sequence()
        latest = f"{UPDATE}-{sequence}"
        if sequence and self.count_pending(latest, resend_unknown):
            return latest
        return f"{UPDATE}-{sequence + 1}"

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
            f"SELECT count(*) AS n FROM recipients r WHERE {_eligible(mailing)} AND NOT EXISTS "
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
                chunk: int = 500, still_due: bool = False) -> Iterator[OutboxItem]:
        """Stream the rows to send, oldest first, a chunk at a time to bound memory.
        `still_due` leaves out rows a real run would cancel first (for dry runs, which
        change nothing)."""
        states = _pending_states(resend_unknown)
        marks = ", ".join("?" * len(states))
        due = f"AND {_ELIGIBLE[split_mailing(mailing)[0]]} " if still_due else ""
        last = 0
        while True:
            rows = self.conn.execute(
                "SELECT o.id AS outbox_id, o.mailing, o.state, o.attempts, r.* FROM outbox o "
                "JOIN recipients r ON r.id = o.recipient_id "
                f"WHERE o.mailing = ? AND o.state IN ({marks}) AND o.id > ? {due}"
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
                f"SELECT r.* FROM recipients r WHERE {_eligible(mailing)} AND NOT EXISTS "
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
        yield from self.store.db.query(
            "SELECT r.email, o.mailing, o.state, o.attempts, o.last_reply, o.message_id, "
            "o.sent_at FROM outbox o JOIN recipients r ON r.id = o.recipient_id "
            "WHERE r.forgotten_at IS NULL ORDER BY o.id")

    # People put forward on the web who can still be mailed (the background sender's share).
    _NOMINATED = ("r.nominated_by IS NOT NULL AND r.unsubscribed_at IS NULL "
                  "AND r.forgotten_at IS NULL")

    def nominees_waiting(self) -> bool:
        """Say cheaply whether a nominee still needs their invitation, before taking the lock."""
        return bool(self.conn.execute(
            f"SELECT EXISTS (SELECT 1 FROM recipients r WHERE {self._NOMINATED} AND NOT EXISTS "
            "(SELECT 1 FROM outbox o WHERE o.recipient_id = r.id AND o.mailing = 'invitation' "
            "AND o.state NOT IN ('queued', 'deferred'))) AS waiting").fetchone()["waiting"])

    def queue_nominees(self, now: datetime | None = None) -> int:
        """Queue the invitation only for nominees who have none yet, never for anyone else."""
        when = stamp(now or utcnow())
        with self.store.write():
            cursor = self.conn.execute(
                "INSERT OR IGNORE INTO outbox (recipient_id, mailing, state, queued_at, "
                "updated_at) SELECT r.id, 'invitation', 'queued', ?, ? FROM recipients r "
                f"WHERE {self._NOMINATED}", (when, when))
        return int(cursor.rowcount)

    def pending_nominees(self) -> list[OutboxItem]:
        """The nominees' invitations still to send (queued or deferred), oldest first."""
        return [OutboxItem(id=row["outbox_id"], mailing=row["mailing"], state=row["state"],
                           attempts=row["attempts"], recipient=recipient_from_row(row))
                for row in self.conn.execute(
                    "SELECT o.id AS outbox_id, o.mailing, o.state, o.attempts, r.* FROM outbox o "
                    f"JOIN recipients r ON r.id = o.recipient_id WHERE {self._NOMINATED} AND "
                    "o.mailing = 'invitation' AND o.state IN ('queued', 'deferred') ORDER BY o.id")]

    def data_version(self) -> int:
        """A number that changes whenever another connection (the web app, `invite send`)
        commits; this connection's own writes leave it as it is."""
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    def nominator(self, recipient_id: int) -> Recipient | None:
        """The person who put `recipient_id` forward, unless they were forgotten since."""
        row = self.conn.execute("SELECT * FROM recipients WHERE id = ? AND forgotten_at IS NULL",
                                (recipient_id,)).fetchone()
        return recipient_from_row(row) if row else None

    # Decisions the first-come rule made that nobody has told yet (the background sender's
    # share under first-come). A row that settled the matter: sent, failed for good, left
    # in `sending` by a crash (fate unknown), or cancelled for a reason that still holds.
    _TOLD = ("o.state IN ('sent', 'sending', 'failed') OR (o.state = 'cancelled' "
             "AND o.last_reply != 'decision changed')")

    def decisions_waiting(self, mailings: Sequence[str]) -> bool:
        """Say cheaply whether one of the decision `mailings` has something to do: a person
        whose decision nobody has told, or a pending row whose decision no longer holds."""
        checks = []
        args: list[str] = []
        for mailing in mailings:
            if mailing not in DECISION_MAILINGS:
                raise ValueError(f"{mailing!r} is not a decision mailing")
            eligible = _ELIGIBLE[mailing]
            checks.append(
                f"EXISTS (SELECT 1 FROM recipients r WHERE {eligible} AND NOT EXISTS "
                "(SELECT 1 FROM outbox o WHERE o.recipient_id = r.id AND o.mailing = ? "
                f"AND ({self._TOLD})))")
            checks.append(
                "EXISTS (SELECT 1 FROM outbox o WHERE o.mailing = ? AND o.state IN "
                "('queued', 'deferred') AND NOT EXISTS (SELECT 1 FROM recipients r "
                f"WHERE r.id = o.recipient_id AND {eligible}))")
            args += [mailing, mailing]
        if not checks:
            return False
        return bool(self.conn.execute(f"SELECT ({' OR '.join(checks)}) AS waiting",
                                      args).fetchone()["waiting"])


def _pending_states(resend_unknown: bool) -> tuple[str, ...]:
    return ("queued", "deferred", "sending") if resend_unknown else ("queued", "deferred")
