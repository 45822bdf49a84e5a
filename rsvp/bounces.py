"""Record bounces and auto-replies against recipients: a hard bounce marks the person
bounced at once, soft ones after `[bounces] soft_limit`; each report counts once.

A bounced person gets no further mail: their waiting mail is cancelled here, and
mailer.delivery.eligibility reads `bounced_at` before queueing any other.
Each handled report is kept under its message key, so reading the same mailbox again,
or an export of it in another format, changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from rsvp.records import stamp, utcnow
from rsvp.store import NOT_HOST, Store

HARD, SOFT, AUTO_REPLY = "hard", "soft", "auto-reply"
KINDS = (HARD, SOFT, AUTO_REPLY)
# What record_bounces says of each report.
SEEN, COUNTED, MARKED = "seen", "counted", "marked"


@dataclass(frozen=True)
class BounceRecord:
    """One report to record: its key, kind, the recipient and outbox row it names (None
    for an auto-reply nobody could be matched to), status, reason and when it bounced."""

    key: str
    kind: str
    recipient_id: int | None
    outbox_id: int | None = None
    status: str = ""
    reason: str = ""
    bounced_at: datetime | None = None


def known_keys(store: Store, keys: Iterable[str]) -> set[str]:
    """Those of `keys` already recorded."""
    wanted = list(dict.fromkeys(keys))
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        found.update(row[0] for row in store.conn.execute(
            f"SELECT message_key FROM bounces WHERE message_key IN ({', '.join('?' * len(chunk))})",
            chunk))
    return found


def record_bounces(store: Store, records: Iterable[BounceRecord], soft_limit: int,
                   now: datetime | None = None) -> list[str]:
    """Record the reports in one transaction; say of each SEEN (already recorded, nothing
    changed), MARKED (its recipient is now bounced) or COUNTED."""
    when = stamp(now or utcnow())
    outcomes: list[str] = []
    conn = store.conn
    with store.write():
        for record in records:
            if record.kind not in KINDS:
                raise ValueError(f"unknown bounce kind {record.kind!r}")
            bounced = stamp(record.bounced_at) if record.bounced_at else when
            inserted = conn.execute(
                "INSERT OR IGNORE INTO bounces (message_key, recipient_id, outbox_id, kind, "
                "status, reason, bounced_at, handled_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (record.key, record.recipient_id, record.outbox_id, record.kind, record.status,
                 record.reason, bounced, when)).rowcount
            if not inserted:
                outcomes.append(SEEN)
                continue
            outcomes.append(_apply(store, record, bounced, soft_limit, when))
    return outcomes


def _apply(store: Store, record: BounceRecord, bounced: str, soft_limit: int,
           when: str) -> str:
    """Count or mark the recipient of one new report (an auto-reply changes nobody)."""
    if record.recipient_id is None or record.kind == AUTO_REPLY:
        return COUNTED
    conn = store.conn
    reason = record.reason or record.status
    if record.kind == SOFT:
        conn.execute("UPDATE recipients SET soft_bounces = soft_bounces + 1 WHERE id = ?",
                     (record.recipient_id,))
        count = conn.execute("SELECT soft_bounces FROM recipients WHERE id = ?",
                             (record.recipient_id,)).fetchone()[0]
        if count < soft_limit:
            return COUNTED
        reason = f"soft bounces: {count}; last: {reason}"
    marked = conn.execute(
        "UPDATE recipients SET bounced_at = ?, bounce_reason = ?, updated_at = ? "
        "WHERE id = ? AND bounced_at IS NULL",
        (bounced, reason, when, record.recipient_id)).rowcount
    if not marked:
        return COUNTED
    # Mail still waiting for this person would go to the dead address: it is called off
    # here, and mailer.delivery.eligibility keeps any later mailing from queueing them.
    conn.execute("UPDATE outbox SET state = 'cancelled', last_reply = 'bounced', updated_at = ? "
                 "WHERE recipient_id = ? AND state IN ('queued', 'deferred')",
                 (when, record.recipient_id))
    return MARKED


def clear_bounce(store: Store, recipient_id: int) -> str | None:
    """Take the bounce mark off a recipient (the address works again): bounced_at,
    bounce_reason and the soft count reset, and the mail the mark called off is queued
    again (the next send's sync still drops what is no longer due). The reason it had,
    or None if not marked."""
    when = stamp(utcnow())
    with store.write():
        row = store.conn.execute("SELECT bounced_at, bounce_reason FROM recipients WHERE id = ?",
                                 (recipient_id,)).fetchone()
        store.conn.execute("UPDATE recipients SET bounced_at = NULL, bounce_reason = NULL, "
                           "soft_bounces = 0, updated_at = ? WHERE id = ?", (when, recipient_id))
        store.conn.execute("UPDATE outbox SET state = 'queued', last_reply = '', updated_at = ? "
                           "WHERE recipient_id = ? AND state = 'cancelled' "
                           "AND last_reply = 'bounced'", (when, recipient_id))
    return None if row is None or row[0] is None else str(row[1] or "")


def bounced_by_id(store: Store) -> dict[int, tuple[str, str]]:
    """(when, reason) of every bounced recipient, by id, for the exports."""
    return {row[0]: (row[1], row[2] or "") for row in store.conn.execute(
        "SELECT id, bounced_at, bounce_reason FROM recipients WHERE bounced_at IS NOT NULL")}


def bounce_reason(store: Store, recipient_id: int) -> str:
    """Why the recipient is marked bounced ("" if they are not)."""
    row = store.conn.execute("SELECT bounce_reason FROM recipients WHERE id = ?",
                             (recipient_id,)).fetchone()
    return str(row[0] or "") if row else ""


def count_bounced(store: Store) -> int:
    """How many invitees are marked bounced (not counting brokerage hosts)."""
    return int(store.conn.execute(
        f"SELECT count(*) FROM recipients WHERE bounced_at IS NOT NULL AND {NOT_HOST} "
        "AND forgotten_at IS NULL").fetchone()[0])


def outbox_rows(store: Store, row_ids: Iterable[int]) -> dict[int, int | None]:
    """The recipient of each of these outbox rows that exists, by row id; None for a
    person erased with `invite forget` (a late bounce must not write them back)."""
    wanted = list(dict.fromkeys(row_ids))
    found: dict[int, int | None] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        found.update((row[0], row[1]) for row in store.conn.execute(
            "SELECT o.id, CASE WHEN r.forgotten_at IS NULL THEN o.recipient_id END "
            "FROM outbox o JOIN recipients r ON r.id = o.recipient_id "
            f"WHERE o.id IN ({', '.join('?' * len(chunk))})", chunk))
    return found


def outbox_by_message_id(store: Store) -> dict[str, tuple[int, int]]:
    """(outbox row, recipient) of every mail sent, by its Message-ID."""
    return {row[0]: (row[1], row[2]) for row in store.conn.execute(
        "SELECT o.message_id, o.id, o.recipient_id FROM outbox o JOIN recipients r "
        "ON r.id = o.recipient_id WHERE o.message_id != '' AND r.forgotten_at IS NULL")}
