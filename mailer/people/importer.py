"""Read recipients from a CSV or XLSX file, check every row, and load the good ones."""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from email_validator import EmailNotValidError, validate_email

from mailer.people.decode import decode_text, sniff_delimiter
from mailer.people.import_warnings import ImportWarning, warn_rows
from mailer.people.xlsx import read_xlsx
from rsvp.config import EventConfig
from rsvp.enrolment import enrol
from rsvp.errors import RecipientFileError
from rsvp.forgotten import ForgottenAddresses
from rsvp.store import RECIPIENT_FIELDS, NewRecipient, Store

CSV_SUFFIXES = (".csv", ".txt")
XLSX_SUFFIXES = (".xlsx",)
LOWERED = ("role", "sector", "language")

KNOWN = ("email", *RECIPIENT_FIELDS)
# Other names people give the known columns, after casefold and with spaces and hyphens as "_".
ALIASES = {
    "e_mail": "email", "mail": "email", "email_address": "email", "e_mail_adresse": "email",
    "firstname": "first_name", "vorname": "first_name", "lastname": "last_name",
    "nachname": "last_name", "anrede": "salutation", "titel": "title", "rolle": "role",
    "organization": "organisation", "firma": "organisation", "sprache": "language",
    "branche": "sector",
}
# Cc covers NUL, TAB, CR, LF and the rest; the two separators below are not Cc but still
# break lines in mail headers and in most viewers.
LINE_SEPARATORS = ("\u2028", "\u2029")


@dataclass(frozen=True)
class Problem:
    """One reason one row cannot be imported, with where to find it in the file."""

    line: int
    column: str
    value: str
    reason: str

    def __str__(self) -> str:
        shown = f"{self.value!r} " if self.value else ""
        return f"line {self.line}, column {self.column}: {shown}{self.reason}"


@dataclass
class ImportResult:
    """The checked rows of a file: the good ones, and every problem of the bad ones."""

    rows: list[NewRecipient] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # where each of `rows` is in the file
    problems: list[Problem] = field(default_factory=list)
    total: int = 0


@dataclass
class ImportReport:
    """What an import changed in the store, and the problems of rows left out."""

    added: int
    updated: int  # people whose stored values changed
    skipped: list[Problem]
    # Addresses erased on request (`invite forget`), left out unless allowed back.
    forgotten: list[str] = field(default_factory=list)
    stored: list[str] = field(default_factory=list)  # the addresses added or updated
    unchanged: int = 0  # people already stored exactly as the file has them
    # Rows imported as they are but perhaps not as meant (a salutation no greeting knows).
    warnings: list[ImportWarning] = field(default_factory=list)


@dataclass(frozen=True)
class Column:
    """One header cell: its place, the name as written, and the field it feeds."""

    index: int
    label: str
    target: str | None
    named: bool = True


def read_recipients(path: Path, event: EventConfig) -> ImportResult:
    """Check every row of `path`; raise RecipientFileError only if the file is unusable."""
    lines = ((n, [cell.strip() for cell in cells]) for n, cells in _read_lines(path))
    header_line, header = next(((n, cells) for n, cells in lines if any(cells)), (0, []))
    if not header:
        raise RecipientFileError(f"{path.name} is empty", problems=[],
                                 hint="The first row must name the columns, one of them 'email'.")
    columns = _read_header(path, header_line, header)
    result = ImportResult()
    first_seen: dict[str, int] = {}
    for line, cells in lines:
        if not any(cells):
            continue
        result.total += 1
        recipient = _check_row(line, cells, columns, event, first_seen, result.problems)
        if recipient is not None:
            result.rows.append(recipient)
            result.lines.append(line)
    if result.total == 0:
        raise RecipientFileError(f"{path.name} has a header but no rows below it", problems=[])
    return result


def import_recipients(store: Store, path: Path, event: EventConfig,
                      skip_invalid: bool = False, forgotten: ForgottenAddresses | None = None,
                      allow_forgotten: bool = False) -> ImportReport:
    """Store the rows of `path`; a file with bad rows imports nothing unless `skip_invalid`.
    Addresses `forgotten` on request are left out, or let back in with `allow_forgotten`."""
    result = read_recipients(path, event)
    if result.problems and not skip_invalid:
        bad = len({problem.line for problem in result.problems})
        rows = "row" if result.total == 1 else "rows"
        verb = "has" if bad == 1 else "have"
        raise RecipientFileError(
            f"{path.name}: {bad} of {result.total} {rows} {verb} problems; nothing was imported",
            problems=[str(problem) for problem in result.problems],
            hint="Fix those rows and import again, or use --skip-invalid to import the good rows only.",
        )
    people = result.rows
    left_out: list[str] = []
    if forgotten is not None:
        back = [row for row in people if forgotten.contains(row.email)]
        if allow_forgotten:
            for row in back:
                forgotten.release(row.email)
        else:
            left_out = [row.email for row in back]
            people = [row for row in people if row.email not in left_out]
    warnings = warn_rows([(line, row) for line, row in zip(result.lines, result.rows, strict=True)
                          if row.email not in left_out], event)
    done = enrol(store, people, default_language=event.default_language)
    return ImportReport(done.added, done.updated, result.problems, left_out,
                        [row.email for row in people], done.unchanged, warnings)


