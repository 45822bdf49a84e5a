"""Load and check event.toml: the event, its sender, RSVP rules and questions.

The questions' own reading lives in `rsvp.questions`; `Option` and `Question` are
imported from here as well as from there.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rsvp.bounce_config import BounceRules, read_bounce_rules
from rsvp.brokerage import IMPORTANT_LABEL, Brokerage, read_brokerage
from rsvp.errors import ConfigError
from rsvp.export_config import ExportSettings, read_export
from rsvp.questions import Option, Question, read_id, read_question
from rsvp.toml_table import LANGUAGES, LocalText, TomlTable

ADMISSIONS = ("selection", "first-come")
APPROVALS = ("organiser", "automatic")

@dataclass(frozen=True)
class ProgrammeItem:
    start: datetime
    end: datetime | None
    title: LocalText
    detail: LocalText


@dataclass(frozen=True)
class Contact:
    """Whom the brokerage timetable of a company goes to."""

    name: str
    email: str
    language: str


@dataclass(frozen=True)
class Company:
    id: str
    name: str
    url: str
    field: LocalText
    contact: Contact | None = None
    # Where the company meets: its own table all session, or its own room (see [brokerage]).
    table: int | None = None
    room: str = ""


@dataclass(frozen=True)
class Sender:
    from_: str
    reply_to: str
    organiser: str
    phone: str


@dataclass(frozen=True)
class RsvpRules:
    deadline: datetime
    admission: str
    quotas: dict[str, int]
    nominations_per_recipient: int


@dataclass(frozen=True)
class NominationRules:
    """Who may put people forward and what happens then: `approval` "organiser" (the
    default: a nominee waits for `invite nominations --approve`) or "automatic"; `depth`
    1 lets only imported people nominate, 2 their nominees too; `per_hour` caps the
    nominations of the whole event in any hour, whoever makes them."""

    approval: str = "organiser"
    depth: int = 1
    per_hour: int = 20


@dataclass(frozen=True)
class EventConfig:
    path: Path
    title: LocalText
    intro: LocalText
    start: datetime
    end: datetime
    timezone: str
    location: LocalText
    default_language: str
    languages: tuple[str, ...]
    sender: Sender
    rsvp: RsvpRules
    programme: tuple[ProgrammeItem, ...] = ()
    companies: tuple[Company, ...] = ()
    questions: tuple[Question, ...] = field(default=())
    nominations: NominationRules = field(default_factory=NominationRules)
    brokerage: Brokerage | None = None
    export: ExportSettings = field(default_factory=ExportSettings)
    bounces: BounceRules = field(default_factory=BounceRules)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def text(self, value: LocalText, lang: str) -> str:
        """Pick `value` in `lang`, falling back to the default language, then any."""
        if lang in value:
            return value[lang]
        if self.default_language in value:
            return value[self.default_language]
        return next(iter(value.values()), "")

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions if q.id == question_id), None)


def load_event(path: Path) -> EventConfig:
    """Read `path` (event.toml), raising ConfigError naming the file and the key."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist",
                          hint="Run `invite init DIR` to create a workspace, or pass -w DIR.") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from None
    top = TomlTable(raw, "", path)
    ev = top.sub("event")
    languages = tuple(ev.get("languages", list, False, list(LANGUAGES)))
    for lang in languages:
        if lang not in LANGUAGES:
            raise ev.fail("languages", f"holds {lang!r}; supported are {', '.join(LANGUAGES)}")
    default_language = ev.get("default_language", str, False, languages[0] if languages else "en")
    if default_language not in languages:
        raise ev.fail("default_language", f"is {default_language!r} but not in languages")
    timezone = ev.get("timezone", str)
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ev.fail("timezone", f"is {timezone!r}, not a time zone like 'Europe/Paris'") from None
    event_fields: dict[str, Any] = {
        "title": ev.text("title", languages),
        "intro": ev.text("intro", languages, required=False),
        "start": ev.moment("start"),
        "end": ev.moment("end"),
        "timezone": timezone,
        "location": ev.text("location", languages),
        "default_language": default_language,
        "languages": languages,
    }
    ev.done()
    sender = _read_sender(top.sub("sender"))
    rules = _read_rules(top.sub("rsvp"))
    nominations = _read_nominations(top.sub("nominations", required=False))
    programme = tuple(_read_programme(t, languages) for t in top.entries("programme", "a table ([[programme]])"))
    companies = tuple(_read_company(t, languages) for t in top.entries("companies", "a table ([[companies]])"))
    questions = tuple(read_question(t, languages, companies) for t in top.entries("questions", "a table ([[questions]])"))
    seen: set[str] = set()
    for index, question in enumerate(questions, start=1):
        if question.id in seen:
            raise ConfigError(f"{path}: 'questions[{index}].id' is {question.id!r}, already used by "
                              "an earlier question", hint="Give every question its own id.")
        seen.add(question.id)
    brokerage = None
    if "brokerage" in top.data:
        brokerage = read_brokerage(top.sub("brokerage"), ZoneInfo(timezone),
                                   {c.id: c.table for c in companies},
                                   {q.id: (q.type, frozenset(o.id for o in q.options))
                                    for q in questions}, {c.id: c.room for c in companies})
        questions = _with_important(brokerage, questions, seen, path)
    export = read_export(top)
    bounces = read_bounce_rules(top)
    top.used.add("relays")  # the relays belong to the settings (rsvp.relays reads them)
    top.done()
    return EventConfig(path=path, sender=sender, rsvp=rules, programme=programme,
                       companies=companies, questions=questions, nominations=nominations,
                       brokerage=brokerage, export=export, bounces=bounces, **event_fields)


