"""Load and check event.toml: the event, its sender, RSVP rules and questions."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rsvp.errors import ConfigError

LANGUAGES = ("de", "fr", "en")
QUESTION_TYPES = ("choice", "choices", "text", "boolean", "number")
WHEN_VALUES = ("yes", "yes_or_maybe")
ADMISSIONS = ("selection", "first-come")
ID_PATTERN = re.compile(r"^[a-z0-9_]+$")
RESERVED_IDS = ("attendance", "answers", "lang")

LocalText = dict[str, str]


@dataclass(frozen=True)
class Option:
    id: str
    label: LocalText


@dataclass(frozen=True)
class Question:
    id: str
    type: str
    label: LocalText
    help: LocalText
    options: tuple[Option, ...]
    required: bool
    when: str | None
    max_length: int
    # "companies" when the options come from [[companies]] (the brokerage wishes).
    options_from: str | None = None


@dataclass(frozen=True)
class ProgrammeItem:
    start: datetime
    end: datetime | None
    title: LocalText
    detail: LocalText


@dataclass(frozen=True)
class Company:
    id: str
    name: str
    url: str
    field: LocalText


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


class _Table:
    """One TOML table being read; remembers which keys were used to flag the rest."""

    def __init__(self, data: dict[str, Any], where: str, path: Path) -> None:
        self.data = data
        self.where = where
        self.path = path
        self.used: set[str] = set()

    def fail(self, key: str, problem: str) -> ConfigError:
        name = f"{self.where}.{key}" if self.where else key
        return ConfigError(
            f"{self.path}: '{name}' {problem}",
            hint="Compare with the example: `invite init /tmp/example` writes one.",
        )

    def get(self, key: str, kind: type | tuple[type, ...], required: bool = True,
            default: Any = None) -> Any:
        self.used.add(key)
        if key not in self.data:
            if required:
                raise self.fail(key, "is missing")
            return default
        value = self.data[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return value
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise self.fail(key, f"must be a {names}, not {value!r}")
        return value

    def sub(self, key: str, required: bool = True) -> _Table:
        value = self.get(key, dict, required, {})
        return _Table(value, f"{self.where}.{key}" if self.where else key, self.path)

    def text(self, key: str, languages: tuple[str, ...], required: bool = True) -> LocalText:
        value = self.get(key, (str, dict), required, {})
        if isinstance(value, str):
            return {lang: value for lang in languages}
        for lang, text in value.items():
            if lang not in LANGUAGES:
                raise self.fail(f"{key}.{lang}", f"is not a supported language ({', '.join(LANGUAGES)})")
            if not isinstance(text, str):
                raise self.fail(f"{key}.{lang}", "must be text")
        return dict(value)

    def moment(self, key: str, required: bool = True) -> datetime | None:
        value = self.get(key, (datetime, date), required)
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise self.fail(key, f"must be a date-time with UTC offset, like 2027-03-26T18:00:00+01:00, not {value}")
        return value

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise self.fail(unknown[0], "is not a known setting (a typo?)")


def load_event(path: Path) -> EventConfig:
    """Read `path` (event.toml), raising ConfigError naming the file and the key."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist",
                          hint="Run `invite init DIR` to create a workspace, or pass -w DIR.") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from None
    top = _Table(raw, "", path)
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
    programme = tuple(_read_programme(t, languages) for t in _tables(top, "programme"))
    companies = tuple(_read_company(t, languages) for t in _tables(top, "companies"))
    questions = tuple(_read_question(t, languages, companies) for t in _tables(top, "questions"))
    seen: set[str] = set()
    for index, question in enumerate(questions, start=1):
        if question.id in seen:
            raise ConfigError(f"{path}: 'questions[{index}].id' is {question.id!r}, already used by "
                              "an earlier question", hint="Give every question its own id.")
        seen.add(question.id)
    top.done()
    return EventConfig(path=path, sender=sender, rsvp=rules, programme=programme,
                       companies=companies, questions=questions, **event_fields)


def _tables(top: _Table, key: str) -> list[_Table]:
    items = top.get(key, list, False, [])
    tables = []
    for index, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise top.fail(key, f"entry {index} must be a table ([[{key}]])")
        tables.append(_Table(item, f"{key}[{index}]", top.path))
    return tables


def _read_sender(table: _Table) -> Sender:
    sender = Sender(
        from_=table.get("from", str),
        reply_to=table.get("reply_to", str, False, ""),
        organiser=table.get("organiser", str, False, ""),
        phone=table.get("phone", str, False, ""),
    )
    table.done()
    return sender


def _read_rules(table: _Table) -> RsvpRules:
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


def _read_programme(table: _Table, languages: tuple[str, ...]) -> ProgrammeItem:
    start = table.moment("start")
    assert start is not None
    item = ProgrammeItem(start=start, end=table.moment("end", required=False),
                         title=table.text("title", languages),
                         detail=table.text("detail", languages, required=False))
    table.done()
    return item


def _read_company(table: _Table, languages: tuple[str, ...]) -> Company:
    company = Company(id=_read_id(table), name=table.get("name", str),
                      url=table.get("url", str, False, ""),
                      field=table.text("field", languages, required=False))
    table.done()
    return company


def _read_id(table: _Table) -> str:
    value: str = table.get("id", str)
    if not ID_PATTERN.match(value):
        raise table.fail("id", f"is {value!r}; use lower-case letters, digits and _")
    return value


def _read_question(table: _Table, languages: tuple[str, ...],
                   companies: tuple[Company, ...]) -> Question:
    question_id = _read_id(table)
    if question_id in RESERVED_IDS:
        raise table.fail("id", f"is {question_id!r}, a name the form uses itself; choose another")
    kind = table.get("type", str)
    if kind not in QUESTION_TYPES:
        raise table.fail("type", f"is {kind!r}; use one of {', '.join(QUESTION_TYPES)}")
    options: list[Option] = []
    for index, raw in enumerate(table.get("options", list, False, []), start=1):
        if not isinstance(raw, dict):
            raise table.fail("options", f"entry {index} must be {{ id = ..., label = ... }}")
        option_table = _Table(raw, f"{table.where}.options[{index}]", table.path)
        options.append(Option(id=_read_id(option_table), label=option_table.text("label", languages)))
        option_table.done()
    source = table.get("options_from", str, False)
    if source is not None:
        if source != "companies":
            raise table.fail("options_from", f"is {source!r}; only \"companies\" is known")
        options.extend(Option(id=c.id, label={lang: c.name for lang in languages}) for c in companies)
    if kind in ("choice", "choices") and not options:
        raise table.fail("options", f"is needed for a question of type {kind!r}")
    if kind not in ("choice", "choices") and options:
        raise table.fail("options", f"makes no sense for a question of type {kind!r}")
    when = table.get("when", str, False)
    if when is not None and when not in WHEN_VALUES:
        raise table.fail("when", f"is {when!r}; use \"yes\" or \"yes_or_maybe\", or leave it out")
    question = Question(
        id=question_id, type=kind, label=table.text("label", languages),
        help=table.text("help", languages, required=False), options=tuple(options),
        required=table.get("required", bool, False, False), when=when,
        max_length=table.get("max_length", int, False, 2000), options_from=source,
    )
    table.done()
    return question
