"""Whether someone may put a person forward now: only people close enough to the
organiser's own list (the depth), and never beyond the event's cap per hour.

A link that can nominate hands out the organiser's relay; without these limits one
link invited thirty strangers in five seconds, and each of them could invite more.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from enum import Enum

from rsvp.config import NominationRules
from rsvp.store import Recipient, Store, stamp

HOUR = timedelta(hours=1)


class Gate(Enum):
    """What the form offers: `OPEN` the fieldset, `CLOSED` a "closed for now" note
    (the event's hourly cap is reached), `NONE` nothing (this person may not nominate)."""

    OPEN = "open"
    CLOSED = "closed"
    NONE = "none"


def depth_of(store: Store, person: Recipient, limit: int) -> int:
    """How many nominations lie between `person` and the organiser's import (0 for an
    imported person), counted up to `limit` steps (enough to compare with the rules)."""
    depth = 0
    nominator = person.nominated_by
    while nominator is not None and depth < limit:
        depth += 1
        row = store.conn.execute("SELECT nominated_by FROM recipients WHERE id = ?",
                                 (nominator,)).fetchone()
        nominator = row["nominated_by"] if row else None
    return depth


def nominations_in_last_hour(store: Store, now: datetime) -> int:
    """Nominations the whole event received in the hour before `now`."""
    row = store.conn.execute(
        "SELECT count(*) AS n FROM recipients WHERE nominated_at > ?",
        (stamp(now - HOUR),)).fetchone()
    return int(row["n"])


def gate_for(store: Store, rules: NominationRules, per_recipient: int, person: Recipient,
             now: datetime,
             recent: Callable[[Store, datetime], int] = nominations_in_last_hour) -> Gate:
    """May `person` put someone forward at `now`? `recent` counts the hour's nominations
    (a `RecentCount` spares the form page that query on most requests)."""
    if per_recipient <= 0 or depth_of(store, person, rules.depth) >= rules.depth:
        return Gate.NONE
    if recent(store, now) >= rules.per_hour:
        return Gate.CLOSED
    return Gate.OPEN


class RecentCount:
    """The hour's nomination count for showing the form, read again at most every `ttl`
    seconds: the form may show the fieldset a moment after the cap is reached, but
    `nominate` always counts afresh inside its transaction, so the cap itself holds."""

    def __init__(self, ttl: float = 2.0) -> None:
        self.ttl = timedelta(seconds=ttl)
        self._at: datetime | None = None
        self._count = 0

    def __call__(self, store: Store, now: datetime) -> int:
        at = self._at
        if at is None or not at <= now < at + self.ttl:
            self._count = nominations_in_last_hour(store, now)
            self._at = now
        return self._count
