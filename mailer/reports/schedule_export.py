"""The brokerage plan as tables: `invite export --what schedule`, a timetable per company
and the whole session as a grid of tables by times (the workbook's sheets).

Everything here shows the current plan (planned and published meetings), which may be
ahead of what people were told: the `state` column says which is which. Times are ISO
8601 in the event's time zone with their UTC offset, so a JSON reader needs no zone
and a spreadsheet shows the local time the programme uses.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mailer.reports.meetings import TOPICS
from rsvp.config import EventConfig
from rsvp.errors import InviteError
from rsvp.meetings import LIVE, Meeting, all_meetings
from rsvp.store import Recipient, Store

SCHEDULE_COLUMNS = ("start", "end", "table", "room", "company", "company_name", "email",
                    "first_name", "last_name", "organisation", "topics", "state")
TIMETABLE_COLUMNS = ("start", "end", "table", "participant", "organisation", "topics", "email")
GRID_TIME = "time"

Rows = Iterator[dict[str, Any]]


@dataclass(frozen=True)
class Table:
    """One sheet's worth: a label to name it by, its columns and rows."""

    label: str
    columns: list[str]
    rows: list[dict[str, Any]]


class _Plan:
    """The live meetings with their people and topics, read once for all tables."""

    def __init__(self, store: Store, event: EventConfig) -> None:
        if event.brokerage is None:
            raise InviteError(f"{event.path.name} has no [brokerage], so there is no schedule "
                              "to export", hint="Add [brokerage] to event.toml, then run "
                                                "`invite meetings plan`.")
        self.event = event
        self.meetings = all_meetings(store, LIVE)
        self.people: dict[int, Recipient] = {}
        self.topics: dict[int, str | None] = {}
        has_topics = event.question(TOPICS) is not None
        for meeting in self.meetings:
            if meeting.recipient_id in self.people:
                continue
            person = store.recipient(meeting.recipient_id)
            if person is None:
                continue
            self.people[person.id] = person
            response = store.response(person.id) if has_topics else None
            self.topics[person.id] = _text(response.answers.get(TOPICS)) if response else None
        self.companies = {c.id: c for c in event.companies}

    def local(self, moment: datetime) -> str:
        return moment.astimezone(self.event.zone).isoformat()

    def row(self, meeting: Meeting) -> dict[str, Any] | None:
        person = self.people.get(meeting.recipient_id)
        if person is None:
            return None
        company = self.companies.get(meeting.company_id)
        return {"start": self.local(meeting.starts_at), "end": self.local(meeting.ends_at),
                "table": meeting.table_no, "room": (company.room or None) if company else None,
                "company": meeting.company_id,
                "company_name": company.name if company else None, "email": person.email,
                "first_name": person.first_name, "last_name": person.last_name,
                "organisation": person.organisation or None,
                "topics": self.topics.get(person.id), "state": meeting.state}


def schedule_table(store: Store, event: EventConfig) -> tuple[list[str], Rows]:
    """Return the columns and one row per planned or published meeting, by time and table."""
    plan = _Plan(store, event)
    rows = (plan.row(meeting) for meeting in plan.meetings)
    return list(SCHEDULE_COLUMNS), (row for row in rows if row is not None)


def schedule_sheets(store: Store, event: EventConfig) -> list[Table]:
    """A timetable per company with meetings (to print for its table), then the grid."""
    plan = _Plan(store, event)
    tables = []
    for company in event.companies:
        rows = []
        for meeting in plan.meetings:
            row = plan.row(meeting) if meeting.company_id == company.id else None
            if row is None:
                continue
            name = " ".join(p for p in (row["first_name"], row["last_name"]) if p)
            rows.append({"start": row["start"], "end": row["end"],
                         "table": row["room"] or row["table"], "participant": name,
                         "organisation": row["organisation"], "topics": row["topics"],
                         "email": row["email"]})
        if rows:
            tables.append(Table(company.name, list(TIMETABLE_COLUMNS), rows))
    if plan.meetings:
        tables.append(_grid(plan))
    return tables


def _grid(plan: _Plan) -> Table:
    """The session as a grid: a row per meeting time, a column per table (or room), each
    cell saying which company meets whom there."""
    places: dict[str, None] = {}
    cells: dict[str, dict[str, str]] = {}
    for meeting in plan.meetings:
        person = plan.people.get(meeting.recipient_id)
        company = plan.companies.get(meeting.company_id)
        if person is None:
            continue
        place = (company.room if company and company.room else f"table {meeting.table_no}")
        places.setdefault(place, None)
        when = plan.local(meeting.starts_at)
        who = " ".join(p for p in (person.first_name, person.last_name) if p) or person.email
        cells.setdefault(when, {})[place] = f"{company.name if company else meeting.company_id}: {who}"
    ordered = sorted(places, key=lambda p: (not p.startswith("table "),
                                            int(p[6:]) if p.startswith("table ") and p[6:].isdigit() else 0, p))
    rows = [{GRID_TIME: when, **{place: cells[when].get(place) for place in ordered}}
            for when in sorted(cells)]
    return Table("schedule", [GRID_TIME, *ordered], rows)


def _text(value: Any) -> str | None:
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, list):
        return "; ".join(str(item) for item in value)
    return " ".join(str(value).split())
