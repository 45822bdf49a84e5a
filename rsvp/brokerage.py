"""Read the [brokerage] table of event.toml: sessions, slots, tables and limits of the meetings.

The brokerage plan (`invite meetings plan`) and the pages that show it both need the
slots; they are worked out here once, from the sessions, the meeting length and the
break, so that planner, mails and answer page agree on when slot 3 starts.

Times without a UTC offset (`14:30:00` in an availability, `2027-04-15T14:30:00` in a
session) are read in the event's time zone: that is how a programme is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from rsvp.errors import ConfigError
from rsvp.toml_table import LocalText, TomlTable

# The label of the "very important" question added after the wishes (`priorities = true`).
IMPORTANT_LABEL: LocalText = {
    "de": "Welche dieser Gespräche sind Ihnen besonders wichtig?",
    "fr": "Lesquels de ces rendez-vous sont très importants pour vous ?",
    "en": "Which of these meetings are very important to you?",
}
IMPORTANT_SUFFIX = "_important"


@dataclass(frozen=True)
class Window:
    """A stretch of time, both ends aware; `end` is exclusive."""

    start: datetime
    end: datetime

    def holds(self, start: datetime, end: datetime) -> bool:
        return self.start <= start and end <= self.end


@dataclass(frozen=True)
class Slot:
    """One meeting time: slot `index` (0-based over all sessions) of session `session`."""

    index: int
    session: int
    start: datetime
    end: datetime


@dataclass(frozen=True)
class CompanyTerms:
    """A company's own limits: when it can meet (None: every session) and how often."""

    available: tuple[Window, ...] | None = None
    max_meetings: int | None = None


@dataclass(frozen=True)
class Part:
    """The programme part whose takers join the brokerage: option `option` of `question`."""

    question: str
    option: str


@dataclass(frozen=True)
class Brokerage:
    """The brokerage settings. `tables` is how many meetings can run at once at shared
    tables; companies with a `table` of their own keep it all session (`free_tables` are
    the others), companies with a `room` meet there, outside the count."""

    sessions: tuple[Window, ...]
    meeting: timedelta
    pause: timedelta
    tables: int
    question: str
    part: Part | None = None
    participant_max: int | None = None
    company_max: int | None = None
    companies: Mapping[str, CompanyTerms] = field(default_factory=dict)
    priorities: bool = False
    important_weight: int = 2
    free_tables: tuple[int, ...] = ()

    @property
    def important_question(self) -> str | None:
        """The id of the "very important" question, or None without `priorities`."""
        return self.question + IMPORTANT_SUFFIX if self.priorities else None

    def slots(self) -> tuple[Slot, ...]:
        """Every meeting time of every session, in order."""
        found: list[Slot] = []
        for number, session in enumerate(self.sessions):
            start = session.start
            while start + self.meeting <= session.end:
                found.append(Slot(len(found), number, start, start + self.meeting))
                start += self.meeting + self.pause
        return tuple(found)

    def company_slots(self, company_id: str) -> tuple[int, ...]:
        """The indices of the slots in which `company_id` can meet."""
        terms = self.companies.get(company_id, CompanyTerms())
        if terms.available is None:
            return tuple(slot.index for slot in self.slots())
        return tuple(slot.index for slot in self.slots()
                     if any(w.holds(slot.start, slot.end) for w in terms.available))

    def company_limit(self, company_id: str) -> int | None:
        """The most meetings `company_id` takes: its own limit, else `company_max`."""
        own = self.companies.get(company_id, CompanyTerms()).max_meetings
        return own if own is not None else self.company_max


def read_brokerage(table: TomlTable, zone: ZoneInfo, company_tables: Mapping[str, int | None],
                   questions: Mapping[str, tuple[str, frozenset[str]]],
                   company_rooms: Mapping[str, str] | None = None) -> Brokerage:
    """Read [brokerage]; `company_tables` maps company ids to their own table (or None),
    `company_rooms` to their own room (or ""), `questions` maps question ids to (type,
    option ids). Raises ConfigError naming the key."""
    _own_rooms(table, company_rooms or {})
    sessions = tuple(_read_window(t, zone, None) for t in table.entries("sessions", "a table with start and end"))
    if not sessions:
        raise table.fail("sessions", "is missing: add at least one [[brokerage.sessions]] "
                                     "with start and end")
    for index, (earlier, later) in enumerate(pairwise(sessions), start=2):
        if later.start < earlier.end:
            raise table.fail(f"sessions[{index}].start", "must not be before the end of the "
                                                         "session before it")
    meeting = timedelta(minutes=_positive(table, "meeting_minutes", 20, minimum=1))
    pause = timedelta(minutes=_positive(table, "break_minutes", 0, minimum=0))
    tables = _positive(table, "tables", max(1, len(company_tables)), minimum=1)
    own = _own_tables(table, company_tables, tables)
    brokerage = Brokerage(
        sessions=sessions, meeting=meeting, pause=pause, tables=tables,
        question=_read_question(table, questions),
        part=_read_part(table, questions),
        participant_max=_optional_count(table, "participant_max"),
        company_max=_optional_count(table, "company_max"),
        companies=_read_terms(table, zone, sessions, company_tables),
        priorities=table.get("priorities", bool, False, False),
        important_weight=_positive(table, "important_weight", 2, minimum=1),
        free_tables=tuple(n for n in range(1, tables + 1) if n not in own),
    )
    if not brokerage.slots():
        raise table.fail("meeting_minutes", f"is {meeting.seconds // 60}: no session is long "
                                            "enough for one meeting")
    table.done()
    return brokerage


