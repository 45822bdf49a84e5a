"""Enrol imported people: add the new ones, update the changed ones, leave the rest alone.

A person is known by their address in any case: `JUERGEN.MUELLER@example.org` in a later
file is the Jürgen Müller imported before, and he keeps the spelling he was invited with
(his mails, exports and the organiser's lists stay as they were). Only the columns a file
has are compared and written, so that a file without a `role` column keeps everyone's role
(a new person without a `language` gets the event's default), the extra columns are merged
into those kept (a column the file lacks stays as it was), and a person whose stored values already match counts as unchanged: an identical
re-import reports "12 unchanged", not "12 updated".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rsvp.store import NewRecipient, Store, stamp, utcnow


@dataclass(frozen=True)
class Enrolment:
    """How many people an import added, changed, and found as they were."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0


def enrol(store: Store, rows: list[NewRecipient], now: datetime | None = None,
          default_language: str | None = None) -> Enrolment:
    """Store `rows` in one transaction, matching known people by case-insensitive address;
    a new person without a language gets `default_language`."""
    when = stamp(now or utcnow())
    added = updated = unchanged = 0
    with store.write():
        for row in rows:
            key = row.email.casefold()
            current = store.conn.execute(
                "SELECT * FROM recipients WHERE email_key = ?", (key,)).fetchone()
            if current is not None and current["host_of"] is not None:
                from rsvp.errors import InviteError  # only on this rare refusal

                # Hosts get their timetable only: an invitee row would never be mailed.
                raise InviteError(f"{row.email} is the contact of company "
                                  f"{current['host_of']!r} in event.toml; a contact address "
                                  "cannot also be an invitee", hint="Import the person with "
                                  "another address, or give the company another contact.")
            if current is None:
                fields = dict(row.fields)
                if default_language is not None:
                    fields.setdefault("language", default_language)
                _insert(store, key, {**fields, "extra": _json(row.extra), "email": row.email,
                                     "email_ascii": row.email_ascii}, when)
                added += 1
                continue
            values = {**row.fields, "extra": _json(_merged(current, row))}
            if _same(current, row):
                unchanged += 1
            else:
                assignments = ", ".join(f"{name} = :{name}" for name in values)
                store.conn.execute(
                    # Someone put forward on the web whom the organiser imports is the
                    # organiser's own invitee from now on: approved, nominator kept
                    # out of the way (depth, To header, invitation wording).
                    f"UPDATE recipients SET {assignments}, nominated_by = NULL, "
                    "nomination = NULL, updated_at = :now WHERE email_key = :key",
                    {**values, "now": when, "key": key})
                updated += 1
    return Enrolment(added, updated, unchanged)


def _json(extra: dict[str, str]) -> str:
    return json.dumps(extra, ensure_ascii=False)


def _merged(current: Any, row: NewRecipient) -> dict[str, str]:
    """The person's extra columns with the file's set over them."""
    return {**json.loads(current["extra"]), **row.extra}


def _insert(store: Store, key: str, values: dict[str, str], when: str) -> None:
    names = ", ".join(values)
    marks = ", ".join(f":{name}" for name in values)
    store.conn.execute(
        f"INSERT INTO recipients (email_key, {names}, created_at, updated_at) "
        f"VALUES (:key, {marks}, :now, :now)", {**values, "now": when, "key": key})


def _same(current: Any, row: NewRecipient) -> bool:
    """Whether storing `row` would change nothing: same values in the file's columns, and
    not someone put forward on the web (importing them makes them the organiser's own)."""
    if current["nominated_by"] is not None or current["nomination"] is not None:
        return False
    return (all(current[name] == value for name, value in row.fields.items())
            and json.loads(current["extra"]) == _merged(current, row))
