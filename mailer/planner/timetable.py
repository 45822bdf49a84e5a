"""The plan as text for the terminal: per person, per company or per table.

`invite meetings show` prints these lines; times are in the event's time zone, as in
the programme. Meetings the plan dropped but nobody was told of yet stay visible
(marked), so the organiser sees what the next publish will cancel.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from rsvp.config import Company, EventConfig
from rsvp.meetings import CANCELLED, LIVE, Meeting, all_meetings
from rsvp.store import Recipient, Store
from rsvp.words import counted

VIEWS = ("person", "company", "table")
SHOWN = (*LIVE, CANCELLED)


def place(company: Company | None, table_no: int) -> str:
    """Say where a meeting is: the company's room, or a table."""
    if company is not None and company.room:
        return company.room
    return f"table {table_no}"


class Timetable:
    """The stored plan with the names it needs, read once."""

    def __init__(self, store: Store, event: EventConfig) -> None:
        self.event = event
        self.meetings = all_meetings(store, SHOWN)
        wanted = {m.recipient_id for m in self.meetings}
        self.people: dict[int, Recipient] = {r.id: r for r in store.recipients() if r.id in wanted}
        self.companies = {c.id: c for c in event.companies}

    def _time(self, meeting: Meeting) -> str:
        start = meeting.starts_at.astimezone(self.event.zone)
        end = meeting.ends_at.astimezone(self.event.zone)
        return f"{start:%a %d %b %H:%M}-{end:%H:%M}"

    def _who(self, recipient_id: int) -> str:
        person = self.people.get(recipient_id)
        if person is None:
            return f"(erased person {recipient_id})"
        name = person.full_name
        organisation = f", {person.organisation}" if person.organisation else ""
        return f"{name} <{person.email}>{organisation}" if name else person.email + organisation

    def _company(self, company_id: str) -> str:
        company = self.companies.get(company_id)
        return company.name if company else f"{company_id} (no longer listed)"

    @staticmethod
    def _state(meeting: Meeting) -> str:
        if meeting.state == CANCELLED:
            return "  [cancelled, not yet told]"
        if meeting.moved:
            return "  [moved, not yet told]"
        return "  [not yet published]" if meeting.state != "published" else ""

    def by_person(self, only: int | None = None) -> Iterator[str]:
        groups: dict[int, list[Meeting]] = defaultdict(list)
        for meeting in self.meetings:
            groups[meeting.recipient_id].append(meeting)
        for recipient_id in sorted(groups, key=self._who):
            if only is not None and recipient_id != only:
                continue
            yield self._who(recipient_id)
            for m in groups[recipient_id]:
                where = place(self.companies.get(m.company_id), m.table_no)
                yield f"  {self._time(m)}  {where:<10} {self._company(m.company_id)}{self._state(m)}"

    def by_company(self, only: str | None = None) -> Iterator[str]:
        groups: dict[str, list[Meeting]] = defaultdict(list)
        for meeting in self.meetings:
            groups[meeting.company_id].append(meeting)
        order = [c.id for c in self.event.companies] + sorted(set(groups) - set(self.companies))
        for company_id in order:
            if only is not None and company_id != only:
                continue
            yield f"{self._company(company_id)}: {counted(len(groups[company_id]), 'meetings')}"
            for m in groups[company_id]:
                where = place(self.companies.get(m.company_id), m.table_no)
                yield f"  {self._time(m)}  {where:<10} {self._who(m.recipient_id)}{self._state(m)}"

    def by_table(self) -> Iterator[str]:
        groups: dict[str, list[Meeting]] = defaultdict(list)
        for meeting in self.meetings:
            groups[place(self.companies.get(meeting.company_id), meeting.table_no)].append(meeting)
        for where in sorted(groups, key=lambda w: (not w.startswith("table "),
                                                   int(w[6:]) if w[6:].isdigit() else 0, w)):
            yield where.capitalize() if where.startswith("table ") else where
            for m in groups[where]:
                yield (f"  {self._time(m)}  {self._company(m.company_id)} - "
                       f"{self._who(m.recipient_id)}{self._state(m)}")
