"""Write the organiser's workbook: responses, meetings, a sheet per programme part, the
brokerage plan (a timetable per company and the session's grid), a summary.

All sheets come from one reading of the people, so their counts agree even while the
web app records answers. The meetings sheet is left out for an event without companies,
the part sheets for an event without a `choices` question about parts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from mailer.reports.export import Rows, add_sheet, response_table, write_output
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
from rsvp.batches import batches_by_id
from rsvp.config import EventConfig
from rsvp.store import ATTENDANCE, Store

SUMMARY_COLUMNS = ("section", "item", "count")
ADMISSIONS = ("admitted", "waitlisted", "declined")
# Excel refuses these in sheet names, and names longer than 31 characters.
SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
SHEET_MAX = 31
# Excel keeps "History" for its change tracking.
SHEET_RESERVED = ("history",)


@dataclass(frozen=True)
class Sheet:
    name: str
    columns: list[str]
    rows: Rows


def write_workbook(store: Store, event: EventConfig, out: BinaryIO | Path) -> None:
    """Write every sheet to one XLSX workbook, as a stream or a file that appears when complete."""
    sheets = workbook_sheets(store, event)

    def write(stream: BinaryIO) -> None:
        book = Workbook(write_only=True)
        for sheet in sheets:
            add_sheet(book, sheet.name, sheet.columns, sheet.rows)
        book.save(stream)

    write_output(out, write)


def workbook_sheets(store: Store, event: EventConfig) -> list[Sheet]:
    """Return the workbook's sheets in order, with names Excel accepts."""
    people = list(store.people())
    guests = attending(people)
    taken = {"responses", "meetings", "summary"}
    columns, rows = response_table(event, people, batches_by_id(store))
    sheets = [Sheet("responses", columns, rows)]
    if event.companies:
        sheets.append(Sheet("meetings", list(MEETING_COLUMNS), meeting_rows(event, people)))
    for question in part_questions(event):
        for option in question.options:
            label = event.text(option.label, event.default_language)
            sheets.append(Sheet(sheet_name(label, taken, option.id), list(PART_COLUMNS),
                                part_rows(question, option, guests)))
    if event.brokerage is not None:
        for table in schedule_sheets(store, event):
            sheets.append(Sheet(sheet_name(table.label, taken, "company"), table.columns,
                                iter(table.rows)))
    erased = store.count_recipients() - len(people)
    sheets.append(Sheet("summary", list(SUMMARY_COLUMNS),
                        summary_rows(event, people, guests, erased)))
    return sheets


def sheet_name(label: str, taken: set[str], fallback: str) -> str:
    """Make `label` a sheet name Excel accepts and that no other sheet has (in any case)."""
    name = ILLEGAL_CHARACTERS_RE.sub("", SHEET_FORBIDDEN.sub("", label))
    name = _trim(_trim(name)[:SHEET_MAX]) or fallback[:SHEET_MAX]
    candidate, number = name, 2
    while candidate.casefold() in taken or candidate.casefold() in SHEET_RESERVED:
        suffix = f" ({number})"
        candidate = _trim(name[:SHEET_MAX - len(suffix)]) + suffix
        number += 1
    taken.add(candidate.casefold())
    return candidate


def _trim(name: str) -> str:
    # Excel also refuses a name that begins or ends with an apostrophe.
    return name.strip(" '")


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
