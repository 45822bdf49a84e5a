"""The organiser's side of nominations: who waits for a decision, and approving or
rejecting them. An approved nominee is invited by the sender like anyone else; a
rejected one is kept (so the same address is not put forward again) but never mailed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rsvp.errors import InviteError, UnknownRecipientError
from rsvp.store import Recipient, Store, recipient_from_row, stamp, utcnow

PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"


@dataclass(frozen=True)
class Nomination:
    """One person put forward, as the organiser needs to judge it."""

    email: str
    name: str
    organisation: str
    role: str
    state: str
    nominated_at: str
    nominator_email: str
    nominator_name: str
    nominator_organisation: str


def list_nominations(store: Store, states: tuple[str, ...] = (PENDING,)) -> list[Nomination]:
    """Nominations in `states`, oldest first, with who put them forward."""
    marks = ", ".join("?" * len(states))
    rows = store.conn.execute(
        "SELECT r.email, r.first_name, r.last_name, r.organisation, r.role, r.nomination, "
        "r.nominated_at, n.email AS n_email, n.first_name AS n_first, n.last_name AS n_last, "
        "n.organisation AS n_organisation FROM recipients r "
        "LEFT JOIN recipients n ON n.id = r.nominated_by "
        f"WHERE r.nomination IN ({marks}) AND r.forgotten_at IS NULL "
        "ORDER BY r.nominated_at, r.id", states).fetchall()
    return [Nomination(
        email=row["email"], name=_name(row["first_name"], row["last_name"]),
        organisation=row["organisation"], role=row["role"], state=row["nomination"],
        nominated_at=row["nominated_at"] or "", nominator_email=row["n_email"] or "",
        nominator_name=_name(row["n_first"], row["n_last"]),
        nominator_organisation=row["n_organisation"] or "") for row in rows]


def count_pending(store: Store) -> int:
    row = store.conn.execute("SELECT count(*) AS n FROM recipients WHERE nomination = ? "
                             "AND forgotten_at IS NULL", (PENDING,)).fetchone()
    return int(row["n"])


def decide_nominations(store: Store, emails: list[str], state: str,
                       now: datetime | None = None) -> list[tuple[int, str, str]]:
    """Set each nomination to `state` (approved or rejected), all or none: every address
    must be a person put forward. Returns (id, address, previous state) per person; the
    caller takes a rejected person's place away (`admission.withdraw_place`)."""
    if state not in (APPROVED, REJECTED):
        raise ValueError(f"state must be approved or rejected, not {state!r}")
    when = stamp(now or utcnow())
    changed: list[tuple[int, str, str]] = []
    with store.write():
        for email in emails:
            row = store.conn.execute(
                "SELECT id, email, nomination FROM recipients WHERE email_key = ? "
                "AND forgotten_at IS NULL", (email.strip().casefold(),)).fetchone()
            if row is None:
                raise UnknownRecipientError(f"no recipient {email!r} in this workspace",
                                            hint="`invite nominations` lists the nominations.")
            if row["nomination"] is None:
                raise InviteError(f"{row['email']} was not put forward on the answer page; "
                                  "nothing to approve or reject",
                                  hint="`invite nominations` lists the nominations.")
            store.conn.execute("UPDATE recipients SET nomination = ?, updated_at = ? "
                               "WHERE id = ?", (state, when, row["id"]))
            changed.append((row["id"], row["email"], row["nomination"]))
    return changed


def _name(first: str | None, last: str | None) -> str:
    return " ".join(part for part in (first, last) if part)


def nominator_of(store: Store, nominator_id: int) -> Recipient | None:
    """The person who put someone forward, unless they were forgotten since (here, not in
    `nominations`, so that sending does not load the web form's address checks)."""
    row = store.conn.execute("SELECT * FROM recipients WHERE id = ? AND forgotten_at IS NULL",
                             (nominator_id,)).fetchone()
    return recipient_from_row(row) if row else None
