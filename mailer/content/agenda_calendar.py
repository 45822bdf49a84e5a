"""Build the iCalendar file of a brokerage agenda: one VEVENT per meeting, in one file.

Why METHOD:PUBLISH, also for cancellations: RFC 5546 would say METHOD:REQUEST for the
meetings and a separate METHOD:CANCEL object for the dropped ones, but one MIME part
carries one METHOD, and REQUEST makes Outlook and Gmail treat the mail as an invitation
the person must accept, sending replies to the organiser's address. PUBLISH is what the
confirmation already uses (mailer.content.calendar) and what every client imports as
plain entries. A cancelled meeting goes in the same file as a VEVENT with the same UID,
STATUS:CANCELLED and the higher SEQUENCE the publisher gave it: Apple Calendar,
Thunderbird and Outlook then mark or remove the entry they hold; a client that ignores
STATUS still sees "Cancelled:" in the summary. UIDs come from the meetings table and
stay the same for a pair (person, company) across re-plans, so a changed meeting
replaces its entry instead of adding a second one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from mailer.content.calendar import PRODID, CalendarMaker

_CANCELLED = {"de": "Abgesagt", "fr": "Annulé", "en": "Cancelled"}
_MEETING = {"de": "Gespräch", "fr": "Rendez-vous", "en": "Meeting"}
_TABLE = {"de": "Tisch", "fr": "Table", "en": "Table"}


@dataclass(frozen=True)
class CalendarEntry:
    """One meeting as its VEVENT says it: who it is with, where, and its state."""

    uid: str
    sequence: int
    start: datetime
    end: datetime
    title: str       # whom the meeting is with: the company, or for a host the person
    detail: str      # a line of description: the company's field, the person's topics
    table: int
    room: str
    cancelled: bool


def build_agenda(maker: CalendarMaker, entries: Sequence[CalendarEntry], lang: str,
                 now: datetime | None = None) -> bytes:
    """Return the VCALENDAR (METHOD:PUBLISH) with a VEVENT per entry, texts in `lang`."""
    import icalendar  # imported here: mailings without a calendar need not load it

    zone = maker.event.zone
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add_component(maker.timezone)
    stamp = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    organiser = maker.organiser()
    location = maker.event.text(maker.event.location, lang)
    for item in entries:
        entry = icalendar.Event()
        entry.add("uid", item.uid)
        entry.add("dtstamp", stamp)
        entry.add("dtstart", item.start.astimezone(zone))
        entry.add("dtend", item.end.astimezone(zone))
        summary = f"{_MEETING.get(lang, _MEETING['en'])}: {item.title}"
        if item.cancelled:
            summary = f"{_CANCELLED.get(lang, _CANCELLED['en'])}: {summary}"
        entry.add("summary", summary)
        place = item.room or f"{_TABLE.get(lang, _TABLE['en'])} {item.table}"
        entry.add("location", f"{place}, {location}" if location else place)
        if item.detail:
            entry.add("description", item.detail)
        entry.add("organizer", organiser)
        entry.add("sequence", item.sequence)
        entry.add("status", "CANCELLED" if item.cancelled else "CONFIRMED")
        entry.add("transp", "TRANSPARENT" if item.cancelled else "OPAQUE")
        calendar.add_component(entry)
    return bytes(calendar.to_ical())
