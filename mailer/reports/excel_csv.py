"""Write CSV that Excel in the event's country opens as it is (`invite export --excel`), and
choose which form `invite export` writes.

A German or French Excel splits a double-clicked CSV file at ";" (its list separator),
reads it as UTF-8 only with a byte order mark, takes "30.11.2026 14:05" for a date but
"2026-11-30T13:05:00+00:00" for text, and "1.5" for the first of May. So this form
writes `;`, the BOM, dates and numbers as the event's language writes them, and the
headings and values of mailer.reports.labels. Every text value still goes through
mailer.reports.formulas, as in the machine form: the separator changes nothing there.
"""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from mailer.reports.export import WORKBOOK, export_table, write_export, write_output
from mailer.reports.formulas import neutralise
from mailer.reports.labels import Labels, label_export
from mailer.reports.workbook import write_workbook
from rsvp.config import EventConfig
from rsvp.errors import InviteError
from rsvp.store import Store

SEPARATOR = ";"


def write_excel_csv(labels: Labels, columns: list[str], rows: Iterable[dict[str, Any]],
                    out: BinaryIO) -> None:
    """Write labelled rows (label_table's) as `;`-separated UTF-8 with a BOM to `out`."""
    # utf-8-sig writes the BOM without which Excel reads the file as Windows-1252.
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="")
    try:
        writer = csv.writer(text, delimiter=SEPARATOR)
        writer.writerow([neutralise(name) for name in columns])
        for row in rows:
            writer.writerow([_cell(labels, row.get(name)) for name in columns])
        text.flush()
    finally:
        text.detach()  # the caller's stream stays open


def _cell(labels: Labels, value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return labels.moment_text(value)
    if isinstance(value, float):
        return labels.number_text(value)
    return neutralise(value)


def export_writer(store: Store, event: EventConfig, what: str | None, fmt: str,
                  excel: bool | None) -> Callable[[BinaryIO | Path], None]:
    """Choose what `invite export` writes: the workbook, a table for people, or the machine form.

    XLSX is always for people; CSV is for Excel with `excel` (None: the workspace's
    `[export] excel`); JSON is always the machine form, so asking it for Excel is an error.
    """
    if excel and fmt == "json":
        raise InviteError("--excel is for CSV; JSON always holds ids and ISO times in UTC",
                          hint="Pass --format csv --excel, or leave out --excel.")
    for_excel = fmt == "csv" and (event.export.excel if excel is None else excel)
    what = what or (WORKBOOK if fmt == "xlsx" else "responses")
    if what == WORKBOOK and fmt == "xlsx":
        return functools.partial(write_workbook, store, event)
    columns, rows = export_table(store, event, what)
    if fmt == "xlsx":
        labels, headings, labelled = label_export(event, what, columns, rows)
        return functools.partial(write_export, headings, labelled, fmt, sheet=labels.sheet(what),
                                 date_format=labels.xlsx_datetime)
    if for_excel:
        labels, headings, labelled = label_export(event, what, columns, rows)
        return lambda out: write_output(
            out, lambda stream: write_excel_csv(labels, headings, labelled, stream))
    return functools.partial(write_export, columns, rows, fmt)
