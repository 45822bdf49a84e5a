"""Turn an export's machine-readable table into one for people, in the event's language.

The machine form (`--format json`, CSV without `--excel`) keeps ids and ISO UTC times,
so that scripts can rely on it. People open the XLSX workbook or `--excel` CSV: they
read headings and values from the message catalogue (`[export]`) and from the event
(question, option and company labels), and dates in the event's time zone. Labelling
works on the finished rows, so each table is built once and both forms always agree.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from mailer.content.mailings import Mailing
from mailer.reports.export import BOUNCE_COLUMNS, RESPONSE_COLUMNS, Rows
from rsvp.config import EventConfig, Question
from rsvp.i18n import catalogue

# Columns holding a moment as ISO 8601 text (UTC, or with the event's offset).
MOMENT_COLUMNS = frozenset(("responded_at", "unsubscribed_at", "sent_at", "start", "end",
                            "time", "bounced"))
# The machine form joins the options of a `choices` answer with this (export._answer).
JOIN = "; "
# The brokerage grid names its columns "table 3" when a company has no room of its own.
GRID_TABLE = re.compile(r"^table (\d+)$")

# How the outbox notes that a row was replaced by a later round ("replaced by update-3").
REPLACED = "replaced by "

Convert = Callable[[Any], Any]


class Labels:
    """The words and formats of the event's language for headings, values and dates."""

    def __init__(self, event: EventConfig) -> None:
        self.event = event
        self.lang = event.default_language
        self.words = catalogue(self.lang)
        self.export: dict[str, Any] = self.words.entries["export"]
        self.roles: dict[str, str] = self.words.entries.get("roles", {})
        self.companies = {company.id: company.name for company in event.companies}

    @property
    def xlsx_datetime(self) -> str:
        """The XLSX number format that shows a date cell as this language writes it."""
        return str(self.export["xlsx_datetime"])

    def sheet(self, what: str) -> str:
        """The name of the sheet holding table `what` (responses, summary, ...)."""
        return str(self.export["sheets"].get(what, what))

    def heading(self, column: str) -> str:
        """The heading of a fixed column; a column the catalogue does not know stays as it is."""
        table = GRID_TABLE.match(column)
        if table:
            return self.words.t("export.table", number=table.group(1))
        return str(self.export["columns"].get(column, column))

    def moment(self, value: Any) -> datetime | None:
        """Read an ISO time and give it as the event's wall-clock time, naive as Excel wants."""
        if value is None or value == "":
            return None
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        if moment.tzinfo is not None:
            moment = moment.astimezone(self.event.zone).replace(tzinfo=None)
        return moment

    def moment_text(self, moment: datetime) -> str:
        """A date and time as text that Excel of this language reads as a date."""
        return self.words.t("export.datetime", day=moment.day, month=moment.month,
                            year=moment.year, hour=moment.hour, minute=moment.minute)

    def number_text(self, number: float) -> str:
        """A number as Excel of this language reads it: German Excel takes 1.5 for a date."""
        return str(number).replace(".", str(self.export["decimal_separator"]))

    def answer(self, question: Question) -> Convert:
        """How the machine form of an answer to `question` reads for people."""
        if question.type == "boolean":
            return self._lookup({"yes": self.export["yes"], "no": self.export["no"]})
        if question.type in ("choice", "choices"):
            options = {option.id: self.event.text(option.label, self.lang)
                       for option in question.options}

            def choices(value: Any) -> Any:
                if not isinstance(value, str):
                    return value
                return JOIN.join(options.get(item, item) for item in value.split(JOIN))
            return choices
        return _same

    def value(self, column: str) -> Convert:
        """How a fixed column's values read for people (ids to words, ISO text to dates)."""
        if column in MOMENT_COLUMNS:
            return self.moment
        vocabularies: dict[str, Mapping[str, Any]] = {
            "attendance": self.export["attendance"], "admission": self.export["admission"],
            "state": self.export["state"], "language": self.export["language"],
            "role": self.roles, "company": self.companies,
        }
        if column in vocabularies:
            return self._lookup(vocabularies[column])
        if column == "mailing":
            return self._mailing
        if column == "last_reply":
            return self._note
        return _same

    def summary(self, section: str, item: Any) -> tuple[Any, Any]:
        """The summary sheet's section and item in words (workbook.summary_rows' ids)."""
        words = self.export["summary"]
        question = self.event.question(section)
        if section == "answers":
            item = words["none"] if item == "none" else self.export["attendance"].get(item, item)
        elif section == "admission":
            item = self.export["admission"].get(item, item)
        elif section == "recipients":
            item = words["erased"] if item == "erased on request" else words.get(item, item)
        if question is not None:
            return self.event.text(question.label, self.lang), item
        return words.get(section, section), item

    def _mailing(self, value: Any) -> Any:
        # A round's outbox key carries its number ("update-3"): the word, then the number.
        if not isinstance(value, str):
            return value
        mailing = Mailing.of(value)
        word = self.export["mailing"].get(mailing.kind, mailing.kind)
        return f"{word} {mailing.round}" if mailing.round else word

    def _note(self, value: Any) -> Any:
        """The outbox's own notes in words (a relay's reply stays as the relay wrote it)."""
        if not isinstance(value, str):
            return value
        notes = self.export["note"]
        if value.startswith(REPLACED):
            return self.words.t("export.note.replaced",
                                mailing=self._mailing(value.removeprefix(REPLACED)))
        return notes.get(value.replace(" ", "_"), value)

    @staticmethod
    def _lookup(words: Mapping[str, Any]) -> Convert:
        def lookup(value: Any) -> Any:
            return words.get(value, value) if isinstance(value, str) else value
        return lookup