def _with_important(brokerage: Brokerage, questions: tuple[Question, ...], seen: set[str],
                    path: Path) -> tuple[Question, ...]:
    """Add the "very important" checkboxes right after the wishes (`priorities = true`)."""
    important = brokerage.important_question
    if important is None:
        return questions
    if important in seen:
        raise ConfigError(f"{path}: 'brokerage.priorities' needs the question id {important!r}, "
                          "already used by a question", hint="Rename that question.")
    index = next(i for i, q in enumerate(questions) if q.id == brokerage.question)
    wishes = questions[index]
    added = Question(id=important, type="choices", label=IMPORTANT_LABEL, help={},
                     options=wishes.options, required=False, when=wishes.when,
                     max_length=wishes.max_length, options_from=wishes.options_from)
    return (*questions[:index + 1], added, *questions[index + 1:])


def _read_sender(table: TomlTable) -> Sender:
    sender = Sender(
        from_=table.get("from", str),
        reply_to=table.get("reply_to", str, False, ""),
        organiser=table.get("organiser", str, False, ""),
        phone=table.get("phone", str, False, ""),
    )
    table.done()
    return sender


def _read_rules(table: TomlTable) -> RsvpRules:
    deadline = table.moment("deadline")
    assert deadline is not None
    admission = table.get("admission", str, False, "first-come")
    if admission not in ADMISSIONS:
        raise table.fail("admission", f"is {admission!r}; use \"selection\" or \"first-come\"")
    quotas_table = table.sub("quotas", required=False)
    quotas: dict[str, int] = {}
    for role in list(quotas_table.data):
        quotas[role] = quotas_table.get(role, int)
        if quotas[role] < 0:
            raise quotas_table.fail(role, "must not be negative")
    rules = RsvpRules(
        deadline=deadline,
        admission=admission,
        quotas=quotas,
        nominations_per_recipient=table.get("nominations_per_recipient", int, False, 2),
    )
    table.done()
    return rules


def _read_nominations(table: TomlTable) -> NominationRules:
    approval = table.get("approval", str, False, "organiser")
    if approval not in APPROVALS:
        raise table.fail("approval", f"is {approval!r}; use \"organiser\" or \"automatic\"")
    rules = NominationRules(approval=approval, depth=table.get("depth", int, False, 1),
                            per_hour=table.get("per_hour", int, False, 20))
    for key in ("depth", "per_hour"):
        if getattr(rules, key) < 0:
            raise table.fail(key, "must not be negative")
    table.done()
    return rules


def _read_programme(table: TomlTable, languages: tuple[str, ...]) -> ProgrammeItem:
    start = table.moment("start")
    assert start is not None
    item = ProgrammeItem(start=start, end=table.moment("end", required=False),
                         title=table.text("title", languages),
                         detail=table.text("detail", languages, required=False))
    table.done()
    return item


def _read_company(table: TomlTable, languages: tuple[str, ...]) -> Company:
    company = Company(id=read_id(table), name=table.get("name", str),
                      url=table.get("url", str, False, ""),
                      field=table.text("field", languages, required=False),
                      contact=_read_contact(table, languages),
                      table=table.get("table", int, False), room=table.get("room", str, False, ""))
    if company.table is not None and company.table < 1:
        raise table.fail("table", f"must be 1 or more, not {company.table}")
    if company.table is not None and company.room:
        raise table.fail("room", "and 'table' cannot both be given: a company meets at one place")
    table.done()
    return company


def _read_contact(table: TomlTable, languages: tuple[str, ...]) -> Contact | None:
    if "contact" not in table.data:
        table.used.add("contact")
        return None
    own = table.sub("contact")
    contact = Contact(name=own.get("name", str, False, ""), email=own.get("email", str),
                      language=own.get("language", str, False, languages[0] if languages else "en"))
    if contact.language not in languages:
        raise own.fail("language", f"is {contact.language!r}, not one of the event's languages")
    own.done()
    return contact


__all__ = ["Company", "Contact", "EventConfig", "NominationRules", "Option", "ProgrammeItem",
           "Question", "RsvpRules", "Sender", "load_event"]
