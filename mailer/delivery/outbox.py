"""The outbox table: one row per recipient and mailing, which alone drives sending.

States: queued -> sending -> sent | deferred (transient, retried) | failed (permanent)
| cancelled (the person unsubscribed, or the decision it tells changed, before it went
out; a sent confirmation once a withdrawal took it back, `finish`). A row found in
`sending` when no sender runs was interrupted by a crash: with `handed_at` set
(committed just before the end of its message went to the relay) its fate is unknown;
without, it never reached the relay and is queued again (`requeue_unhanded`). Each run
of `update` is its own outbox mailing, `update-N`, N being the calendar's SEQUENCE.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mailer.content.mailings import UPDATE, WITHDRAWAL, Mailing
from mailer.delivery.eligibility import NO_LONGER_DUE, eligible
from mailer.delivery.eligibility import still_due as due_now
from mailer.delivery.selection import EVERYONE, Selection
from rsvp.store import Recipient, Store, recipient_from_row, stamp, utcnow

# (mailing sent, earlier mailing it takes back): see `finish`.
_TAKES_BACK = ((WITHDRAWAL, "confirmation"), ("confirmation", WITHDRAWAL))
STATES = ("queued", "sending", "sent", "deferred", "failed", "cancelled")
# A mailing named by the caller: a value, or its outbox key (kept for scripts and tests).
MailingLike = Mailing | str


@dataclass(frozen=True)
class OutboxItem:
    """A pending row with its recipient, ready to be rendered and sent."""

    id: int
    mailing: Mailing
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
    """Reads and changes the outbox; every state change is committed at once. With a
    `selection` (`invite send --batch ...`) only the rows of the people selected."""

    def __init__(self, store: Store, selection: Selection = EVERYONE) -> None:
        self.store = store
        self.conn = store.conn
        self.selection = selection
        self._only, self._only_args = selection.sql()

    def queue(self, mailing: MailingLike, now: datetime | None = None,
              claim: Callable[[], bool] | None = None) -> int:
        """Add a queued row for everyone who should get `mailing` and has none yet (-1 and
        none: `claim`, run in the same transaction, said no)."""
        mailing = Mailing.of(mailing)
        when = stamp(now or utcnow())
        with self.store.write():
            if claim is not None and not claim():
                return -1
            cursor = self.conn.execute(
                "INSERT OR IGNORE INTO outbox (recipient_id, mailing, state, queued_at, updated_at) "
                f"SELECT r.id, ?, 'queued', ?, ? FROM recipients r WHERE {eligible(mailing)}"
                f"{self._only}", (mailing.key, when, when, *self._only_args))
            if mailing.kind == UPDATE and cursor.rowcount > 0:
                self.conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('calendar_sequence', ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (str(mailing.sequence),))
        return int(cursor.rowcount)

    def cancel_unsubscribed(self, mailing: MailingLike, now: datetime | None = None) -> int:
        """Cancel pending rows of people who unsubscribed after they were queued."""
        with self.store.write():
            cursor = self.conn.execute(
                "UPDATE outbox SET state = 'cancelled', last_reply = 'unsubscribed', updated_at = ? "
                "WHERE mailing = ? AND state IN ('queued', 'deferred') AND recipient_id IN "
                "(SELECT id FROM recipients WHERE unsubscribed_at IS NOT NULL)",
                (stamp(now or utcnow()), Mailing.of(mailing).key))
        return int(cursor.rowcount)

    def sync_decisions(self, mailing: MailingLike, now: datetime | None = None) -> int:
        """Cancel pending rows no longer due: a reminder to someone who has answered since,
        a decision mailing whose decision changed, an older update a newer one replaces;
        revive a cancelled decision mailing once its decision holds again."""
        mailing = Mailing.of(mailing)
        if mailing.kind not in NO_LONGER_DUE:
            return 0
        reason = NO_LONGER_DUE[mailing.kind]
        key = mailing.key
        when = stamp(now or utcnow())
        holds = f"SELECT r.id FROM recipients r WHERE {due_now(mailing)}"
        with self.store.write():
            cursor = self.conn.execute(
                "UPDATE outbox SET state = 'cancelled', last_reply = ?, "
                "updated_at = ? WHERE mailing = ? AND state IN ('queued', 'deferred') "
                f"AND recipient_id NOT IN ({holds})", (reason, when, key))
            cancelled = int(cursor.rowcount)
            self.conn.execute(
                "UPDATE outbox SET state = 'queued', last_reply = '', updated_at = ? "
                "WHERE mailing = ? AND state = 'cancelled' AND last_reply = 'decision changed' "
                f"AND recipient_id IN ({holds})", (when, key))
            if mailing.kind == UPDATE:  # replaced only for the people this run tells
                cursor = self.conn.execute(
                    "UPDATE outbox SET state = 'cancelled', last_reply = ?, updated_at = ? "
                    "WHERE mailing LIKE 'update-%' AND mailing != ? "
                    "AND state IN ('queued', 'deferred') AND EXISTS (SELECT 1 FROM "
                    f"recipients r WHERE r.id = outbox.recipient_id{self._only})",
                    (f"replaced by {key}", when, key, *self._only_args))
                cancelled += int(cursor.rowcount)
        return cancelled

    def calendar_sequence(self) -> int:
        """The SEQUENCE of the latest calendar sent: 0 for the confirmation, N for update N."""
        row = self.conn.execute(
            "SELECT value FROM meta WHERE key = 'calendar_sequence'").fetchone()
        return int(row["value"]) if row else 0

    def current_mailing(self, mailing: MailingLike, resend_unknown: bool = False) -> Mailing:
        """The mailing a run of `mailing` works on: for `update`, the latest round while
        some of it is still to send, else the next one (which `queue` starts only if someone
        gets it, so a run with nobody to tell leaves the sequence as it is)."""
        mailing = Mailing.of(mailing)
        if mailing.tells_plan and not mailing.round:
            # `invite send --mailing agenda`: the oldest round of the plan still to send.
            row = self.conn.execute(
                "SELECT mailing FROM outbox WHERE mailing LIKE ? AND state IN ('queued', "
                "'deferred') ORDER BY id LIMIT 1", (f"{mailing.kind}-%",)).fetchone()
            return Mailing.of(row["mailing"]) if row else mailing
        if mailing.kind != UPDATE:
            return mailing
        sequence = self.calendar_sequence()
        latest = Mailing(UPDATE, sequence)
        if sequence and self.count_pending(latest, resend_unknown):
            return latest
        return Mailing(UPDATE, sequence + 1)

    def count_pending(self, mailing: MailingLike, resend_unknown: bool = False) -> int:
        states = _pending_states(resend_unknown)
        marks = ", ".join("?" * len(states))
        row = self.conn.execute(
            "SELECT count(*) AS n FROM outbox o JOIN recipients r ON r.id = o.recipient_id "
            f"WHERE o.mailing = ? AND o.state IN ({marks}){self._only}",
            (Mailing.of(mailing).key, *states, *self._only_args)).fetchone()
        return int(row["n"])

    def count_would_queue(self, mailing: MailingLike) -> int:
        """How many rows `queue` would add now (for dry runs, which write nothing)."""
        mailing = Mailing.of(mailing)
        row = self.conn.execute(
            f"SELECT count(*) AS n FROM recipients r WHERE {eligible(mailing)}{self._only} "
            "AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.recipient_id = r.id "
            "AND o.mailing = ?)", (*self._only_args, mailing.key)).fetchone()
        return int(row["n"])

    def unknown(self, mailing: MailingLike | None = None) -> list[str]:
        """Addresses whose whole message an interrupted run handed to the relay without
        hearing back: the relay may or may not have taken it."""
        query = ("SELECT r.email FROM outbox o JOIN recipients r ON r.id = o.recipient_id "
                 "WHERE o.state = 'sending' AND o.handed_at IS NOT NULL")
        args: tuple[Any, ...] = ()
        if mailing:
            query += " AND o.mailing = ?"
            args = (Mailing.of(mailing).key,)
        return [row["email"] for row in self.conn.execute(query + " ORDER BY o.id", args)]

    def pending(self, mailing: MailingLike, resend_unknown: bool = False,
                chunk: int = 500, still_due: bool = False) -> Iterator[OutboxItem]:
        """Stream the rows to send, oldest first, a chunk at a time to bound memory.
        `still_due` leaves out rows a real run would cancel first (for dry runs, which
        change nothing)."""
        mailing = Mailing.of(mailing)
        states = _pending_states(resend_unknown)
        marks = ", ".join("?" * len(states))
        due = f"AND {due_now(mailing)} " if still_due else ""
        last = 0
        while True:
            rows = self.conn.execute(
                "SELECT o.id AS outbox_id, o.mailing, o.state, o.attempts, r.* FROM outbox o "
                "JOIN recipients r ON r.id = o.recipient_id "
                f"WHERE o.mailing = ? AND o.state IN ({marks}) AND o.id > ? {due}{self._only} "
                "ORDER BY o.id LIMIT ?",
                (mailing.key, *states, last, *self._only_args, chunk)).fetchall()
            if not rows:
                return
            for row in rows:
                yield OutboxItem(id=row["outbox_id"], mailing=mailing, state=row["state"],
                                 attempts=row["attempts"], recipient=recipient_from_row(row))
            last = rows[-1]["outbox_id"]

    def would_queue(self, mailing: MailingLike) -> Iterator[Recipient]:
        """The people `queue` would add, for dry runs."""
        mailing = Mailing.of(mailing)
        for row in self.conn.execute(
                f"SELECT r.* FROM recipients r WHERE {eligible(mailing)}{self._only} "
                "AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.recipient_id = r.id "
                "AND o.mailing = ?) ORDER BY r.id", (*self._only_args, mailing.key)):
            yield recipient_from_row(row)

    def claim(self, claims: Sequence[tuple[int, str]], now: datetime | None = None) -> None:
        """Mark rows as `sending` with their Message-ID; committed before DATA starts."""
        when = stamp(now or utcnow())
        with self.store.write():
            self.conn.executemany(
                "UPDATE outbox SET state = 'sending', attempts = attempts + 1, message_id = ?, "
                "handed_at = NULL, updated_at = ? WHERE id = ?",
                [(message_id, when, row_id) for row_id, message_id in claims])

    def hand_over(self, row_id: int, now: datetime | None = None) -> None:
        """Note that the row's end of data is about to go to the relay, committed right
        before that write: a row `sending` without it never reached the relay. WAL with
        synchronous=NORMAL makes it survive a killed process (not a power cut): ~15 µs."""
        with self.store.write():
            self.conn.execute("UPDATE outbox SET handed_at = ? WHERE id = ?",
                              (stamp(now or utcnow()), row_id))

    def unhand(self, row_id: int) -> None:
        """Clear the row's hand-over: the relay refused the message, it is queued again."""
        with self.store.write():
            self.conn.execute("UPDATE outbox SET handed_at = NULL WHERE id = ?", (row_id,))

    def finish(self, outcomes: Sequence[Outcome], now: datetime | None = None) -> None:
        """Record what the relay said for each attempt; a refused mail was not handed over."""
        when = stamp(now or utcnow())
        with self.store.write():
            self.conn.executemany(
                "UPDATE outbox SET state = ?, last_reply = ?, updated_at = ?, "
                "sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END, "
                "handed_at = CASE WHEN ? IN ('sent', 'sending') THEN handed_at END WHERE id = ?",
                [(o.state, o.reply[:500], when, o.state, when, o.state, o.id) for o in outcomes])
            sent = json.dumps([o.id for o in outcomes if o.state == "sent"])
            for told, undone in _TAKES_BACK:
                # A withdrawal sent takes the confirmation back (so a place given again is
                # confirmed again), and a new confirmation the withdrawal (so a second no is
                # acknowledged again); sync_decisions revives either once it is due.
                self.conn.execute(
                    "UPDATE outbox SET state = 'cancelled', last_reply = 'decision changed', "
                    "updated_at = ? WHERE mailing = ? AND state = 'sent' AND recipient_id IN "
                    "(SELECT recipient_id FROM outbox WHERE mailing = ? AND state = 'sent' "
                    "AND id IN (SELECT value FROM json_each(?)))", (when, undone, told, sent))

    def release(self, ids: Sequence[int], now: datetime | None = None) -> None:
        """Return claimed rows that never reached the relay to the queue."""
        with self.store.write():
            self.conn.executemany(
                "UPDATE outbox SET state = 'queued', attempts = max(attempts - 1, 0), "
                "handed_at = NULL, updated_at = ? WHERE id = ? AND state = 'sending'",
                [(stamp(now or utcnow()), row_id) for row_id in ids])

    def requeue_unhanded(self, now: datetime | None = None) -> int:
        """Return rows a stopped or killed run claimed but never handed to the relay to the
        queue, their attempt not counted. Only while holding the send lock: a running
        sender's rows in flight look just the same."""
        with self.store.write():
            cursor = self.conn.execute(
                "UPDATE outbox SET state = 'queued', attempts = max(attempts - 1, 0), "
                "updated_at = ? WHERE state = 'sending' AND handed_at IS NULL",
                (stamp(now or utcnow()),))
        return int(cursor.rowcount)

    def has_unhanded(self) -> bool:
        """Say cheaply whether some row is claimed but not handed over: in flight in a
        running sender, or left by one that stopped and waiting for `requeue_unhanded`."""
        return bool(self.conn.execute(
            "SELECT EXISTS (SELECT 1 FROM outbox WHERE state = 'sending' "
            "AND handed_at IS NULL) AS waiting").fetchone()["waiting"])

    def counts(self) -> dict[str, dict[str, int]]:
        """Rows per mailing and state. A row claimed but never handed to the relay (left
        `sending` without `handed_at` by a crash) counts as queued: the next run sends it."""
        result: dict[str, dict[str, int]] = {}
        for row in self.conn.execute(
                "SELECT mailing, CASE WHEN state = 'sending' AND handed_at IS NULL "
                "THEN 'queued' ELSE state END AS state, count(*) AS n FROM outbox "
                "GROUP BY 1, 2"):
            result.setdefault(row["mailing"], {})[row["state"]] = row["n"]
        return result

    def export_rows(self) -> Iterator[dict[str, Any]]:
        """Every row for `invite export --what outbox`."""
        yield from self.store.db.query(
            "SELECT r.email, o.mailing, o.state, o.attempts, o.last_reply, o.message_id, "
            "o.sent_at FROM outbox o JOIN recipients r ON r.id = o.recipient_id "
            "WHERE r.forgotten_at IS NULL ORDER BY o.id")


def _pending_states(resend_unknown: bool) -> tuple[str, ...]:
    return ("queued", "deferred", "sending") if resend_unknown else ("queued", "deferred")
