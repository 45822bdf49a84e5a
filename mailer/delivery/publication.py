"""Publish the brokerage plan: queue a round of agenda and timetable mails and mark the
plan told, in one transaction.

A round N queues `agenda-N` for each participant with a new, moved or cancelled meeting
and `timetable-N` for the contact of each company with one, then marks those meetings
published or dropped (mailer.content.plan_view renders the mails from that told state
when they go out). Queueing and marking commit together, so a publish cut short before
the commit tells nobody and marks nothing, and one cut short while sending is finished
by the next `invite meetings publish` (or `invite send --mailing agenda`) from the
outbox: every person is told once per change. A pending mail of an earlier round for
someone told again is cancelled, since the newer one shows all the earlier one would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from mailer.content.mailings import AGENDA, TIMETABLE, Mailing
from mailer.delivery.eligibility import ELIGIBLE
from mailer.delivery.hosts import contact_companies, sync_hosts
from rsvp.config import EventConfig
from rsvp.published import last_round, mark_told, untold_companies, untold_people
from rsvp.store import Recipient, Store, recipient_from_row, stamp, utcnow

# Renders every mail of a round, raising on the first that cannot be made.
Check = Callable[[Mailing, list[Recipient]], object]


@dataclass(frozen=True)
class Untold:
    """What a publish would tell now (read without writing, for the question and dry runs)."""

    people: list[str]          # participants' addresses
    companies: list[str]       # ids of companies with a change
    without_contact: list[str]  # of those, the ones with no contact to tell

    def __bool__(self) -> bool:
        return bool(self.people or self.companies)


@dataclass(frozen=True)
class Round:
    """A round queued and marked: its mailings, how many mails each, meetings marked."""

    agenda: Mailing
    timetable: Mailing
    agendas: int
    timetables: int
    published: int
    dropped: int


def untold(store: Store, event: EventConfig) -> Untold:
    """Who a publish would tell now."""
    ids = untold_people(store)
    people = []
    for recipient_id in ids:
        person = store.recipient(recipient_id)
        if person is not None:
            people.append(person.email)
    companies = untold_companies(store)
    with_contact = {company.id for company in contact_companies(event)}
    return Untold(people, companies, [c for c in companies if c not in with_contact])


def publish_round(store: Store, event: EventConfig, check: Check | None = None,
                  now: datetime | None = None) -> Round | None:
    """Queue round N and mark the plan told; None (nothing written) if nothing is untold.

    `check` renders the round's mails inside the transaction, from the plan as now told:
    a template or address that fails rolls everything back, so nothing is marked told
    that cannot be mailed."""
    moment = now or utcnow()
    when = stamp(moment)
    with store.write():
        hosts = sync_hosts(store, event, moment)
        people = untold_people(store)
        companies = untold_companies(store)
        if not people and not companies:
            return None
        number = last_round(store) + 1
        agenda, timetable = Mailing(AGENDA, number), Mailing(TIMETABLE, number)
        agendas = _queue(store, agenda, people, ELIGIBLE[AGENDA], when)
        told = [host.recipient_id for host in hosts if host.company_id in companies]
        timetables = _queue(store, timetable, told, ELIGIBLE[TIMETABLE], when)
        published, dropped = mark_told(store, number, moment)
        if check is not None:
            for mailing in (agenda, timetable):
                check(mailing, queued(store, mailing))
    return Round(agenda, timetable, agendas, timetables, published, dropped)


def _queue(store: Store, mailing: Mailing, ids: list[int], condition: str, when: str) -> int:
    """Queue `mailing` for those of `ids` who may get it; cancel their older pending rounds."""
    count = 0
    for recipient_id in ids:
        cursor = store.conn.execute(
            "INSERT OR IGNORE INTO outbox (recipient_id, mailing, state, queued_at, updated_at) "
            f"SELECT r.id, ?, 'queued', ?, ? FROM recipients r WHERE r.id = ? AND {condition}",
            (mailing.key, when, when, recipient_id))
        if cursor.rowcount:
            count += 1
            store.conn.execute(
                "UPDATE outbox SET state = 'cancelled', last_reply = ?, updated_at = ? "
                "WHERE recipient_id = ? AND mailing LIKE ? AND mailing != ? "
                "AND state IN ('queued', 'deferred')",
                (f"replaced by {mailing.key}", when, recipient_id, f"{mailing.kind}-%",
                 mailing.key))
    return count


def pending_rounds(store: Store) -> list[Mailing]:
    """The agenda and timetable rounds with mails still to send, oldest first."""
    return [Mailing.of(row[0]) for row in store.conn.execute(
        "SELECT mailing FROM outbox WHERE (mailing LIKE 'agenda-%' OR mailing LIKE "
        "'timetable-%') AND state IN ('queued', 'deferred') GROUP BY mailing ORDER BY min(id)")]


def queued(store: Store, mailing: Mailing) -> list[Recipient]:
    """The people `mailing` is queued for, not sent yet."""
    return [recipient_from_row(row) for row in store.conn.execute(
        "SELECT r.* FROM outbox o JOIN recipients r ON r.id = o.recipient_id "
        "WHERE o.mailing = ? AND o.state IN ('queued', 'deferred') ORDER BY o.id",
        (mailing.key,))]
