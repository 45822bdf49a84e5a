"""Scheduled sends (`invite send --at`): kept until their time, then sent by `invite
serve`'s background sender, or by the next `invite serve` or `invite send` when nothing
ran at that time.

A scheduled send is a mailing, a selection and a time; it reserves nobody. Who gets it
is decided when it goes out, by the same conditions and through the same outbox as any
`invite send`: whoever unsubscribed or answered in between is left out, and nobody gets
a mailing twice. States: scheduled -> sending (its rows are queued; some may wait for a
retry) -> sent, or cancelled before it started.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from mailer.content.mailings import Mailing
from mailer.delivery.outbox import Outbox
from mailer.delivery.selection import Selection
from rsvp.errors import ScheduleError
from rsvp.store import Store, stamp, utcnow

SCHEDULED, SENDING, SENT, CANCELLED = "scheduled", "sending", "sent", "cancelled"
# A send that starts later than this after its time was missed (nothing ran), and says so.
LATE_AFTER = timedelta(seconds=60)
TIME_FORMAT = "%Y-%m-%d %H:%M %Z"


@dataclass(frozen=True)
class ScheduledSend:
    """One row of `scheduled_sends`; `mailing` is the outbox's once it started."""

    id: int
    mailing: Mailing
    selection: Selection
    send_at: datetime
    state: str
    rate: float | None = None
    queued: int = 0
    late: bool = False
    note: str = ""
    started_at: str | None = None
    finished_at: str | None = None

    def missed(self, now: datetime) -> bool:
        """Whether its time passed long enough ago that nothing can have been running."""
        return now - self.send_at > LATE_AFTER


def parse_send_time(text: str, zone: tzinfo, now: datetime | None = None) -> datetime:
    """`2027-03-01 09:00` in the event's time zone, or with an offset (`+01:00`, `Z`);
    refuse a time that has passed, since the send would go out at once."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ScheduleError(f"--at {text!r} is not a date and time",
                            hint='Write it like "2027-03-01 09:00" (the event\'s time zone) '
                                 'or "2027-03-01 09:00+01:00".') from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=zone)
    if when <= (now or utcnow()):
        raise ScheduleError(f"{show_time(when, zone)} has passed",
                            hint="Give a time to come, or send now without --at.")
    return when


def show_time(moment: datetime, zone: tzinfo) -> str:
    """A moment as the organiser reads it: in the event's time zone, to the minute."""
    return moment.astimezone(zone).strftime(TIME_FORMAT)


class Schedule:
    """Reads and changes the scheduled sends; each change is committed at once."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.conn = store.conn

    def add(self, mailing: Mailing, selection: Selection, at: datetime,
            rate: float | None = None, now: datetime | None = None) -> ScheduledSend:
        with self.store.write():
            row = self.conn.execute(
                "INSERT INTO scheduled_sends (mailing, selection, rate, send_at, created_at) "
                "VALUES (?, ?, ?, ?, ?) RETURNING id",
                (mailing.key, selection.to_json(), rate, stamp(at),
                 stamp(now or utcnow()))).fetchone()
        return self.get(int(row["id"]))

    def get(self, send_id: int) -> ScheduledSend:
        row = self.conn.execute("SELECT * FROM scheduled_sends WHERE id = ?",
                                (send_id,)).fetchone()
        if row is None:
            raise ScheduleError(f"no scheduled send {send_id}",
                                hint="`invite schedule --all` lists them with their numbers.")
        return _scheduled(row)

    def listing(self, everything: bool = False) -> list[ScheduledSend]:
        """The sends still to go (all with `everything`), the next first."""
        where = "" if everything else f"WHERE state IN ('{SCHEDULED}', '{SENDING}') "
        return [_scheduled(row) for row in self.conn.execute(
            f"SELECT * FROM scheduled_sends {where}ORDER BY send_at, id")]

    def due(self, now: datetime | None = None) -> list[ScheduledSend]:
        """Sends whose time has come and that have not started, the oldest first."""
        return [_scheduled(row) for row in self.conn.execute(
            "SELECT * FROM scheduled_sends WHERE state = ? AND send_at <= ? "
            "ORDER BY send_at, id", (SCHEDULED, stamp(now or utcnow())))]

    def started(self) -> list[ScheduledSend]:
        """Sends that queued their mails, some of which may still wait for a retry."""
        return [_scheduled(row) for row in self.conn.execute(
            "SELECT * FROM scheduled_sends WHERE state = ? ORDER BY send_at, id", (SENDING,))]

    def cancel(self, send_id: int, now: datetime | None = None) -> ScheduledSend:
        """Cancel a send that has not started; one that has is in the outbox already.
        The state is checked in the same transaction as the change, so a sender that
        claimed the send meanwhile wins and the cancel is refused."""
        with self.store.write():
            cursor = self.conn.execute(
                "UPDATE scheduled_sends SET state = ?, finished_at = ? WHERE id = ? "
                "AND state = ?", (CANCELLED, stamp(now or utcnow()), send_id, SCHEDULED))
        send = self.get(send_id)
        if cursor.rowcount == 0:
            raise ScheduleError(f"scheduled send {send_id} is {send.state}; only one that has "
                                "not started can be cancelled",
                                hint="Its mails are in the outbox: `invite status` shows them.")
        return send

    def claim(self, send_id: int, outbox: Outbox, mailing: Mailing, late: bool,
              now: datetime | None = None) -> int | None:
        """Start a send that is still scheduled and queue its mails (under the outbox key
        of `mailing`), in one transaction; None, queueing nothing, when it is no longer
        scheduled (cancelled, or started by another sender, since it was read)."""
        def take() -> bool:
            cursor = self.conn.execute(
                "UPDATE scheduled_sends SET state = ?, mailing = ?, late = ?, started_at = ?, "
                "note = '' WHERE id = ? AND state = ?",
                (SENDING, mailing.key, int(late), stamp(now or utcnow()), send_id, SCHEDULED))
            return cursor.rowcount == 1

        queued = outbox.queue(mailing, now, claim=take)
        if queued < 0:
            return None
        with self.store.write():
            self.conn.execute("UPDATE scheduled_sends SET queued = ? WHERE id = ?",
                              (queued, send_id))
        return queued

    def finish(self, send_id: int, now: datetime | None = None) -> None:
        with self.store.write():
            self.conn.execute(
                "UPDATE scheduled_sends SET state = ?, finished_at = ? WHERE id = ?",
                (SENT, stamp(now or utcnow()), send_id))

    def note(self, send_id: int, text: str) -> None:
        """Keep why a send could not go out (a template error), for `invite schedule`."""
        with self.store.write():
            self.conn.execute("UPDATE scheduled_sends SET note = ? WHERE id = ?",
                              (text[:500], send_id))

    def next_time(self) -> datetime | None:
        """When the next send that has not started is due, to know when to look again."""
        row = self.conn.execute("SELECT min(send_at) AS at FROM scheduled_sends "
                                "WHERE state = ?", (SCHEDULED,)).fetchone()
        return datetime.fromisoformat(row["at"]) if row["at"] else None


def _scheduled(row: sqlite3.Row) -> ScheduledSend:
    return ScheduledSend(
        id=row["id"], mailing=Mailing.of(row["mailing"]),
        selection=Selection.from_json(row["selection"]),
        send_at=datetime.fromisoformat(row["send_at"]), state=row["state"], rate=row["rate"],
        queued=row["queued"], late=bool(row["late"]), note=row["note"],
        started_at=row["started_at"], finished_at=row["finished_at"])
