"""Export responses, recipients, the outbox or brokerage wishes as CSV, XLSX or JSON."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from itertools import chain, islice
from pathlib import Path
from typing import Any, BinaryIO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.filters import AutoFilter

from mailer.delivery.outbox import Outbox
from mailer.reports.formulas import neutralise
from mailer.reports.meetings import MEETING_COLUMNS, Person, meeting_rows
from mailer.reports.schedule_export import SCHEDULE_COLUMNS, schedule_table
from rsvp.batches import batches_by_id
from rsvp.bounces import bounced_by_id
from rsvp.config import EventConfig, Question
from rsvp.errors import InviteError
from rsvp.files import open_private
from rsvp.store import Store

WHATS = ("responses", "recipients", "outbox", "meetings", "schedule")
# Not a table: every sheet in one XLSX workbook (mailer.reports.workbook writes it).
WORKBOOK = "all"
FORMATS = ("csv", "xlsx", "json")

RESPONSE_COLUMNS = ("email", "first_name", "last_name", "organisation", "role", "language",
                    "attendance", "responded_at", "admission", "nominated_by", "batch")
RECIPIENT_COLUMNS = ("email", "first_name", "last_name", "salutation", "title", "organisation",
                     "role", "language", "sector", "nominated_by", "unsubscribed_at", "batch")
# Last in the responses and recipients tables, after the answers and the import's own
# columns (#9): when the address bounced for good (empty if never), and why.
BOUNCE_COLUMNS = ("bounced", "bounce_reason")
OUTBOX_COLUMNS = ("email", "mailing", "state", "attempts", "last_reply", "message_id", "sent_at")
FIXED_COLUMNS = {"responses": RESPONSE_COLUMNS, "recipients": RECIPIENT_COLUMNS,
                 "outbox": OUTBOX_COLUMNS, "meetings": MEETING_COLUMNS,
                 "schedule": SCHEDULE_COLUMNS}

WIDTH_SAMPLE = 200
# How a date cell shows when the caller names no language's format (mailer.reports.labels).
DATE_FORMAT = "yyyy-mm-dd hh:mm"
MIN_WIDTH, MAX_WIDTH = 8, 60

Rows = Iterator[dict[str, Any]]


def export_table(store: Store, event: EventConfig, what: str) -> tuple[list[str], Rows]:
    """Return the columns and a stream of rows for `what`; None marks a missing value."""
    if what == "responses":
        return response_table(event, store.people(), batches_by_id(store),
                              bounced_by_id(store))
    if what == "recipients":
        return _recipients(store)
    if what == "outbox":
        return list(OUTBOX_COLUMNS), Outbox(store).export_rows()
    if what == "meetings":
        return list(MEETING_COLUMNS), meeting_rows(event, store.people())
    if what == "schedule":
        return schedule_table(store, event)
    if what == WORKBOOK:
        raise InviteError(f"--what {WORKBOOK} writes a workbook of several sheets and needs "
                          "--format xlsx", hint="Add --format xlsx -o FILE.xlsx.")
    raise InviteError(f"cannot export {what!r}; choose one of {', '.join((*WHATS, WORKBOOK))}",
                      hint=f"Pass --what {', '.join(WHATS)}, or {WORKBOOK} for the XLSX "
                           "workbook with every sheet.")


def _unique(name: str, taken: set[str], prefix: str) -> str:
    """Keep a user-chosen column name apart from the fixed ones (a question called `role`)."""
    while name in taken:
        name = f"{prefix}{name}"
    taken.add(name)
    return name


def response_table(event: EventConfig, people: Iterable[Person],
                   batches: Mapping[int, str | None] | None = None,
                   bounced: Mapping[int, tuple[str, str]] | None = None,
                   ) -> tuple[list[str], Rows]:
    """Return the responses' columns and a row per person: fixed columns (`batches`: each
    person's batch, by id; `bounced`: when and why their address bounced), then the answers."""
    taken = {*RESPONSE_COLUMNS, *BOUNCE_COLUMNS}
    named = [(_unique(q.id, taken, "answer_"), q) for q in event.questions]

    def rows() -> Rows:
        for person, response, nominator in people:
            answers = response.answers if response else {}
            row: dict[str, Any] = {
                "email": person.email, "first_name": person.first_name,
                "last_name": person.last_name, "organisation": person.organisation,
                "role": person.role, "language": person.language,
                "attendance": response.attendance if response else None,
                "responded_at": response.updated_at if response else None,
                "admission": person.admission or None, "nominated_by": nominator,
                "batch": (batches or {}).get(person.id),
                **_bounce_cells((bounced or {}).get(person.id)),
            }
            for column, question in named:
                row[column] = _answer(question, answers.get(question.id))
            yield row

    return [*RESPONSE_COLUMNS, *(column for column, _ in named), *BOUNCE_COLUMNS], rows()


