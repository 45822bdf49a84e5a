"""Exports stay text in any spreadsheet (#8): CSV as Excel reads it with "," and, in
Germany, with ";"; XLSX cells typed as text with no formula in the file."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner, Result

from mailer.cli import app
from rsvp.store import Store
from tests.conftest import TEST_KEY, person

FORMULA_STARTS = "=+-@＝＋－＠"
HYPERLINK = '1;=HYPERLINK("http://evil.example","Click")'
HOSTILE = [
    "=1+1", "+49 30 5550100", "-2", "@SUM(A1)",
    "＝1+1", "＋1", "－1", "＠SUM(A1)",                 # full-width, as typed with an IME
    " =1+1", "\u00a0=1+1", "\u200b=1+1", '"=1+1"',     # after blanks, invisible marks, quotes
    "\t=1+1", "\r=1+1", "Hello\n=1+1",                # a line break starts a row in ";"
    HYPERLINK,                                           # a new cell in a German Excel
    "1;=1+1", "Teil 1; -2", "a;＠SUM(A1)", "x; \u200b+1", 'y;"=1+1"',
]
HARMLESS = ["Jürgen", "a=b", "Straße & Söhne", "visits; symposium", "x;y", "1;2", "e-mail"]


def row_of(value: str) -> int:
    """The row (after the header's) of the person whose fields hold `value`."""
    return (HOSTILE + HARMLESS).index(value) + 2


def invite(workspace: Path, *args: str | Path) -> Result:
    return CliRunner().invoke(app, [*map(str, args), "-w", str(workspace)],
                              env={"INVITE_SECRET_KEY": TEST_KEY}, catch_exceptions=False)


def runs_as_formula(cell: str) -> bool:
    """What a spreadsheet would run: a formula character first, after what it skips."""
    if cell.startswith(("\t", "\r")):
        return True
    for char in cell:
        if not (char.isspace() or char == '"' or unicodedata.category(char) in ("Cc", "Cf")):
            return char in FORMULA_STARTS
    return False


@pytest.fixture
def hostile(store: Store) -> Store:
    """One person per value, in a name column, the organisation and an extra column."""
    store.add_recipients([
        replace(person(f"p{n}@example.org", last_name=value, organisation=value),
                extra={"note": value})
        for n, value in enumerate(HOSTILE + HARMLESS)])
    return store


def csv_export(workspace: Path, tmp_path: Path) -> str:
    path = tmp_path / "recipients.csv"
    result = invite(workspace, "export", "--what", "recipients", "-o", path)
    assert result.exit_code == 0, result.output
    return path.read_bytes().decode("utf-8-sig")


@pytest.mark.usefixtures("hostile")
@pytest.mark.parametrize("separator", [",", ";"], ids=["excel", "german-excel"])
def test_no_cell_of_a_csv_export_runs_as_a_formula(workspace: Path, tmp_path: Path,
                                                   separator: str) -> None:
    """Read as Excel does: split at its list separator, quotes only at a cell's start."""
    text = csv_export(workspace, tmp_path)
    cells = [cell for row in csv.reader(io.StringIO(text, newline=""), delimiter=separator)
             for cell in row]
    assert [cell for cell in cells if runs_as_formula(cell)] == []
    if separator == ";":
        # The test reads what it should: these cells exist only in the ";" reading.
        assert any(cell.startswith("'=HYPERLINK") for cell in cells)


@pytest.mark.usefixtures("hostile")
def test_the_csv_keeps_every_value_but_for_the_apostrophes(workspace: Path,
                                                          tmp_path: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(csv_export(workspace, tmp_path), newline="")))
    for row, value in zip(rows, HOSTILE + HARMLESS, strict=True):
        assert row["note"] == row["organisation"] == row["last_name"]
        assert re.sub(r"(;|\r\n?|\n)'", r"\1", row["note"]).removeprefix("'") == value
        assert (row["note"] != value) == (value in HOSTILE)


@pytest.mark.usefixtures("hostile")
def test_exact_csv_text_of_values_with_a_semicolon(workspace: Path, tmp_path: Path) -> None:
    lines = csv_export(workspace, tmp_path).split("\r\n")  # no value holds a CRLF

    def line(value: str) -> str:
        return lines[row_of(value) - 1]

    assert ',"1;\'=HYPERLINK(""http://evil.example"",""Click"")",' in line(HYPERLINK)
    # The recipients export ends with the bounce columns (#9), empty here.
    assert line("1;=1+1").endswith(",1;'=1+1,,")
    assert line("Teil 1; -2").endswith(",Teil 1;' -2,,")
    assert line("Hello\n=1+1").endswith(',"Hello\n\'=1+1",,')
    assert line("visits; symposium").endswith(",visits; symposium,,")


def sheet_xml(path: Path, number: int = 1) -> str:
    with zipfile.ZipFile(path) as book:
        return book.read(f"xl/worksheets/sheet{number}.xml").decode("utf-8")


@pytest.mark.usefixtures("hostile")
def test_xlsx_text_is_typed_text_with_no_apostrophe_and_no_formula(
        workspace: Path, tmp_path: Path) -> None:
    path = tmp_path / "recipients.xlsx"
    result = invite(workspace, "export", "--what", "recipients", "--format", "xlsx", "-o", path)
    assert result.exit_code == 0, result.output
    xml = sheet_xml(path)
    assert "<f>" not in xml and "<f " not in xml
    assert (f'<c r="F{row_of(HYPERLINK)}" t="inlineStr"><is><t>1;=HYPERLINK('
            '"http://evil.example","Click")</t></is></c>') in xml
    sheet = load_workbook(path)["Empfänger"]  # named in the event's language (#10)
    organisations = [row[5] for row in sheet.iter_rows(min_row=2)]
    # What XML cannot hold (\x00-\x08, \x0b, \x0c, \x0e-\x1f) is dropped, and XML reads
    # every line end as \n; the rest stays as it was.
    expected = [re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", "", value).replace("\r", "\n")
                for value in HOSTILE + HARMLESS]
    assert [cell.value for cell in organisations] == expected
    assert {cell.data_type for cell in organisations} == {"s"}


@pytest.mark.usefixtures("hostile")
def test_the_workbook_holds_no_formula_in_any_sheet(workspace: Path, tmp_path: Path) -> None:
    path = tmp_path / "all.xlsx"
    result = invite(workspace, "export", "--format", "xlsx", "-o", path)
    assert result.exit_code == 0, result.output
    book = load_workbook(path)
    for number, name in enumerate(book.sheetnames, start=1):
        xml = sheet_xml(path, number)
        assert "<f>" not in xml and "<f " not in xml, name
        assert all(cell.data_type != "f" for row in book[name].iter_rows() for cell in row)
    assert "=1+1" in [cell.value for cell in book["Antworten"]["D"]]
