"""The organiser's and the host companies' say on single pairs, and the planner's run log.

Wishes come from the answers; these rows overrule them pair by pair: the organiser
adds (`wish`), forces (`must`), forbids (`never`) or takes out (`remove`) a meeting, a
company accepts, declines or asks for (`request`) a person. Both sides live in one row
per pair, so one says nothing about the other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rsvp.store import Store, stamp, utcnow

ORGANISER = ("wish", "must", "never", "remove")
HOST = ("accept", "decline", "request")


@dataclass(frozen=True)
class Choice:
    """One pair's overrides; None: no say."""

    recipient_id: int
    company_id: str
    organiser: str | None
    host: str | None
    priority: int | None
    updated_at: str


@dataclass(frozen=True)
class PlanRun:
    """One `invite meetings plan`: what the solver reached and how sure it is."""

    id: int
    created_at: str
    status: str
    wishes_made: int
    wishes_met: int
    objective: float | None
    bound: float | None
    seconds: float
    details: dict[str, Any]


def choices(store: Store) -> list[Choice]:
    """Return every pair anyone said something about, by person then company."""
    rows = store.conn.execute(
        "SELECT * FROM meeting_choices ORDER BY recipient_id, company_id").fetchall()
    return [Choice(row["recipient_id"], row["company_id"], row["organiser"], row["host"],
                   row["priority"], row["updated_at"]) for row in rows]


def set_organiser(store: Store, recipient_id: int, company_id: str, say: str | None,
                  priority: int | None = None, now: datetime | None = None) -> None:
    """Record the organiser's say on a pair (None clears it), keeping the host's."""
    if say is not None and say not in ORGANISER:
        raise ValueError(f"organiser's say must be one of {ORGANISER}, not {say!r}")
    _upsert(store, recipient_id, company_id, "organiser", say, now, priority)


def set_host(store: Store, recipient_id: int, company_id: str, say: str | None,
             now: datetime | None = None) -> None:
    """Record the company's say on a pair (None clears it), keeping the organiser's."""
    if say is not None and say not in HOST:
        raise ValueError(f"host's say must be one of {HOST}, not {say!r}")
    _upsert(store, recipient_id, company_id, "host", say, now, None)


def _upsert(store: Store, recipient_id: int, company_id: str, column: str, say: str | None,
            now: datetime | None, priority: int | None) -> None:
    when = stamp(now or utcnow())
    # `column` is one of two names chosen above, never input.
    with store.write():
        store.conn.execute(
            f"INSERT INTO meeting_choices (recipient_id, company_id, {column}, priority, "
            "updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (recipient_id, company_id) DO "
            f"UPDATE SET {column} = excluded.{column}, updated_at = excluded.updated_at, "
            "priority = coalesce(excluded.priority, priority)",
            (recipient_id, company_id, say, priority, when))
        store.conn.execute("DELETE FROM meeting_choices WHERE organiser IS NULL AND host IS NULL "
                           "AND priority IS NULL")


def record_run(store: Store, status: str, wishes_made: int, wishes_met: int,
               objective: float | None, bound: float | None, seconds: float,
               details: dict[str, Any], now: datetime | None = None) -> int:
    """Append a planner run to the log; returns its id."""
    with store.write():
        row = store.conn.execute(
            "INSERT INTO plan_runs (created_at, status, wishes_made, wishes_met, objective, "
            "bound, seconds, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (stamp(now or utcnow()), status, wishes_made, wishes_met, objective, bound, seconds,
             json.dumps(details, ensure_ascii=False, sort_keys=True))).fetchone()
    return int(row["id"])


def last_run(store: Store) -> PlanRun | None:
    """Return the latest planner run, or None before the first."""
    row = store.conn.execute("SELECT * FROM plan_runs ORDER BY id DESC LIMIT 1").fetchone()
    if row is None:
        return None
    return PlanRun(row["id"], row["created_at"], row["status"], row["wishes_made"],
                   row["wishes_met"], row["objective"], row["bound"], row["seconds"],
                   json.loads(row["details"]))
