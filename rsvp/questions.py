"""The questions of event.toml's answer form: their types, options and when they are asked.

Read here rather than in `rsvp.config` so that loading the event stays one module per
job; `rsvp.config` calls `read_question` for each [[questions]] table.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rsvp.toml_table import LocalText, TomlTable

if TYPE_CHECKING:
    from rsvp.config import Company

QUESTION_TYPES = ("choice", "choices", "text", "boolean", "number")
WHEN_VALUES = ("yes", "yes_or_maybe")
ID_PATTERN = re.compile(r"^[a-z0-9_]+$")
RESERVED_IDS = ("attendance", "answers", "lang")


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


def read_id(table: TomlTable) -> str:
    value: str = table.get("id", str)
    if not ID_PATTERN.match(value):
        raise table.fail("id", f"is {value!r}; use lower-case letters, digits and _")
    return value


def read_question(table: TomlTable, languages: tuple[str, ...],
                   companies: Sequence[Company]) -> Question:
    question_id = read_id(table)
    if question_id in RESERVED_IDS:
        raise table.fail("id", f"is {question_id!r}, a name the form uses itself; choose another")
    kind = table.get("type", str)
    if kind not in QUESTION_TYPES:
        raise table.fail("type", f"is {kind!r}; use one of {', '.join(QUESTION_TYPES)}")
    options: list[Option] = []
    for index, raw in enumerate(table.get("options", list, False, []), start=1):
        if not isinstance(raw, dict):
            raise table.fail("options", f"entry {index} must be {{ id = ..., label = ... }}")
        option_table = TomlTable(raw, f"{table.where}.options[{index}]", table.path)
        options.append(Option(id=read_id(option_table), label=option_table.text("label", languages)))
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
