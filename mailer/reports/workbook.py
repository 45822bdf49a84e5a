"""Write the organiser's workbook: responses, meetings, a sheet per programme part, the
brokerage plan (a timetable per company and the session's grid), a summary.

All sheets come from one reading of the people, so their counts agree even while the
web app records answers. The meetings sheet is left out for an event without companies,
the part sheets for an event without a `choices` question about parts. A workbook is
read by people, so every sheet speaks the event's language, with dates as date cells
(mailer.reports.labels); the machine form is JSON or CSV.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from openpyxl import Workbook

from mailer.reports.export import Rows, add_sheet, response_table, write_output
from mailer.reports.labels import Labels, answer_columns, label_table
from mailer.reports.meetings import (
    MEETING_COLUMNS,
    PART_COLUMNS,
    Guest,
    Person,
    attending,
    joining,
    meeting_rows,
    part_questions,
    part_rows,
    takers,
)
from mailer.reports.schedule_export import schedule_sheets
from mailer.reports.sheet_names import sheet_name
from rsvp.batches import batches_by_id
from rsvp.bounces import bounced_by_id
from rsvp.config import EventConfig, Question
from rsvp.store import ATTENDANCE, Store

SUMMARY_COLUMNS = ("section", "item", "count")
ADMISSIONS = ("admitted", "waitlisted", "declined", "withdrawn")


@dataclass(frozen=True)
class Sheet:
    name: str
    columns: list[str]
    rows: Rows


def write_workbook(store: Store, event: EventConfig, out: BinaryIO | Path) -> None:
    """Write every sheet to one XLSX workbook, as a stream or a file that appears when complete."""
    sheets = workbook_sheets(store, event)
    dates = Labels(event).xlsx_datetime

    def write(stream: BinaryIO) -> None:
        book = Workbook(write_only=True)
        for sheet in sheets:
            add_sheet(book, sheet.name, sheet.columns, sheet.rows, date_format=dates)
        book.save(stream)

    write_output(out, write)


def workbook_sheets(store: Store, event: EventConfig) -> list[Sheet]:
    """Return the workbook's sheets in order, labelled in the event's language (#10), with
    names Excel accepts."""
    labels = Labels(event)
    people = list(store.people())
    guests = attending(people)
    fixed = {what: labels.sheet(what) for what in ("responses", "meetings", "summary")}
    # The fixed names are taken first, so that a programme part cannot claim one.
    taken = {name.casefold() for name in fixed.values()}
    sheets: list[Sheet] = []

    def add(name: str, columns: list[str], rows: Rows,
            questions: Mapping[str, Question] | None = None) -> None:
        headings, labelled = label_table(labels, columns, rows, questions)
        sheets.append(Sheet(name, headings, labelled))

    columns, rows = response_table(event, people, batches_by_id(store), bounced_by_id(store))
    add(fixed["responses"], columns, rows, answer_columns(event, columns))
    if event.companies:
        add(fixed["meetings"], list(MEETING_COLUMNS), meeting_rows(event, people))
    for question in part_questions(event):
        for option in question.options:
            label = event.text(option.label, event.default_language)
            add(sheet_name(label, taken, option.id), list(PART_COLUMNS),
                part_rows(question, option, guests))
    if event.brokerage is not None:
        for table in schedule_sheets(store, event):
            name = labels.sheet(table.label) if table.label == "schedule" else table.label
            add(sheet_name(name, taken, "company"), table.columns, iter(table.rows))
    erased = store.count_recipients() - len(people)
    add(fixed["summary"], list(SUMMARY_COLUMNS),
        _in_words(labels, summary_rows(event, people, guests, erased)))
    return sheets


def _in_words(labels: Labels, rows: Iterator[dict[str, Any]]) -> Rows:
    """The summary's section and item ids (kept by summary_rows for any other reader) as words."""
    for row in rows:
        section, item = labels.summary(row["section"], row["item"])
        yield {**row, "section": section, "item": item}


def summary_rows(event: EventConfig, people: list[Person], guests: list[Guest],
                 erased: int) -> Iterator[dict[str, Any]]:
    """Return the counts: recipients, answers, admission, joiners per part, takers per company.

    Parts and companies count only people answering yes or maybe, as their sheets list.
    """
    def row(section: str, item: str, count: int) -> dict[str, Any]:
        return {"section": section, "item": item, "count": count}

    yield row("recipients", "total", len(people))
    yield row("recipients", "erased on request", erased)
    answers = [response.attendance if response else "none" for _, response, _ in people]
    for answer in (*ATTENDANCE, "none"):
        yield row("answers", answer, answers.count(answer))
    decisions = [person.admission for person, _, _ in people]
    for decision in ADMISSIONS:
        yield row("admission", decision, decisions.count(decision))
    for question in part_questions(event):
        for option in question.options:
            yield row(question.id, event.text(option.label, event.default_language),
                      len(joining(question, option, guests)))
    for company in event.companies:
        yield row("meetings", company.name, len(takers(event, company, guests)))
