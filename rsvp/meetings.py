"""The brokerage meetings as planned and published: the `meetings` table, read and replaced.

One row per pair (person, company) that meets or met, kept across re-plans so that
its iCalendar UID stays the same. States:

    planned    new or moved, not yet published
    published  as last told to the person and the company
    cancelled  was published, the plan dropped it, not yet told
    dropped    cancelled and told

The planner replaces the plan with `save_plan`; the publisher marks what it told
(rsvp.published). The answer page reads `agenda_of`; the domain holds these so that
rsvp never imports mailer.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from rsvp.store import Store, stamp, utcnow

PLANNED, PUBLISHED, CANCELLED, DROPPED = "planned", "published", "cancelled", "dropped"
STATES = (PLANNED, PUBLISHED, CANCELLED, DROPPED)
# Meetings that take place as far as anyone knows or will know: what a timetable shows.
LIVE = (PLANNED, PUBLISHED)


@dataclass(frozen=True)
class Meeting:
    """One row of `meetings`; times are aware (UTC)."""

    id: int
    recipient_id: int
    company_id: str
    starts_at: datetime
    ends_at: datetime
    table_no: int
    state: str
    uid: str
    sequence: int
    published_at: datetime | None
    published_start: datetime | None
    published_table: int | None
    changed_at: datetime

    @property
    def moved(self) -> bool:
        """Whether the time or table differs from what was last published."""
        return self.published_at is not None and (
            self.starts_at != self.published_start or self.table_no != self.published_table)


@dataclass(frozen=True)
class Placement:
    """One meeting of a new plan, before it is stored."""

    recipient_id: int
    company_id: str
    starts_at: datetime
    ends_at: datetime
    table_no: int


@dataclass(frozen=True)
class PlanChange:
    """What `save_plan` did (or, dry, would do), by pair."""

    added: tuple[tuple[int, str], ...]
    moved: tuple[tuple[int, str], ...]
    cancelled: tuple[tuple[int, str], ...]
    deleted: tuple[tuple[int, str], ...]
    kept: int


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _meeting(row: sqlite3.Row) -> Meeting:
    get = row.__getitem__
    return Meeting(
        id=get("id"), recipient_id=get("recipient_id"), company_id=get("company_id"),
        starts_at=datetime.fromisoformat(get("starts_at")),
        ends_at=datetime.fromisoformat(get("ends_at")), table_no=get("table_no"),
        state=get("state"), uid=get("uid"), sequence=get("sequence"),
        published_at=_moment(get("published_at")), published_start=_moment(get("published_start")),
        published_table=get("published_table"),
        changed_at=datetime.fromisoformat(get("changed_at")))


def _select(store: Store, where: str, args: tuple[object, ...],
            states: Collection[str] | None) -> list[Meeting]:
    if states is not None:
        marks = ", ".join("?" for _ in states)
        where = f"{where} AND state IN ({marks})" if where else f"state IN ({marks})"
        args = (*args, *states)
    sql = "SELECT * FROM meetings" + (f" WHERE {where}" if where else "")
    rows = store.conn.execute(sql + " ORDER BY starts_at, table_no, id", args).fetchall()
    return [_meeting(row) for row in rows]


def agenda_of(store: Store, recipient_id: int,
              states: Collection[str] | None = None) -> list[Meeting]:
    """Return a person's meetings by time (all states unless `states` says which)."""
    return _select(store, "recipient_id = ?", (recipient_id,), states)


def timetable_of(store: Store, company_id: str,
                 states: Collection[str] | None = None) -> list[Meeting]:
    """Return a company's meetings by time (all states unless `states` says which)."""
    return _select(store, "company_id = ?", (company_id,), states)


def all_meetings(store: Store, states: Collection[str] | None = None) -> list[Meeting]:
    """Return every meeting by time, then table (all states unless `states` says which)."""
    return _select(store, "", (), states)


def save_plan(store: Store, plan: Iterable[Placement], now: datetime | None = None,
              dry_run: bool = False) -> PlanChange:
    """Replace the plan with `plan`, keeping each pair's row (and UID).

    A meeting back at its published time and table is 'published' again; a new or moved
    one is 'planned'; a published one the plan leaves out is 'cancelled'; a never
    published one it leaves out is deleted. `dry_run` only says what would change.
    """
    when = stamp(now or utcnow())
    new = {(p.recipient_id, p.company_id): p for p in plan}
    added: list[tuple[int, str]] = []
    moved: list[tuple[int, str]] = []
    cancelled: list[tuple[int, str]] = []
    deleted: list[tuple[int, str]] = []
    kept = 0
    with store.write():
        old = {(m.recipient_id, m.company_id): m for m in all_meetings(store)}
        for pair, meeting in old.items():
            placed = new.get(pair)
            if placed is None:
                if meeting.state in (CANCELLED, DROPPED):
                    continue
                if meeting.published_at is None:
                    deleted.append(pair)
                    if not dry_run:
                        store.conn.execute("DELETE FROM meetings WHERE id = ?", (meeting.id,))
                else:
                    cancelled.append(pair)
                    if not dry_run:
                        store.conn.execute("UPDATE meetings SET state = 'cancelled', changed_at = ? "
                                           "WHERE id = ?", (when, meeting.id))
                continue
            same_as_told = (meeting.state != DROPPED and meeting.published_at is not None
                            and placed.starts_at == meeting.published_start
                            and placed.table_no == meeting.published_table)
            state = PUBLISHED if same_as_told else PLANNED
            unchanged = (state == meeting.state and placed.starts_at == meeting.starts_at
                         and placed.table_no == meeting.table_no)
            if unchanged:
                kept += 1
                continue
            (moved if meeting.state in (PUBLISHED, PLANNED) else added).append(pair)
            if not dry_run:
                store.conn.execute(
                    "UPDATE meetings SET starts_at = ?, ends_at = ?, table_no = ?, state = ?, "
                    "changed_at = ? WHERE id = ?",
                    (stamp(placed.starts_at), stamp(placed.ends_at), placed.table_no, state,
                     when, meeting.id))
        for pair, placed in new.items():
            if pair in old:
                continue
            added.append(pair)
            if not dry_run:
                store.conn.execute(
                    "INSERT INTO meetings (recipient_id, company_id, starts_at, ends_at, table_no, "
                    "state, uid, changed_at) VALUES (?, ?, ?, ?, ?, 'planned', ?, ?)",
                    (pair[0], pair[1], stamp(placed.starts_at), stamp(placed.ends_at),
                     placed.table_no, meeting_uid(store, pair[0], pair[1]), when))
    return PlanChange(tuple(added), tuple(moved), tuple(cancelled), tuple(deleted), kept)


def meeting_uid(store: Store, recipient_id: int, company_id: str) -> str:
    """The iCalendar UID of a pair's meeting: the same for the pair whatever the plan."""
    return f"meeting-{store.event_id}-{recipient_id}-{company_id}@invite"