def _read_header(path: Path, line: int, cells: list[str]) -> list[Column]:
    """Map header cells to fields; a name used twice would make rows ambiguous."""
    columns: list[Column] = []
    seen: dict[str, Column] = {}
    for index, label in enumerate(cells, start=1):
        if not label:
            columns.append(Column(index, str(index), None, named=False))
            continue
        key = "_".join(label.casefold().replace("-", " ").split())
        column = Column(index, label, key if key in KNOWN else ALIASES.get(key))
        name = column.target or label.casefold()
        if name in seen:
            raise RecipientFileError(
                f"{path.name}: the header (line {line}) has {seen[name].label!r} in column "
                f"{seen[name].index} and {label!r} in column {index}, which mean the same",
                problems=[], hint="Rename or remove one of the two columns.")
        seen[name] = column
        columns.append(column)
    if "email" not in seen:
        names = ", ".join(repr(c) for c in cells if c)
        raise RecipientFileError(
            f"{path.name} has no 'email' column; its header (line {line}) has {names}",
            problems=[], hint="Name the column holding the addresses 'email'.")
    return columns


def _check_row(line: int, cells: list[str], columns: list[Column], event: EventConfig,
               first_seen: dict[str, int], problems: list[Problem]) -> NewRecipient | None:
    """Turn one row into a NewRecipient, or add its problems and return None."""
    found: list[Problem] = []
    email = email_ascii = ""
    fields: dict[str, str] = {}
    extra: dict[str, str] = {}
    named = {column.index: column for column in columns}
    for index in range(1, max(len(cells), len(columns)) + 1):
        column = named.get(index, Column(index, str(index), None, named=False))
        value = cells[index - 1] if index <= len(cells) else ""
        if column.target in LOWERED:
            value = value.lower()
        if any(unicodedata.category(c) == "Cc" or c in LINE_SEPARATORS for c in value):
            found.append(Problem(line, column.label, value,
                                 "holds a line break, tab or other control character"))
        elif column.target == "email":
            email, email_ascii = _check_email(line, column, value, first_seen, found)
        elif column.target == "language":
            fields["language"] = _check_language(line, column, value, event, found)
        elif column.target is not None:
            fields[column.target] = value
        elif column.named:
            extra[column.label] = value
        elif value:
            found.append(Problem(line, column.label, value,
                                 "is in a column without a name in the header"))
    problems.extend(found)
    if found:
        return None
    ordered = {name: fields[name] for name in RECIPIENT_FIELDS if name in fields}
    return NewRecipient(email=email, email_ascii=email_ascii, fields=ordered, extra=extra)


def _check_email(line: int, column: Column, value: str, first_seen: dict[str, int],
                 found: list[Problem]) -> tuple[str, str]:
    """Validate and normalise one address; remember it to spot a repeat further down."""
    if not value:
        found.append(Problem(line, column.label, value, "is empty; every row needs an address"))
        return "", ""
    try:
        checked = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as error:
        found.append(Problem(line, column.label, value, f"is not an email address ({error})"))
        return "", ""
    key = checked.normalized.casefold()
    if key in first_seen:
        found.append(Problem(line, column.label, value,
                             f"is already on line {first_seen[key]}"))
    else:
        first_seen[key] = line
    return checked.normalized, checked.ascii_email or checked.normalized


def _check_language(line: int, column: Column, value: str, event: EventConfig,
                    found: list[Problem]) -> str:
    """Return the row's language, the event's default when the cell is empty."""
    if not value:
        return event.default_language
    if value not in event.languages:
        allowed = ", ".join(event.languages)
        found.append(Problem(line, column.label, value,
                             f"is not one of this event's languages ({allowed})"))
    return value


def _read_lines(path: Path) -> Iterator[tuple[int, list[str]]]:
    """Return (line number, cells) per row; the suffix decides CSV or XLSX."""
    suffix = path.suffix.lower()
    if suffix not in CSV_SUFFIXES + XLSX_SUFFIXES:
        raise RecipientFileError(
            f"{path.name}: cannot read {suffix or 'files without a suffix'}; "
            "use a .csv or .xlsx file", problems=[],
            hint="In Excel or LibreOffice, save the sheet as CSV or as Excel workbook (.xlsx).")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise RecipientFileError(f"{path} does not exist", problems=[]) from None
    except OSError as error:
        raise RecipientFileError(f"{path} cannot be read ({error.strerror})", problems=[]) from None
    if suffix in XLSX_SUFFIXES:
        return read_xlsx(path, data)
    return _read_csv(path, decode_text(path.name, data))


def _read_csv(path: Path, text: str) -> Iterator[tuple[int, list[str]]]:
    """Yield rows numbered by the line they start on, also when a quoted field spans lines."""
    # newline="" keeps line breaks inside quoted fields, so they are found and reported.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text.lstrip()),
                        strict=True)
    start = 1
    try:
        for cells in reader:
            yield start, cells
            start = reader.line_num + 1
    except csv.Error as error:
        raise RecipientFileError(f"{path.name}: line {start} cannot be read as CSV ({error})",
                                 problems=[], hint="Check the quotes on that line.") from None
