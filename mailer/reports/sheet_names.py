"""Make a label a sheet name Excel accepts, shortened readably and unique in the workbook.

Excel refuses names longer than 31 characters, with any of `[]:*?/\\`, starting or
ending with an apostrophe, and "History" (its change tracking). A programme part such
as "Besuche bei Unternehmen und Laboren (1. Tag)" must still be recognisable on its
tab, so a long name is cut at a word boundary and marked with an ellipsis, never in
the middle of a word (only a single word longer than a whole tab is cut).
"""

from __future__ import annotations

import re

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
SHEET_MAX = 31
SHEET_RESERVED = ("history",)
ELLIPSIS = "…"
# What may end a shortened name before the ellipsis: not a dangling "(", "-" or ",".
DANGLING = " '([{-–—,;.&+"


def sheet_name(label: str, taken: set[str], fallback: str) -> str:
    """Make `label` a sheet name Excel accepts and that no other sheet has (in any case).

    The name is recorded in `taken` (case-folded, as Excel compares names).
    """
    name = " ".join(ILLEGAL_CHARACTERS_RE.sub("", SHEET_FORBIDDEN.sub(" ", label)).split())
    name = _trim(name) or _trim(fallback)
    candidate, number = shorten(name, SHEET_MAX), 2
    while candidate.casefold() in taken or candidate.casefold() in SHEET_RESERVED:
        suffix = f" ({number})"
        candidate = shorten(name, SHEET_MAX - len(suffix)) + suffix
        number += 1
    taken.add(candidate.casefold())
    return candidate


def shorten(name: str, limit: int) -> str:
    """Return `name` if it fits in `limit` characters, else its first words and "…"."""
    if len(name) <= limit:
        return name
    room = name[:limit - len(ELLIPSIS) + 1]  # one more: is the cut at a word's end?
    words = room[:-1] if room.endswith(" ") else room.rsplit(" ", 1)[0]
    if " " not in room.rstrip():
        words = room[:-1]  # a single word longer than a whole tab: nothing better to do
    return _trim(words.rstrip(DANGLING)) + ELLIPSIS


def _trim(name: str) -> str:
    # Excel also refuses a name that begins or ends with an apostrophe.
    return name.strip(" '")
