"""Keep exported text from running as a spreadsheet formula (OWASP "CSV injection").

A name like `=HYPERLINK("http://evil.example","Click")` typed on the answer page, or an
imported column, must reach the organiser's spreadsheet as the text it is. XLSX cells
are typed as text and need nothing (mailer.reports.export); CSV has no types, so text
that a spreadsheet would run gets an apostrophe in front, which it shows as text.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

# What spreadsheets read as the start of a formula (OWASP "CSV injection"), also in the
# full-width forms an East Asian input method types and Excel accepts as the same.
FORMULA_STARTS = ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20")
# OWASP counts these as formula starts of their own: some programs drop them and read on.
RISKY_FIRST = ("\t", "\r")
# Excel in Germany, Austria or France splits a CSV file at ";" (its list separator), not
# at ",". A ";" inside a value then starts a new cell, and a line break a new row, as the
# quotes of a comma-separated file open no field in that reading (only a quote right
# after a ";" or at the start of a line would).
CELL_BREAKS = re.compile(r"(;|\r\n?|\n)")


def neutralise(value: Any) -> Any:
    """Prefix text a spreadsheet would run as a formula with an apostrophe (for CSV).

    Every string cell of a CSV export is checked, so every column counts as free text.
    Most columns are typed or imported by people (names, organisation, role, sector, the
    extra columns, text answers) or come from remote servers (`last_reply`); even `email`
    is free text here, as a valid local part may begin with `=`, `+` or `-`. The
    fixed-vocabulary columns (attendance, admission, language, mailing, state, the ISO
    timestamps, message_id, option ids and yes/no answers) never begin with a formula
    character, so the check leaves them as they are; exempting them by name instead would
    exempt an imported extra column that happens to share such a name. Numbers (attempts,
    number answers) are never strings and so never prefixed.

    A formula character counts also after leading blanks, control characters and quotes,
    which spreadsheets skip. Each part after a `;` or a line break is checked as if it
    began a cell, and prefixed where it would: the cell it becomes in a German Excel
    then reads as text.
    """
    if not isinstance(value, str):
        return value
    parts = CELL_BREAKS.split(value)  # text at even places, the breaks between them
    marked = ["'" + part if index % 2 == 0 and _runs_as_formula(part) else part
              for index, part in enumerate(parts)]
    if value.startswith(RISKY_FIRST) and not marked[0].startswith("'"):
        marked[0] = "'" + marked[0]
    return "".join(marked)


def _runs_as_formula(text: str) -> bool:
    """Whether a cell beginning with `text` would be read as a formula."""
    for char in text:
        if not (char.isspace() or char == '"' or unicodedata.category(char) in ("Cc", "Cf")):
            return char in FORMULA_STARTS
    return False
