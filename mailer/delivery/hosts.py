"""Keep one recipient per company brokerage contact (`host_of` = the company's id).

Hosts are recipients only so that the outbox, the sender and the links work for their
timetable mail as for anyone's; the eligibility conditions keep every other mailing,
the status counts and the people exports away from them. The contact comes from
`event.toml` (`[companies.contact]`), so it is written anew at each publish: a changed
name, address or language counts from the next timetable on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from email_validator import EmailNotValidError, validate_email

from rsvp.config import Company, EventConfig
from rsvp.errors import InviteError
from rsvp.store import Store, stamp


@dataclass(frozen=True)
class Host:
    """A company's contact as stored: the recipient id the timetable goes to."""

    company_id: str
    recipient_id: int
    email: str


def contact_companies(event: EventConfig) -> list[Company]:
    """The event's companies that name a contact for their timetable."""
    return [company for company in event.companies if company.contact is not None]


def sync_hosts(store: Store, event: EventConfig, now: datetime) -> list[Host]:
    """Create or update the recipient of each company's contact, inside the caller's
    transaction. Raises InviteError for a contact who is also an invitee or another
    company's contact: one address cannot be both, or the mails would mix."""
    when = stamp(now)
    hosts = []
    for company in contact_companies(event):
        contact = company.contact
        assert contact is not None
        where = f"{event.path.name}: the contact of company {company.id!r}"
        try:
            valid = validate_email(contact.email, check_deliverability=False,
                                   allow_smtputf8=False)
        except EmailNotValidError as error:
            raise InviteError(f"{where} is not an email address: {error}") from None
        email, email_ascii = valid.normalized, valid.ascii_email or valid.normalized
        key = email.casefold()
        row = store.conn.execute("SELECT id, host_of FROM recipients WHERE email_key = ?",
                                 (key,)).fetchone()
        if row is not None and row["host_of"] != company.id:
            other = (f"the contact of company {row['host_of']!r}" if row["host_of"]
                     else "an invited recipient")
            raise InviteError(f"{where}, {email}, is also {other}",
                              hint="Give each company a contact address of its own, one "
                                   "that is not on the recipients list.")
        first, _, last = " ".join(contact.name.split()).rpartition(" ")
        values = (email, email_ascii, first, last, company.name, contact.language)
        if row is None:
            cursor = store.conn.execute(
                "INSERT INTO recipients (email_key, email, email_ascii, first_name, last_name, "
                "organisation, language, host_of, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (key, *values, company.id, when, when))
            recipient_id = int(cursor.lastrowid or 0)
        else:
            recipient_id = int(row["id"])
            store.conn.execute(
                "UPDATE recipients SET email = ?, email_ascii = ?, first_name = ?, last_name = ?, "
                "organisation = ?, language = ?, updated_at = ? WHERE id = ?",
                (*values, when, recipient_id))
        hosts.append(Host(company.id, recipient_id, email))
    return hosts
