"""Read the answers a company sent back about the people who want to meet it.

The organiser sends a host the list of requests (e.g. `invite export --what meetings`)
and gets back a sheet with an answer per person. Accepted in the answer column:
accept / decline / request, or yes / no in English, German or French; an empty answer
says nothing. A file with a bad row records nothing and lists every bad row.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from rsvp.errors import RecipientFileError
from rsvp.words import counted

WORDS = {
    "accept": "accept", "accepted": "accept", "yes": "accept", "ja": "accept", "oui": "accept",
    "decline": "decline", "declined": "decline", "no": "decline", "nein": "decline",
    "non": "decline",
    "request": "request", "requested": "request",
}


def read_host_answers(path: Path) -> list[tuple[str, str]]:
    """Return (email, say) per row with an answer; raise RecipientFileError on bad rows."""
    text = path.read_bytes().decode("utf-8-sig", errors="replace")
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:4096], ",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.DictReader(io.StringIO(text), dialect=dialect))
    header = {name.strip().casefold() for name in (rows[0].keys() if rows else [])}
    if not {"email", "answer"} <= header:
        raise RecipientFileError(f"{path.name} needs the columns email and answer", [],
                                 hint="The first row names the columns: email,answer")
    found: list[tuple[str, str]] = []
    problems: list[str] = []
    for line, row in enumerate(rows, start=2):
        cells = {str(k).strip().casefold(): (v or "").strip() for k, v in row.items() if k}
        answer = cells.get("answer", "").casefold()
        if not answer:
            continue
        if answer not in WORDS:
            problems.append(f"line {line}: answer {cells['answer']!r} is not accept, decline "
                            "or request")
        elif not cells.get("email"):
            problems.append(f"line {line}: no email")
        else:
            found.append((cells["email"], WORDS[answer]))
    if problems:
        raise RecipientFileError(f"{path.name} has {counted(len(problems), 'bad rows')}; "
                                 "nothing was "
                                 "recorded", problems)
    return found
