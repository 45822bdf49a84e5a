"""Who is where: each invited person with their answer, admission and last mail.

`invite status --people` reads this list; the counts of `invite status` add up the same
people (everyone invited, not the forgotten, not the companies' brokerage contacts).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rsvp.store import NOT_HOST, Store

# The last mail is the one whose state changed last: a reminder queued after the
# invitation went out is what happens next to the person, so it is what is shown.
_PEOPLE = (
    "SELECT r.email, r.first_name, r.last_name, r.organisation, r.role, r.admission, "
    "s.attendance, o.mailing, o.state, coalesce(o.sent_at, o.updated_at) AS mail_at "
    "FROM recipients r LEFT JOIN responses s ON s.recipient_id = r.id "
    "LEFT JOIN outbox o ON o.id = (SELECT id FROM outbox WHERE recipient_id = r.id "
    "ORDER BY coalesce(sent_at, updated_at) DESC, id DESC LIMIT 1) "
    f"WHERE r.forgotten_at IS NULL AND r.{NOT_HOST} "
    "ORDER BY r.last_name COLLATE NOCASE, r.first_name COLLATE NOCASE, r.email_key")


@dataclass(frozen=True)
class PersonLine:
    """One person as the organiser's list shows them; None where nothing happened yet."""

    email: str
    name: str
    organisation: str
    role: str
    attendance: str | None
    admission: str | None
    mailing: str | None
    mail_state: str | None
    mail_at: datetime | None


def list_people(store: Store) -> list[PersonLine]:
    """Everyone invited, by last name, with their current answer, admission and last mail."""
    return [PersonLine(
        email=row["email"], name=" ".join(p for p in (row["first_name"], row["last_name"]) if p),
        organisation=row["organisation"], role=row["role"], attendance=row["attendance"],
        admission=row["admission"], mailing=row["mailing"], mail_state=row["state"],
        mail_at=datetime.fromisoformat(row["mail_at"]) if row["mail_at"] else None)
        for row in store.conn.execute(_PEOPLE)]
