"""The [brokerage] table of event.toml: slots, tables, limits, and mistakes named by file and key."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from rsvp.config import Contact, EventConfig, load_event
from rsvp.errors import ConfigError
from tests.conftest import make_workspace

PARIS = ZoneInfo("Europe/Paris")
COMPANIES = """
[[companies]]
id = "cilas"
name = "Cilas"
table = 1
contact = { name = "Marie Dupont", email = "marie@cilas.example", language = "fr" }

[[companies]]
id = "kreon"
name = "Kreon"

[[companies]]
id = "leukos"
name = "Leukos"
room = "Salle Limousin"

[[questions]]
id = "meet"
type = "choices"
label = "Whom to meet"
options_from = "companies"
when = "yes"
"""
BROKERAGE = """
[brokerage]
question = "meet"
part = { question = "parts", option = "symposium" }
meeting_minutes = 20
break_minutes = 5
tables = 3
participant_max = 4
company_max = 6

[[brokerage.sessions]]
start = 2030-04-10T14:30:00+02:00
end = 2030-04-10T16:00:00+02:00

[[brokerage.sessions]]
start = 2030-04-10T16:30:00
end = 2030-04-10T17:00:00

[brokerage.companies.kreon]
max_meetings = 2
available = [{ start = 15:00:00, end = 16:00:00 }]
"""


def load(tmp_path: Path, brokerage: str = BROKERAGE, companies: str = COMPANIES) -> EventConfig:
    return load_event(make_workspace(tmp_path, companies + brokerage) / "event.toml")


def error_of(tmp_path: Path, brokerage: str, companies: str = COMPANIES) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, brokerage, companies)
    path = tmp_path / "ws" / "event.toml"
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    return message.removeprefix(f"{path}: ")


def at(hour: int, minute: int) -> datetime:
    return datetime(2030, 4, 10, hour, minute, tzinfo=PARIS)


def test_slots_tables_and_limits_are_read(tmp_path: Path) -> None:
    event = load(tmp_path)
    brokerage = event.brokerage
    assert brokerage is not None and brokerage.part is not None
    assert [(s.start, s.end, s.session) for s in brokerage.slots()] == [
        (at(14, 30), at(14, 50), 0), (at(14, 55), at(15, 15), 0), (at(15, 20), at(15, 40), 0),
        (at(16, 30), at(16, 50), 1)]
    assert brokerage.free_tables == (2, 3)
    # 14:55-15:15 starts before kreon is there at 15:00.
    assert brokerage.company_slots("kreon") == (2,)
    assert brokerage.company_slots("cilas") == (0, 1, 2, 3)
    assert (brokerage.company_limit("kreon"), brokerage.company_limit("cilas")) == (2, 6)
    assert brokerage.participant_max == 4
    assert (brokerage.part.question, brokerage.part.option) == ("parts", "symposium")
    cilas, kreon, leukos = event.companies
    assert cilas.contact == Contact("Marie Dupont", "marie@cilas.example", "fr")
    assert (cilas.table, kreon.table, kreon.contact, leukos.room) == (1, None, None,
                                                                     "Salle Limousin")


def test_the_shipped_example_has_eight_slots_at_eight_own_tables(tmp_path: Path) -> None:
    from mailer.people.workspace import init_workspace
    event = load_event(init_workspace(tmp_path / "example") / "event.toml")
    assert event.brokerage is not None
    slots = event.brokerage.slots()
    local = [slot.start.astimezone(event.zone).strftime("%H:%M") for slot in slots]
    assert local == ["14:30", "14:55", "15:20", "15:45", "16:10", "16:35", "17:00", "17:25"]
    assert [c.table for c in event.companies] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert event.brokerage.free_tables == ()
    assert event.brokerage.question == "meet"


def test_priorities_add_a_very_important_question_after_the_wishes(tmp_path: Path) -> None:
    event = load(tmp_path, BROKERAGE.replace("company_max = 6", "company_max = 6\npriorities = true"))
    ids = [q.id for q in event.questions]
    assert ids == ["parts", "french_help", "comment", "meet", "meet_important"]
    important = event.questions[-1]
    assert (important.type, important.when, [o.id for o in important.options]) == (
        "choices", "yes", ["cilas", "kreon", "leukos"])
    assert important.label["en"] == "Which of these meetings are very important to you?"


def test_an_event_without_brokerage_has_none(tmp_path: Path) -> None:
    assert load(tmp_path, "").brokerage is None


@pytest.mark.parametrize(("change", "expected"), [
    ((("[[brokerage.sessions]]\nstart = 2030-04-10T14:30:00+02:00\nend = 2030-04-10T16:00:00+02:00\n\n"
      "[[brokerage.sessions]]\nstart = 2030-04-10T16:30:00\nend = 2030-04-10T17:00:00\n"), ""),
     "'brokerage.sessions' is missing: add at least one [[brokerage.sessions]] with start and end"),
    (("end = 2030-04-10T17:00:00\n", "end = 2030-04-10T16:20:00\n"),
     ("'brokerage.sessions[2].end' is 2030-04-10T16:20:00+02:00, not after start "
     "2030-04-10T16:30:00+02:00")),
    (("start = 2030-04-10T16:30:00\n", "start = 2030-04-10T15:30:00\n"),
     "'brokerage.sessions[2].start' must not be before the end of the session before it"),
    (("question = \"meet\"", "question = \"partners\""),
     "'brokerage.question' is 'partners', but no question has that id"),
    (("question = \"meet\"", "question = \"comment\""),
     ("'brokerage.question' is 'comment', a question without choices; use one with "
     "options_from = \"companies\"")),
    (("option = \"symposium\"", "option = \"brokerage\""),
     "'brokerage.part.option' is 'brokerage', not an option of question 'parts'"),
    (("tables = 3", "tables = 0"), "'brokerage.tables' must be at least 1, not 0"),
    (("meeting_minutes = 20", "meeting_minutes = 120"),
     "'brokerage.meeting_minutes' is 120: no session is long enough for one meeting"),
    (("[brokerage.companies.kreon]", "[brokerage.companies.kraon]"),
     "'brokerage.companies.kraon' is not the id of one of the [[companies]]"),
    (("max_meetings = 2", "max_meetings = -1"),
     "'brokerage.companies.kreon.max_meetings' must not be negative"),
    (("break_minutes = 5", "break_minuts = 5"),
     "'brokerage.break_minuts' is not a known setting (a typo?)"),
    (("participant_max = 4", "participant_max = \"4\""),
     "'brokerage.participant_max' must be a int, not '4'"),
])
def test_mistakes_name_the_file_and_the_key(tmp_path: Path, change: tuple[str, str],
                                            expected: str) -> None:
    old, new = change
    assert old in BROKERAGE
    assert error_of(tmp_path, BROKERAGE.replace(old, new)) == expected


def test_a_time_of_day_needs_sessions_on_one_day(tmp_path: Path) -> None:
    brokerage = BROKERAGE.replace("start = 2030-04-10T16:30:00\nend = 2030-04-10T17:00:00",
                                  "start = 2030-04-11T09:00:00\nend = 2030-04-11T10:00:00")
    assert error_of(tmp_path, brokerage) == (
        "'brokerage.companies.kreon.available[1].start' is a time of day (15:00:00); give a "
        "date and time, like 2027-04-15T14:30:00, when the sessions span several days")


@pytest.mark.parametrize(("change", "expected"), [
    (("table = 1\n", "table = 4\n"), "'brokerage.tables' is 3, but company 'cilas' has table 4"),
    (("room = \"Salle Limousin\"", "table = 1"),
     "'brokerage.tables' cannot seat companies 'cilas' and 'leukos' both at table 1"),
    (("room = \"Salle Limousin\"", "table = 2\nroom = \"Salle Limousin\""),
     "'companies[3].room' and 'table' cannot both be given: a company meets at one place"),
    (("table = 1\n", "table = 0\n"), "'companies[1].table' must be 1 or more, not 0"),
    (('name = "Kreon"\n', 'name = "Kreon"\nroom = "salle  limousin"\n'),
     ("'companies.room' 'Salle Limousin' is given to companies 'kreon' and 'leukos'; their "
      "meetings would be in one room at once")),
    (("language = \"fr\"", "language = \"it\""),
     "'companies[1].contact.language' is 'it', not one of the event's languages"),
    (("email = \"marie@cilas.example\", ", ""), "'companies[1].contact.email' is missing"),
])
def test_company_places_and_contacts_are_checked(tmp_path: Path, change: tuple[str, str],
                                                 expected: str) -> None:
    old, new = change
    assert old in COMPANIES
    assert error_of(tmp_path, BROKERAGE, COMPANIES.replace(old, new, 1)) == expected
