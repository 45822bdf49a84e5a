"""The brokerage plan as an agenda or timetable mail sees it: template values and the .ics.

A participant's `agenda` mail gets `meetings` (their meetings as told, by time: `start`,
`end` in the event's zone, `table`, `room`, `company`, `field`, `url`, and `new`,
`changed`, `cancelled` for what this round tells); a host's `timetable` mail gets
`company` and `meetings` with `name`, `organisation` and `topics` of each participant.
What this round tells is what changed since the last round whose mail reached the
person: a round whose mail never left (the relay deferred it, then a newer round replaced
it) told them nothing. Cancellations told to them before are left out of the text but
kept in the calendar file: a repeated STATUS:CANCELLED with the same SEQUENCE changes
nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mailer.content.agenda_calendar import CalendarEntry, build_agenda
from mailer.content.calendar import CalendarMaker
from mailer.content.mailings import AGENDA, Mailing
from rsvp.config import Company, EventConfig
from rsvp.errors import InviteError
from rsvp.published import (
    ToldMeeting,
    hosted_company,
    last_sent_round,
    round_moment,
    told_agenda,
    told_timetable,
)
from rsvp.store import Recipient, Store

# The answer whose text says what a participant wants to talk about (as in the exports).
TOPICS = "topics"


@dataclass(frozen=True)
class Item:
    """One meeting line of an agenda or timetable mail."""

    start: datetime
    end: datetime
    table: int
    room: str
    company: str
    field: str
    url: str
    name: str
    organisation: str
    topics: str
    new: bool
    changed: bool
    cancelled: bool


@dataclass(frozen=True)
class _Since:
    """The moment of the round a mail tells, and of the last round the person got."""

    moment: datetime | None
    last_sent: datetime | None

    def tells(self, told_at: datetime) -> bool:
        """Whether a change told at `told_at` is news in this mail."""
        return (self.moment is not None and told_at <= self.moment
                and (self.last_sent is None or told_at > self.last_sent))


@dataclass(frozen=True)
class PlanMail:
    """What one agenda or timetable mail adds: its template values and its calendar file."""

    context: dict[str, Any]
    calendar: bytes


class PlanViews:
    """Reads the told plan for agenda and timetable mails of one event."""

    def __init__(self, event: EventConfig, store: Store, calendar: CalendarMaker) -> None:
        self.event = event
        self.store = store
        self.calendar = calendar
        self.companies = {c.id: c for c in event.companies}
        self.has_topics = event.question(TOPICS) is not None

    def mail(self, mailing: Mailing, recipient: Recipient, lang: str) -> PlanMail:
        """The values and .ics of `mailing` (agenda or timetable) for `recipient`."""
        told = None
        if mailing.round:
            moment = round_moment(self.store, mailing.round)
            sent = last_sent_round(self.store, recipient.id, mailing.kind, mailing.round)
            told = _Since(moment, round_moment(self.store, sent) if sent else None)
        if mailing.kind == AGENDA:
            return self._agenda(recipient, lang, told)
        return self._timetable(recipient, lang, told)

    def _agenda(self, recipient: Recipient, lang: str, moment: _Since | None) -> PlanMail:
        items: list[Item] = []
        entries: list[CalendarEntry] = []
        for meeting in told_agenda(self.store, recipient.id):
            company = self._company(meeting.company_id)
            field = self.event.text(company.field, lang) if company.field else ""
            item = self._item(meeting, company, moment, company=company.name, field=field,
                              url=company.url)
            if item is not None:
                items.append(item)
            entries.append(self._entry(meeting, company, company.name, field))
        if not entries:
            raise InviteError(f"{recipient.email} has no published meeting to tell")
        return PlanMail({"meetings": items},
                        build_agenda(self.calendar, entries, lang))

    def _timetable(self, recipient: Recipient, lang: str, moment: _Since | None) -> PlanMail:
        company_id = hosted_company(self.store, recipient.id)
        if company_id is None:
            raise InviteError(f"{recipient.email} is no company's brokerage contact, so has "
                              "no timetable", hint="Send the timetable with `invite meetings "
                                                   "publish`.")
        company = self._company(company_id)
        items: list[Item] = []
        entries: list[CalendarEntry] = []
        for meeting in told_timetable(self.store, company_id):
            person = self.store.recipient(meeting.recipient_id)
            if person is None:
                continue
            topics = self._topics(person.id)
            name = " ".join(p for p in (person.title, person.full_name) if p)
            item = self._item(meeting, company, moment, name=name,
                              organisation=person.organisation, topics=topics)
            if item is not None:
                items.append(item)
            who = f"{name} ({person.organisation})" if person.organisation else name
            entries.append(self._entry(meeting, company, who, topics))
        field = self.event.text(company.field, lang) if company.field else ""
        return PlanMail({"company": {"id": company.id, "name": company.name, "field": field},
                         "meetings": items}, build_agenda(self.calendar, entries, lang))

    def _company(self, company_id: str) -> Company:
        company = self.companies.get(company_id)
        if company is None:
            raise InviteError(f"the plan has a meeting with company {company_id!r}, which "
                              f"{self.event.path.name} no longer lists",
                              hint="Plan again with `invite meetings plan`, then publish.")
        return company

    def _topics(self, recipient_id: int) -> str:
        if not self.has_topics:
            return ""
        response = self.store.response(recipient_id)
        value = response.answers.get(TOPICS) if response else None
        if isinstance(value, list):
            return "; ".join(str(v) for v in value)
        return " ".join(str(value).split()) if value else ""

    def _item(self, meeting: ToldMeeting, place: Company, moment: _Since | None,
              **texts: str) -> Item | None:
        """The mail's line for `meeting`; None for a cancellation told in an earlier mail."""
        this_round = moment is not None and moment.tells(meeting.told_at)
        if meeting.cancelled and not this_round:
            return None
        zone = self.event.zone
        values = {"company": "", "field": "", "url": "", "name": "", "organisation": "",
                  "topics": "", **texts}
        return Item(start=meeting.start.astimezone(zone), end=meeting.end.astimezone(zone),
                    table=meeting.table, room=place.room,
                    new=this_round and not meeting.cancelled and meeting.sequence == 0,
                    changed=this_round and not meeting.cancelled and meeting.sequence > 0,
                    cancelled=meeting.cancelled, **values)

    @staticmethod
    def _entry(meeting: ToldMeeting, company: Company, title: str, detail: str) -> CalendarEntry:
        return CalendarEntry(uid=meeting.uid, sequence=meeting.sequence, start=meeting.start,
                             end=meeting.end, title=title, detail=detail, table=meeting.table,
                             room=company.room, cancelled=meeting.cancelled)