def _same(value: Any) -> Any:
    return value


def label_table(labels: Labels, columns: list[str], rows: Iterable[dict[str, Any]],
                questions: Mapping[str, Question] | None = None) -> tuple[list[str], Rows]:
    """Give `columns` their headings and each row's values their words.

    `questions` names the columns holding answers. A heading that two columns would share
    (a question labelled like a fixed column) gets a number, so no column is lost.
    """
    questions = questions or {}
    taken: set[str] = set()
    headings: list[str] = []
    converters: list[Convert] = []
    for column in columns:
        question = questions.get(column)
        heading = (labels.event.text(question.label, labels.lang) if question
                   else labels.heading(column)) or column
        unique, number = heading, 2
        while unique.casefold() in taken:
            unique, number = f"{heading} ({number})", number + 1
        taken.add(unique.casefold())
        headings.append(unique)
        converters.append(labels.answer(question) if question else labels.value(column))

    def labelled() -> Rows:
        for row in rows:
            yield {heading: convert(row.get(column))
                   for heading, column, convert in zip(headings, columns, converters, strict=True)}

    return headings, labelled()


def answer_columns(event: EventConfig, columns: list[str]) -> dict[str, Question]:
    """The responses table's answer columns by name: they follow the fixed ones, in the
    order of the event's questions (export.response_table renames ids that clash), and
    come before the bounce columns."""
    if tuple(columns[:len(RESPONSE_COLUMNS)]) != RESPONSE_COLUMNS:
        return {}
    answers = columns[len(RESPONSE_COLUMNS):]
    if tuple(answers[-len(BOUNCE_COLUMNS):]) == BOUNCE_COLUMNS:
        answers = answers[:-len(BOUNCE_COLUMNS)]
    return dict(zip(answers, event.questions, strict=True))


def label_export(event: EventConfig, what: str, columns: list[str],
                 rows: Iterable[dict[str, Any]]) -> tuple[Labels, list[str], Rows]:
    """Label the table `what` of export.export_table for people."""
    labels = Labels(event)
    questions = answer_columns(event, columns) if what == "responses" else {}
    headings, labelled = label_table(labels, columns, rows, questions)
    return labels, headings, labelled
