"""Read the first sheet of an Excel workbook as rows of text, as a person sees the cells."""

from __future__ import annotations

import io
import warnings
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from rsvp.errors import RecipientFileError


def read_xlsx(path: Path, data: bytes) -> Iterator[tuple[int, list[str]]]:
    """Yield the first sheet's rows as text; the row number is the line number."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        with warnings.catch_warnings():
            # openpyxl warns about Excel features it skips (data validation, styles);
            # they do not change cell values, and the organiser cannot act on them.
            warnings.simplefilter("ignore", UserWarning)
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, OSError):
        raise RecipientFileError(f"{path.name} is not a readable Excel workbook (.xlsx)",
                                 problems=[], hint="Open it in Excel and save it again, "
                                 "or save it as CSV.") from None
    try:
        sheet = book.worksheets[0]
        # Some writers store a wrong sheet size; reading without it gets every cell.
        sheet.reset_dimensions()
        rows = [[cell_text(value) for value in row] for row in sheet.iter_rows(values_only=True)]
    finally:
        book.close()
    return iter(enumerate(rows, start=1))


def cell_text(value: object) -> str:
    """Render a cell as the text a person sees: 4930 not 4930.0, dates as ISO 8601."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    return str(value)
