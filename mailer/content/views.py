"""What a mail template sees of the event, the sender and a nominator: texts already in
the mail's language, times in the event's zone, and no more of a person than the mail
may show (a nominator's address never)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rsvp.config import EventConfig
from rsvp.i18n import FEMALE, MALE, Catalogue
from rsvp.store import Recipient


@dataclass(frozen=True)
class EventView:
    """The event as a template sees it: texts in one language, times in the event's zone."""

    title: str
    intro: list[str]
    location: str
    start: datetime
    end: datetime
    timezone: str
    deadline: datetime
    programme: list[Any]
    companies: list[Any]
    questions: list[Any]


@dataclass(frozen=True)
class _Item:
    start: datetime
    end: datetime | None
    title: str
    detail: str


@dataclass(frozen=True)
class _Company:
    id: str
    name: str
    url: str
    field: str


@dataclass(frozen=True)
class SenderView:
    name: str
    email: str
    reply_to: str
    organiser: str
    phone: str


@dataclass(frozen=True)
class NominatorView:
    """Who put the recipient forward, as a mail names them: `name` formally in the mail's
    language ("Frau Dr. Anna Schmidt"), `full_name` plainly ("Anna Schmidt")."""

    name: str
    full_name: str
    organisation: str


def nominator_view(person: Recipient, texts: Catalogue) -> NominatorView | None:
    """Name `person` for a mail in `texts`' language; None when nothing names them."""
    first, last, title = (person.first_name.strip(), person.last_name.strip(),
                          person.title.strip())
    organisation = " ".join(person.organisation.split())
    kind = person.salutation.strip().casefold()
    gender = "female" if kind in FEMALE else "male" if kind in MALE else "neutral"
    if not last:
        gender = "neutral"  # "Frau Anna" reads wrong: no form of address without a surname
    key = f"person.{gender}"
    if texts.has(key) and (first or last):
        name = " ".join(texts.t(key, title=f"{title} " if title else "", first_name=first,
                                last_name=last).split())
    else:
        name = " ".join(p for p in (title, first, last) if p) if first or last else ""
    if not name:
        # The address is not shown instead: the nominee did not get it from its owner.
        return NominatorView(organisation, "", "") if organisation else None
    return NominatorView(name, person.full_name, organisation)


def event_view(event: EventConfig, lang: str) -> EventView:
    zone = event.zone
    return EventView(
        title=event.text(event.title, lang),
        intro=[p.strip() for p in event.text(event.intro, lang).split("\n\n") if p.strip()],
        location=event.text(event.location, lang),
        start=event.start.astimezone(zone), end=event.end.astimezone(zone),
        timezone=event.timezone, deadline=event.rsvp.deadline.astimezone(zone),
        programme=[_Item(i.start.astimezone(zone), i.end.astimezone(zone) if i.end else None,
                         event.text(i.title, lang), event.text(i.detail, lang) if i.detail else "")
                   for i in event.programme],
        companies=[_Company(c.id, c.name, c.url, event.text(c.field, lang) if c.field else "")
                   for c in event.companies],
        questions=list(event.questions),
    )
