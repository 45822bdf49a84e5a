"""The brokerage plan as people were told it: what the agenda mails, the timetables and
the answer page show, and the one step that marks a round of the plan as told.

The planner may move a meeting again after it was published; until the next publish
the person still knows the old time and table (`published_start`, `published_table`),
so everything here reads those, never the planner's latest `starts_at`. A meeting is
shown once it was published, as last told (`published_state`): one told cancelled is shown
cancelled, also when a re-plan brought it back, until the next publish tells that.
Each publish that tells someone is a round N, its moment kept in `meta`, and every
meeting told in it carries that moment as `published_at`: a mail of round N knows which
of the person's meetings are new or changed in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from rsvp.meetings import CANCELLED, DROPPED, PLANNED, PUBLISHED
from rsvp.records import recipient_from_row
from rsvp.store import Recipient, Store

_ROUND = "plan_round"
# Published once: shown as last told, at its published time and table (moved since: still
# the old; told cancelled and planned again since: still cancelled).
_SHOWN = "published_at IS NOT NULL AND published_state IS NOT NULL"
_COLUMNS = ("recipient_id, company_id, starts_at, ends_at, published_start, published_table, "
            "uid, sequence, published_state, published_at")


@dataclass(frozen=True)
class ToldMeeting:
    """One meeting as last told: aware UTC times, `cancelled` once its cancellation went out."""

    recipient_id: int
    company_id: str
    start: datetime
    end: datetime
    table: int
    uid: str
    sequence: int
    cancelled: bool
    told_at: datetime


def _told(row: Any) -> ToldMeeting:
    start = datetime.fromisoformat(row["published_start"])
    length = datetime.fromisoformat(row["ends_at"]) - datetime.fromisoformat(row["starts_at"])
    return ToldMeeting(recipient_id=row["recipient_id"], company_id=row["company_id"],
                       start=start, end=start + max(length, timedelta(0)),
                       table=row["published_table"], uid=row["uid"], sequence=row["sequence"],
                       cancelled=row["published_state"] == DROPPED,
                       told_at=datetime.fromisoformat(row["published_at"]))


def told_agenda(store: Store, recipient_id: int, cancelled: bool = True) -> list[ToldMeeting]:
    """A person's meetings as told, by time; `cancelled=False` leaves the cancelled out
    (the answer page: one query on the (recipient_id, company_id) index)."""
    where = "" if cancelled else f" AND published_state != '{DROPPED}'"
    return [_told(row) for row in store.conn.execute(
        f"SELECT {_COLUMNS} FROM meetings WHERE recipient_id = ? AND {_SHOWN}{where} "
        "ORDER BY published_start, company_id", (recipient_id,))]


def told_timetable(store: Store, company_id: str) -> list[ToldMeeting]:
    """A company's meetings as told, cancelled ones included, by time."""
    return [_told(row) for row in store.conn.execute(
        f"SELECT {_COLUMNS} FROM meetings WHERE company_id = ? AND {_SHOWN} "
        "ORDER BY published_start, recipient_id", (company_id,))]


def untold_people(store: Store) -> list[int]:
    """The people with a meeting that is new, moved or cancelled and not told yet."""
    return [row[0] for row in store.conn.execute(
        f"SELECT DISTINCT recipient_id FROM meetings WHERE state IN ('{PLANNED}', '{CANCELLED}') "
        "ORDER BY recipient_id")]


def untold_companies(store: Store) -> list[str]:
    """The companies with a meeting that is new, moved or cancelled and not told yet."""
    return [row[0] for row in store.conn.execute(
        f"SELECT DISTINCT company_id FROM meetings WHERE state IN ('{PLANNED}', '{CANCELLED}') "
        "ORDER BY company_id")]


def last_round(store: Store) -> int:
    """The number of the latest round of the plan told (0: never published)."""
    row = store.conn.execute("SELECT value FROM meta WHERE key = ?", (_ROUND,)).fetchone()
    return int(row[0]) if row else 0


def round_moment(store: Store, number: int) -> datetime | None:
    """When round `number` was told (the `published_at` of its meetings), if it was."""
    row = store.conn.execute("SELECT value FROM meta WHERE key = ?",
                             (f"{_ROUND}:{number:d}",)).fetchone()
    return datetime.fromisoformat(row[0]) if row else None


def last_sent_round(store: Store, recipient_id: int, kind: str, before: int) -> int:
    """The latest round before `before` whose `kind` mail (agenda or timetable) went out
    to the person (0: none). A round whose mail never left (a newer one replaced it)
    told them nothing: the newer mail tells what that one would have."""
    rounds = [int(row[0].rpartition("-")[2]) for row in store.conn.execute(
        "SELECT mailing FROM outbox WHERE recipient_id = ? AND mailing LIKE ? "
        "AND state = 'sent'", (recipient_id, f"{kind}-%"))]
    return max((number for number in rounds if number < before), default=0)


def mark_told(store: Store, number: int, now: datetime) -> tuple[int, int]:
    """Mark every untold meeting as told in round `number`: planned ones published (a
    meeting published before gets a higher SEQUENCE, so calendars replace their entry),
    cancelled ones dropped (higher SEQUENCE too, as RFC 5546 wants for a cancellation).
    Runs inside the caller's transaction, the one that queues the mails telling it, so a
    change is never marked told without its mail, nor mailed twice. Returns (published,
    dropped)."""
    # To the microsecond and later than the round before: the moment names the round.
    before = round_moment(store, number - 1)
    moment = now.astimezone(UTC)
    if before is not None and moment <= before:
        moment = before + timedelta(microseconds=1)
    when = moment.isoformat(timespec="microseconds")
    published = store.conn.execute(
        f"UPDATE meetings SET state = '{PUBLISHED}', published_state = '{PUBLISHED}', "
        "published_at = ?, "
        "sequence = sequence + (published_at IS NOT NULL), published_start = starts_at, "
        f"published_table = table_no WHERE state = '{PLANNED}'", (when,)).rowcount
    dropped = store.conn.execute(
        f"UPDATE meetings SET state = '{DROPPED}', published_state = '{DROPPED}', "
        "published_at = ?, sequence = sequence + 1 "
        f"WHERE state = '{CANCELLED}'", (when,)).rowcount
    for key, value in ((_ROUND, str(number)), (f"{_ROUND}:{number:d}", when)):
        store.conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) "
                           "DO UPDATE SET value = excluded.value", (key, value))
    return int(published), int(dropped)


def hosted_company(store: Store, recipient_id: int) -> str | None:
    """The id of the company whose brokerage contact the recipient is, or None."""
    row = store.conn.execute("SELECT host_of FROM recipients WHERE id = ?",
                             (recipient_id,)).fetchone()
    return row[0] if row else None


def told_people(store: Store) -> list[Recipient]:
    """The people (not forgotten, no company contact) told at least one meeting, by id:
    those an agenda mail has something to show."""
    return [recipient_from_row(row) for row in store.conn.execute(
        "SELECT * FROM recipients r WHERE r.forgotten_at IS NULL AND r.host_of IS NULL AND "
        f"EXISTS (SELECT 1 FROM meetings m WHERE m.recipient_id = r.id AND {_SHOWN}) "
        "ORDER BY r.id")]


def hosts(store: Store) -> list[Recipient]:
    """The companies' brokerage contacts made by a publish (not forgotten), by id: those a
    timetable mail goes to."""
    return [recipient_from_row(row) for row in store.conn.execute(
        "SELECT * FROM recipients WHERE host_of IS NOT NULL AND forgotten_at IS NULL "
        "ORDER BY id")]