def _answer(question: Question, value: Any) -> Any:
    """Flatten one stored answer into a cell: option ids, yes/no, a number or the text."""
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if question.type == "number" and isinstance(value, int | float):
        return value
    if isinstance(value, list):
        return "; ".join(str(item) for item in value)
    return str(value)


def _bounce_cells(bounce: tuple[str, str] | None) -> dict[str, Any]:
    """`bounced` (the date, empty if the address never bounced for good) and its reason."""
    return {"bounced": bounce[0] if bounce else None,
            "bounce_reason": (bounce[1] or None) if bounce else None}


def _recipients(store: Store) -> tuple[list[str], Rows]:
    # A first pass finds the extra columns so that the header can go out before the rows.
    extras: dict[str, None] = {}
    for person in store.recipients():
        extras.update(dict.fromkeys(person.extra))
    taken = {*RECIPIENT_COLUMNS, *BOUNCE_COLUMNS}
    named = [(_unique(key, taken, "extra_"), key) for key in extras]

    def rows() -> Rows:
        batches = batches_by_id(store)
        bounced = bounced_by_id(store)
        for person, _, nominator in store.people():
            row: dict[str, Any] = {name: getattr(person, name, None) for name in RECIPIENT_COLUMNS}
            row["batch"] = batches.get(person.id)
            row["nominated_by"] = nominator
            row.update(_bounce_cells(bounced.get(person.id)))
            for column, key in named:
                row[column] = person.extra.get(key)
            yield row

    return [*RECIPIENT_COLUMNS, *(column for column, _ in named), *BOUNCE_COLUMNS], rows()


def write_export(columns: list[str], rows: Iterable[dict[str, Any]], fmt: str,
                 out: BinaryIO | Path, sheet: str | None = None,
                 date_format: str = DATE_FORMAT) -> None:
    """Write the rows as `fmt` to a binary stream, or to a file that appears only when complete.

    `sheet` names the XLSX sheet; by default it is the table the columns come from.
    `date_format` is the XLSX number format of datetime values.
    """
    writers: dict[str, Callable[[list[str], Iterable[dict[str, Any]], BinaryIO], None]] = {
        "csv": _write_csv, "json": _write_json,
        "xlsx": lambda c, r, o: _write_xlsx(c, r, o, sheet or _table_name(c), date_format),
    }
    if fmt not in writers:
        raise InviteError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}",
                          hint="Pass --format csv, --format xlsx or --format json.")
    write = writers[fmt]
    write_output(out, lambda stream: write(columns, rows, stream))