def _read_window(table: TomlTable, zone: ZoneInfo, days: tuple[date, ...] | None) -> Window:
    start = _moment(table, "start", zone, days)
    end = _moment(table, "end", zone, days)
    if end <= start:
        raise table.fail("end", f"is {end.isoformat()}, not after start {start.isoformat()}")
    table.done()
    return Window(start, end)


def _moment(table: TomlTable, key: str, zone: ZoneInfo, days: tuple[date, ...] | None) -> datetime:
    """A date-time with or without offset, or (where `days` is given) a time of day on the
    sessions' one day."""
    value: Any = table.get(key, (datetime, time))
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=zone)
    if not days or len(set(days)) != 1:
        raise table.fail(key, f"is a time of day ({value}); give a date and time, like "
                              "2027-04-15T14:30:00, when the sessions span several days")
    return datetime.combine(days[0], value, zone)


def _positive(table: TomlTable, key: str, default: int, minimum: int) -> int:
    value: int = table.get(key, int, False, default)
    if value < minimum:
        raise table.fail(key, f"must be at least {minimum}, not {value}")
    return value


def _optional_count(table: TomlTable, key: str) -> int | None:
    value: int | None = table.get(key, int, False)
    if value is not None and value < 0:
        raise table.fail(key, "must not be negative")
    return value


def _own_rooms(table: TomlTable, company_rooms: Mapping[str, str]) -> None:
    """Refuse a room given to two companies: the plan keeps each company's own meetings
    apart, not two companies' meetings in one room."""
    taken: dict[str, str] = {}
    for company_id, room in company_rooms.items():
        key = " ".join(room.split()).casefold()
        if key and key in taken:
            raise ConfigError(f"{table.path}: 'companies.room' {room!r} is given to companies "
                              f"{taken[key]!r} and {company_id!r}; their meetings would be "
                              "in one room at once", hint="Give each company a room of its "
                              "own, or let them share the tables (no `room`).")
        taken.setdefault(key, company_id)


def _own_tables(table: TomlTable, company_tables: Mapping[str, int | None], tables: int) -> set[int]:
    taken: dict[int, str] = {}
    for company_id, number in company_tables.items():
        if number is None:
            continue
        if number > tables:
            raise table.fail("tables", f"is {tables}, but company {company_id!r} has table "
                                       f"{number}")
        if number in taken:
            raise table.fail("tables", f"cannot seat companies {taken[number]!r} and "
                                       f"{company_id!r} both at table {number}")
        taken[number] = company_id
    return set(taken)


def _read_question(table: TomlTable, questions: Mapping[str, tuple[str, frozenset[str]]]) -> str:
    question_id: str = table.get("question", str)
    if question_id not in questions:
        raise table.fail("question", f"is {question_id!r}, but no question has that id")
    if questions[question_id][0] not in ("choice", "choices"):
        raise table.fail("question", f"is {question_id!r}, a question without choices; "
                                     "use one with options_from = \"companies\"")
    return question_id


def _read_part(table: TomlTable, questions: Mapping[str, tuple[str, frozenset[str]]]) -> Part | None:
    if "part" not in table.data:
        table.used.add("part")
        return None
    part_table = table.sub("part")
    part = Part(question=part_table.get("question", str), option=part_table.get("option", str))
    if part.question not in questions:
        raise part_table.fail("question", f"is {part.question!r}, but no question has that id")
    if part.option not in questions[part.question][1]:
        raise part_table.fail("option", f"is {part.option!r}, not an option of question "
                                        f"{part.question!r}")
    part_table.done()
    return part


def _read_terms(table: TomlTable, zone: ZoneInfo, sessions: tuple[Window, ...],
                company_tables: Mapping[str, int | None]) -> dict[str, CompanyTerms]:
    terms_table = table.sub("companies", required=False)
    days = tuple(s.start.astimezone(zone).date() for s in sessions)
    terms: dict[str, CompanyTerms] = {}
    for company_id in list(terms_table.data):
        if company_id not in company_tables:
            raise terms_table.fail(company_id, "is not the id of one of the [[companies]]")
        own = terms_table.sub(company_id)
        windows = None
        if "available" in own.data:
            windows = tuple(_read_window(t, zone, days) for t in own.entries("available", "a table with start and end"))
        else:
            own.used.add("available")
        terms[company_id] = CompanyTerms(available=windows,
                                         max_meetings=_optional_count(own, "max_meetings"))
        own.done()
    terms_table.done()
    return terms
