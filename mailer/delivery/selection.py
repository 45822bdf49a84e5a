"""Choosing who gets a mailing: batches, `FIELD=VALUE` conditions, listed addresses and
exclusions, as one value that narrows who should get a mailing and never widens it.

Who may get a mailing at all is mailer.delivery.eligibility's to say (the unsubscribed
and forgotten, and once they exist the bounced, get nothing); a selection is ANDed to
those conditions, so whatever an organiser selects, those people stay out, and the
outbox still gives each person each mailing once. A selection is checked against the
workspace when it is made: a field, value, batch or address that is not there is an
error listing what is (a typo must not quietly mail nobody, or everybody). It is kept
as JSON for a scheduled send and evaluated when that send goes out.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mailer.content.mailings import Mailing
from rsvp.batches import batch_names
from rsvp.config import EventConfig
from rsvp.errors import SelectionError
from rsvp.store import ATTENDANCE, Recipient, Store, recipient_from_row

if TYPE_CHECKING:
    from mailer.delivery.exclusions import Exclusions

EXTRA = "extra."
ATTENDANCES = (*ATTENDANCE, "none")
ADMISSIONS = ("admitted", "waitlisted", "declined", "withdrawn", "none")
# The SQL value of each field of `recipients r` a condition may name; `extra.COLUMN` reads
# the import's other columns.
FIELDS = {
    "role": "r.role", "language": "r.language", "sector": "r.sector",
    "organisation": "r.organisation", "batch": "coalesce(r.batch, '')",
    "attendance": "coalesce((SELECT s.attendance FROM responses s "
                  "WHERE s.recipient_id = r.id), 'none')",
    "admission": "coalesce(r.admission, 'none')",
}
# Stored in lower case by the import, so matched in lower case.
LOWERED = ("role", "language", "sector", "attendance", "admission")
_EXTRA_VALUE = "coalesce((SELECT value FROM json_each(r.extra) WHERE key = ?), '')"
SHOWN = 15  # valid values listed in an error, at most


@dataclass(frozen=True)
class Condition:
    """`field=value`, or `field!=value` when negated."""

    field: str
    value: str
    negated: bool = False

    def __str__(self) -> str:
        return f"{self.field}{'!=' if self.negated else '='}{self.value}"


@dataclass(frozen=True)
class Selection:
    """Who a send is narrowed to: people in one of `batches`, matching every condition,
    among `to` (when given) and not in `exclude`. Those two hold recipient ids, never
    addresses: a scheduled send keeps its selection, and `invite forget` must leave no
    address behind. `exclude_hashes` are the keyed hashes of an exclusion file's
    addresses, matched when a scheduled send goes out (mailer.delivery.exclusions)."""

    batches: tuple[str, ...] = ()
    where: tuple[Condition, ...] = ()
    to: tuple[int, ...] = ()
    exclude: tuple[int, ...] = ()
    exclude_hashes: tuple[str, ...] = ()

    @property
    def everyone(self) -> bool:
        return not (self.batches or self.where or self.to or self.exclude
                    or self.exclude_hashes)

    def sql(self) -> tuple[str, tuple[Any, ...]]:
        """The condition on `recipients r` with its arguments, as ` AND (...)` to append
        to a mailing's own conditions; empty when the selection is everyone."""
        parts: list[str] = []
        args: list[Any] = []
        if self.batches:
            parts.append(f"r.batch IN ({', '.join('?' * len(self.batches))})")
            args += self.batches
        for condition in self.where:
            operator = "!=" if condition.negated else "="
            if condition.field.startswith(EXTRA):
                parts.append(f"{_EXTRA_VALUE} {operator} ?")
                args += [condition.field.removeprefix(EXTRA), condition.value]
            else:
                parts.append(f"{FIELDS[condition.field]} {operator} ?")
                args.append(condition.value)
        if self.to:
            parts.append("r.id IN (SELECT value FROM json_each(?))")
            args.append(json.dumps(self.to))
        if self.exclude:
            parts.append("r.id NOT IN (SELECT value FROM json_each(?))")
            args.append(json.dumps(self.exclude))
        if not parts:
            return "", ()
        return f" AND ({' AND '.join(parts)})", tuple(args)

    def describe(self) -> str:
        """The selection in a few words, for questions, lists and logs."""
        if self.everyone:
            return "everyone"
        words = []
        if self.batches:
            words.append(f"batch {' or '.join(self.batches)}")
        words += [str(condition) for condition in self.where]
        if self.to:
            words.append(f"{len(self.to)} listed {'address' if len(self.to) == 1 else 'addresses'}")
        if self.exclude or self.exclude_hashes:
            words.append(f"excluding {len(self.exclude)} "
                         f"{'address' if len(self.exclude) == 1 else 'addresses'}")
        return ", ".join(words)

    def to_json(self) -> str:
        return json.dumps({"batches": self.batches, "to": self.to, "exclude": self.exclude,
                           "where": [[c.field, c.value, c.negated] for c in self.where],
                           "exclude_hashes": self.exclude_hashes}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Selection:
        data = json.loads(text or "{}")
        return cls(tuple(data.get("batches", ())),
                   tuple(Condition(f, v, bool(n)) for f, v, n in data.get("where", ())),
                   tuple(data.get("to", ())), tuple(data.get("exclude", ())),
                   tuple(data.get("exclude_hashes", ())))


EVERYONE = Selection()


def first_selected(store: Store, mailing: Mailing, selection: Selection) -> tuple[Recipient, int]:
    """The first person `mailing` would go to now among those selected, with their
    number; or, if it would go to none of them, the first selected and their number."""
    from mailer.delivery.outbox import Outbox  # here: that module imports this one
    outbox = Outbox(store, selection)
    mailing = outbox.current_mailing(mailing)
    pending = (item.recipient for item in outbox.pending(mailing, still_due=True))
    due = list(itertools.chain(pending, outbox.would_queue(mailing)))
    if due:
        return due[0], len(due)
    only, args = selection.sql()
    rows = store.conn.execute(
        f"SELECT r.* FROM recipients r WHERE r.forgotten_at IS NULL{only} ORDER BY r.id",
        args).fetchall()
    if not rows:
        raise SelectionError(f"nobody is selected ({selection.describe()})",
                             hint="`invite send --list` with the same options shows whom "
                                  "they choose.")
    return recipient_from_row(rows[0]), len(rows)


def choose(store: Store, event: EventConfig, batches: list[str] | None = None,
           where: list[str] | None = None, to: list[str] | None = None,
           exclude: list[str] | None = None, exclude_listed: Exclusions | None = None
           ) -> Selection:
    """Check the organiser's choice against the workspace and return it as a Selection.
    `exclude_listed` (from a file) may name people who are not in the workspace (yet):
    they are kept as hashes only."""
    chosen = []
    known = batch_names(store)
    for name in _split(batches):
        if name not in known:
            raise SelectionError(f"unknown batch {name!r}; the batches are "
                                 f"{_listing(known) or 'none yet'}",
                                 hint="`invite import FILE --batch NAME` puts people in a "
                                      "batch; `invite status` shows them.")
        chosen.append(name)
    conditions = tuple(_condition(store, event, text) for text in where or ())
    listed = tuple(_known_address(store, address, "--to") for address in _split(to))
    excluded = [_known_address(store, address, "--exclude") for address in _split(exclude)]
    hashes: tuple[str, ...] = ()
    if exclude_listed is not None:
        excluded += exclude_listed.ids
        hashes = exclude_listed.hashes
    return Selection(tuple(dict.fromkeys(chosen)), conditions, tuple(dict.fromkeys(listed)),
                     tuple(dict.fromkeys(excluded)), hashes)


def _split(values: list[str] | None) -> list[str]:
    """Repeated options, each possibly a comma-separated list."""
    return [part.strip() for value in values or () for part in value.split(",") if part.strip()]


def _condition(store: Store, event: EventConfig, text: str) -> Condition:
    name, negated, value = _parse(text)
    if name in LOWERED:
        value = value.lower()
    if name.startswith(EXTRA):
        columns = _extra_columns(store)
        if name.removeprefix(EXTRA) not in columns:
            raise SelectionError(
                f"no column {name.removeprefix(EXTRA)!r} in the imports (--where {text}); "
                f"the extra columns are {_listing(columns) or 'none'}",
                hint="Use extra.COLUMN with a column of the import file.")
    elif name not in FIELDS:
        raise SelectionError(
            f"unknown field {name!r} in --where {text}; use one of {', '.join(FIELDS)} or "
            "extra.COLUMN", hint="Write --where FIELD=VALUE, or FIELD!=VALUE for \"not\".")
    valid = _values(store, event, name)
    if value not in valid:
        raise SelectionError(f"no one has {name} {value!r} (--where {text}); the values are "
                             f"{_listing(valid) or 'none'}",
                             hint="`invite export --what recipients` shows everyone's values.")
    return Condition(name, value, negated)


def _parse(text: str) -> tuple[str, bool, str]:
    name, equals, value = text.partition("=")
    negated = name.endswith("!")
    name = name.removesuffix("!").strip()
    if not equals or not name:
        raise SelectionError(f"--where {text!r} is not FIELD=VALUE or FIELD!=VALUE",
                             hint="E.g. --where role=company or --where attendance!=no.")
    return (name if name.startswith(EXTRA) else name.lower()), negated, value.strip()


def _values(store: Store, event: EventConfig, name: str) -> list[str]:
    """The values `name` can have here: fixed ones, or those people have."""
    if name == "attendance":
        return list(ATTENDANCES)
    if name == "admission":
        return list(ADMISSIONS)
    if name == "language":
        return list(event.languages)
    if name == "batch":
        return batch_names(store)
    if name.startswith(EXTRA):
        rows = store.conn.execute(
            f"SELECT DISTINCT {_EXTRA_VALUE} AS v FROM recipients r "
            "WHERE r.forgotten_at IS NULL ORDER BY v", (name.removeprefix(EXTRA),))
    else:
        rows = store.conn.execute(f"SELECT DISTINCT {FIELDS[name]} AS v FROM recipients r "
                                  "WHERE r.forgotten_at IS NULL ORDER BY v")
    found = [row["v"] for row in rows]
    if name == "role":
        found += [role for role in event.rsvp.quotas if role not in found]
    return found


def _extra_columns(store: Store) -> list[str]:
    return [row["key"] for row in store.conn.execute(
        "SELECT DISTINCT j.key FROM recipients r, json_each(r.extra) j "
        "WHERE r.forgotten_at IS NULL ORDER BY j.key")]


def _known_address(store: Store, address: str, option: str) -> int:
    found = store.conn.execute("SELECT id FROM recipients WHERE email_key = ? "
                               "AND forgotten_at IS NULL", (address.casefold(),)).fetchone()
    if found is None:
        raise SelectionError(f"no recipient {address!r} in this workspace ({option})",
                             hint="`invite export --what recipients` lists everyone.")
    return int(found["id"])


def _listing(values: list[str]) -> str:
    shown = ", ".join(repr(v) if v == "" or "," in v else v for v in values[:SHOWN])
    return shown + (f" and {len(values) - SHOWN} more" if len(values) > SHOWN else "")
