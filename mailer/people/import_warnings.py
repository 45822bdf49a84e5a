"""Warn about rows an import takes as they are but perhaps not as the organiser meant.

A salutation no greeting knows (`Fräulein`, `Sra.`) and a role without a quota in an
event with quotas are not errors: the row is imported, and the mail and the admission
work. But the greeting then names the person without a form of address, and the role
admits without limit, which nobody should learn from the first mail that went out.
Rows with the same value are told in one line, so a list of 200 partners gives one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rsvp.config import EventConfig
from rsvp.i18n import FEMALE, MALE
from rsvp.store import NewRecipient

SHOWN_LINES = 5  # a warning names this many lines, then how many more


@dataclass(frozen=True)
class ImportWarning:
    """One value imported as it is, the lines that have it, and what will happen."""

    lines: tuple[int, ...]
    what: str
    consequence: str

    def __str__(self) -> str:
        return f"{_lines(self.lines)}: {self.what}; {self.consequence}"


def warn_rows(rows: Sequence[tuple[int, NewRecipient]], event: EventConfig) -> list[ImportWarning]:
    """The warnings for the good rows of a file, given with their line numbers."""
    salutations: dict[str, list[int]] = {}
    roles: dict[str, list[int]] = {}
    known = FEMALE | MALE
    for line, row in rows:
        salutation = row.fields.get("salutation", "").strip()
        if salutation and salutation.casefold() not in known:
            salutations.setdefault(salutation, []).append(line)
        role = row.fields.get("role", "")
        if event.rsvp.quotas and role and role not in event.rsvp.quotas:
            roles.setdefault(role, []).append(line)
    warnings = [ImportWarning(tuple(lines), f"salutation {value!r} is not known",
                              "the greeting will be without salutation")
                for value, lines in salutations.items()]
    warnings += [ImportWarning(tuple(lines), f"role {value!r} has no quota",
                               "they can be admitted without limit (roles with quotas: "
                               f"{', '.join(event.rsvp.quotas)})")
                 for value, lines in roles.items()]
    return sorted(warnings, key=lambda warning: warning.lines)


def _lines(lines: tuple[int, ...]) -> str:
    """'line 4', 'lines 4 and 7', 'lines 4, 7, 9, 12, 15 and 3 more'."""
    if len(lines) == 1:
        return f"line {lines[0]}"
    shown = [str(line) for line in lines[:SHOWN_LINES]]
    more = len(lines) - len(shown)
    if more:
        return f"lines {', '.join(shown)} and {more} more"
    return f"lines {', '.join(shown[:-1])} and {shown[-1]}"
