"""Erase a person's personal data on request, keeping only anonymous counts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from rsvp.forgotten import address_hash
from rsvp.store import Store, stamp, utcnow


@dataclass(frozen=True)
class Erasure:
    """What `forget_person` did; `checkpointed` is False if a reader kept old pages alive."""

    recipient_id: int
    checkpointed: bool


def forget_person(store: Store, recipient_id: int, now: datetime | None = None,
                  keys: Sequence[str] = ()) -> Erasure:
    """Blank the person's fields, answers, history and mail replies; note that it happened.

    Role, language and attendance stay, so counts and quotas still add up; the
    links stop working. SQLite's secure_delete zeroes the freed content, and a
    WAL checkpoint moves it out of the write-ahead log. With the workspace's secret
    `keys`, a keyed hash of the address is kept so that it stays forgotten.
    """
    when = stamp(now or utcnow())
    conn = store.conn
    person = store.recipient(recipient_id)
    with store.write():
        if person is not None and person.email and keys:
            conn.execute("INSERT OR IGNORE INTO forgotten (address_hash, forgotten_at) "
                         "VALUES (?, ?)", (address_hash(keys[-1], person.email), when))
        conn.execute(
            "UPDATE recipients SET email_key = 'forgotten:' || id, email = '', email_ascii = '', "
            "first_name = '', last_name = '', salutation = '', title = '', organisation = '', "
            "sector = '', extra = '{}', token_version = token_version + 1, "
            "unsubscribed_at = coalesce(unsubscribed_at, :now), forgotten_at = :now, "
            "updated_at = :now WHERE id = :id", {"now": when, "id": recipient_id})
        conn.execute("UPDATE responses SET answers = '{}', source = 'erased' WHERE recipient_id = ?",
                     (recipient_id,))
        conn.execute("DELETE FROM response_history WHERE recipient_id = ?", (recipient_id,))
        conn.execute("UPDATE outbox SET last_reply = '', message_id = '' WHERE recipient_id = ?",
                     (recipient_id,))
        # A bounce's reason may quote the address (#9).
        conn.execute("UPDATE recipients SET bounce_reason = NULL WHERE id = ?", (recipient_id,))
        conn.execute("UPDATE bounces SET reason = '' WHERE recipient_id = ?", (recipient_id,))
        conn.execute("INSERT INTO deletions (recipient_id, deleted_at) VALUES (?, ?)",
                     (recipient_id, when))
    busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    return Erasure(recipient_id=recipient_id, checkpointed=busy == 0)


def deletions(store: Store) -> list[tuple[int, str]]:
    """(recipient id, when) of every erasure, for the organiser's records."""
    return [(row["recipient_id"], row["deleted_at"]) for row in store.conn.execute(
        "SELECT recipient_id, deleted_at FROM deletions ORDER BY id")]