def write_output(out: BinaryIO | Path, write: Callable[[BinaryIO], None]) -> None:
    """Let `write` fill a binary stream, or a file that appears only when complete.

    The file is readable by its owner only (0600): exports hold personal data.
    """
    if not isinstance(out, Path):
        write(out)
        return
    partial = out.with_name(f".{out.name}.part")
    try:
        with open_private(partial) as stream:
            write(stream)
        os.replace(partial, out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _table_name(columns: list[str]) -> str:
    for what, fixed in FIXED_COLUMNS.items():
        if tuple(columns[:len(fixed)]) == fixed:
            return what
    return "export"


def _write_csv(columns: list[str], rows: Iterable[dict[str, Any]], out: BinaryIO) -> None:
    # utf-8-sig writes the BOM that makes Excel read the file as UTF-8.
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="")
    try:
        writer = csv.writer(text)
        writer.writerow([neutralise(name) for name in columns])
        for row in rows:
            writer.writerow([_csv_value(row.get(name)) for name in columns])
        text.flush()
    finally:
        text.detach()  # the caller's stream stays open


def _csv_value(value: Any) -> Any:
    return "" if value is None else neutralise(value)


def _write_json(columns: list[str], rows: Iterable[dict[str, Any]], out: BinaryIO) -> None:
    # The same text json.dumps(list, indent=2) gives, written one object at a time.
    first = True
    for row in rows:
        item = json.dumps({name: row.get(name) for name in columns}, ensure_ascii=False, indent=2)
        out.write(("[\n" if first else ",\n").encode())
        out.write(("  " + item.replace("\n", "\n  ")).encode("utf-8"))
        first = False
    out.write(b"[]\n" if first else b"\n]\n")


def _xlsx_text(value: str) -> str:
    # XML cannot hold most control characters; openpyxl would refuse the whole file.
    # No apostrophe is needed: every text cell is written as a string (`_text_cell`), which
    # Excel and LibreOffice show as it is and never evaluate.
    return ILLEGAL_CHARACTERS_RE.sub("", value)


def _width(value: Any) -> int:
    if value is None:
        return 0
    return max((len(line) for line in str(value).splitlines()), default=0)


def _write_xlsx(columns: list[str], rows: Iterable[dict[str, Any]], out: BinaryIO,
                sheet: str, date_format: str) -> None:
    book = Workbook(write_only=True)
    add_sheet(book, sheet, columns, rows, date_format)
    book.save(out)


def add_sheet(book: Workbook, title: str, columns: list[str],
              rows: Iterable[dict[str, Any]], date_format: str = DATE_FORMAT) -> None:
    """Append a sheet to a write-only workbook: bold frozen header, autofilter, text as
    text, a datetime (naive, local) as a date cell shown in `date_format`."""
    ws = book.create_sheet(title[:31])
    stream = iter(rows)
    # Column widths must be set before any row is written: measure only a first sample.
    sample = list(islice(stream, WIDTH_SAMPLE))
    for index, name in enumerate(columns, start=1):
        widest = max([len(name), *(_width(row.get(name)) for row in sample)])
        ws.column_dimensions[get_column_letter(index)].width = min(max(widest + 2, MIN_WIDTH),
                                                                   MAX_WIDTH)
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for name in columns:
        cell = _text_cell(ws, name)
        cell.font = bold
        header.append(cell)
    ws.append(header)
    count = 0
    for row in chain(sample, stream):
        ws.append([_xlsx_cell(ws, row.get(name), date_format) for name in columns])
        count += 1
    ws.auto_filter = AutoFilter(ref=f"A1:{get_column_letter(len(columns))}{count + 1}")


def _xlsx_cell(ws: Any, value: Any, date_format: str) -> Any:
    if isinstance(value, datetime):
        cell = WriteOnlyCell(ws, value=value)
        cell.number_format = date_format
        return cell
    return _text_cell(ws, value) if isinstance(value, str) else value


def _text_cell(ws: Any, value: str) -> WriteOnlyCell:
    """A cell typed as text (an inline string in the file), never as a formula."""
    cell = WriteOnlyCell(ws, value=_xlsx_text(value))
    # Set after the value: openpyxl marks any string starting with "=" as a formula.
    cell.data_type = "s"
    return cell
