"""`invite status --people`: who is where, one line a person, chosen by answer, admission
and role, as a table that fits 80 columns or as JSON for scripts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from rsvp.admission import ADMISSIONS as DECIDED
from rsvp.config import EventConfig
from rsvp.errors import InviteError
from rsvp.people_list import PersonLine, list_people
from rsvp.store import ATTENDANCE, Store
from rsvp.words import counted

ATTENDANCES = (*ATTENDANCE, "none")
ADMISSIONS = (*DECIDED, "none")
NO_ROLE = "none"  # what `--role` calls people without a role
WHEN = "%d %b %H:%M"  # "01 Mar 09:05": short enough for one line of its column


def choose_people(store: Store, event: EventConfig, attendance: Sequence[str] = (),
                  admission: Sequence[str] = (), roles: Sequence[str] = ()) -> list[PersonLine]:
    """Everyone, or those with one of the given answers, admissions and roles (each option
    repeated means "or", different options "and"); a value that is not there is an error
    naming those that are."""
    people = list_people(store)
    known_roles = list(dict.fromkeys([*event.rsvp.quotas, *sorted({p.role for p in people
                                                                     if p.role})]))
    _check("--attendance", attendance, ATTENDANCES)
    _check("--admission", admission, ADMISSIONS)
    _check("--role", roles, (*known_roles, NO_ROLE))
    return [person for person in people
            if (not attendance or (person.attendance or "none") in attendance)
            and (not admission or (person.admission or "none") in admission)
            and (not roles or (person.role or NO_ROLE) in roles)]


def _check(option: str, given: Sequence[str], valid: Sequence[str]) -> None:
    for value in given:
        if value not in valid:
            raise InviteError(f"{option} {value!r} is not one of {', '.join(valid)}")


def people_json(people: list[PersonLine], zone: tzinfo) -> list[dict[str, Any]]:
    """The list for scripts: addresses included, times in ISO 8601 in the event's zone."""
    return [{"email": p.email, "name": p.name, "organisation": p.organisation, "role": p.role,
             "attendance": p.attendance, "admission": p.admission,
             "last_mail": p.mailing, "last_mail_state": _state(p.mail_state),
             "last_mail_at": p.mail_at.astimezone(zone).isoformat() if p.mail_at else None}
            for p in people]


def render_people(people: list[PersonLine], event: EventConfig, console: Console) -> None:
    """Print the table. Role, answer and admission never wrap; names and organisations do,
    at spaces; the last mail gives its time on a line of its own. Addresses are never
    broken: a person without a name is numbered in the table and their address follows
    it on a line of its own (`--json` has everyone's address)."""
    # Two blanks between columns (the padding on the right and the box's divider).
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0))
    table.add_column("name", overflow="fold")
    table.add_column("organisation", overflow="fold")
    table.add_column("role", no_wrap=True)
    table.add_column("answer", no_wrap=True)
    table.add_column("admission", no_wrap=True)
    table.add_column("last mail", overflow="fold")
    zone = event.zone
    unnamed: list[str] = []
    for p in people:
        mail = "-"
        if p.mailing:
            mail = f"{p.mailing} {_state(p.mail_state)}"
            if p.mail_at:
                mail += "\n" + p.mail_at.astimezone(zone).strftime(WHEN)
        if not p.name:
            unnamed.append(p.email)
        table.add_row(Text(p.name or f"(no name {len(unnamed)})"), Text(p.organisation),
                      Text(p.role), p.attendance or "-", p.admission or "-", Text(mail))
    console.print(table)
    for number, email in enumerate(unnamed, start=1):
        # Below the table, where a long address has a line to itself and is never broken.
        console.print(f"(no name {number}): {email}", markup=False, highlight=False)
    console.print(f"{counted(len(people), 'people')}; times in {event.timezone}.",
                  markup=False, highlight=False)


def _state(state: str | None) -> str | None:
    # As in `invite status`: a row left `sending` by a crash is of unknown fate.
    return "unknown" if state == "sending" else state
