"""Build the iCalendar file a confirmation or an update carries, one per event and person.

Why METHOD:PUBLISH and not REQUEST. We collect answers on our own page, not by iMIP
(RFC 6047). A REQUEST is a scheduling message: RFC 5546 wants an ATTENDEE (the person's
address in the file) and a reply by mail; Outlook turns it into a meeting request with
Accept/Decline, Gmail shows Yes/Maybe/No and may put the entry into the calendar
before the person decided, and both mail an iMIP REPLY to the ORGANIZER that nobody
records, while a Decline there looks to the person like a cancellation. A PUBLISH is an
entry to keep: Apple Calendar, Thunderbird and Gmail offer to add it, and Outlook, which
parses only REQUEST, REPLY, CANCEL and COUNTER inline ([MS-STANOICAL] 2.2.51), opens it
as an appointment to save, from the attachment that mailer.content.compose adds.
ORGANIZER is the person answers go to (the Reply-To person), so that "Contact
organiser" in a calendar reaches someone who reads it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import cached_property
from typing import TYPE_CHECKING

from mailer.content.headers import one_line
from rsvp.config import EventConfig
from rsvp.i18n import catalogue

if TYPE_CHECKING:
    import icalendar

PRODID = "-//invite//RSVP invitations//EN"
_PROGRAMME = {"de": "Programm", "fr": "Programme", "en": "Programme"}


def calendar_uid(event_id: str, recipient_id: int, domain: str) -> str:
    """The UID that stays the same for one person's entry, so updates replace it."""
    return f"{event_id}-{recipient_id}@{domain}"


class CalendarMaker:
    """Makes each person's .ics for one event; the time zone is worked out once."""

    def __init__(self, event: EventConfig, event_id: str, organiser_name: str,
                 organiser_address: str, uid_domain: str = "") -> None:
        self.event = event
        self.event_id = event_id
        # A DQUOTE cannot be in a parameter value (RFC 5545 3.2); a line break would end it.
        self.organiser_name = one_line(organiser_name).replace('"', "'")
        self.organiser_address = organiser_address
        # The From domain: UIDs must not change when the Reply-To person does.
        self.domain = uid_domain or organiser_address.rsplit("@", 1)[1]
        self._descriptions: dict[str, str] = {}

    @cached_property
    def timezone(self) -> icalendar.Timezone:
        """The event's VTIMEZONE, made on first use: mailings without a calendar skip it."""
        import icalendar  # imported here: mailings without a calendar need not load it

        zone = self.event.zone
        # Only the transitions around the event: the whole zone history would be ~4 KB.
        return icalendar.Timezone.from_tzinfo(
            zone, tzid=self.event.timezone,
            first_date=date(self.event.start.astimezone(zone).year, 1, 1),
            last_date=date(self.event.end.astimezone(zone).year + 1, 12, 31))

    def organiser(self) -> icalendar.vCalAddress:
        """ORGANIZER: the person answers go to (the Reply-To person), name and mailto.

        With METHOD:PUBLISH no client sends a scheduling reply to it; it tells the reader
        whom to ask, and lets Outlook show the entry as coming from that person.
        """
        import icalendar

        organiser = icalendar.vCalAddress(f"mailto:{self.organiser_address}")
        organiser.params["cn"] = self.organiser_name or self.organiser_address
        return organiser

    def uid(self, recipient_id: int) -> str:
        return calendar_uid(self.event_id, recipient_id, self.domain)

    def build(self, recipient_id: int, lang: str, sequence: int,
              now: datetime | None = None) -> bytes:
        """Return the VCALENDAR (METHOD:PUBLISH) with the person's VEVENT, in `lang`."""
        import icalendar

        event = self.event
        zone = event.zone
        calendar = icalendar.Calendar()
        calendar.add("prodid", PRODID)
        calendar.add("version", "2.0")
        calendar.add("calscale", "GREGORIAN")
        calendar.add("method", "PUBLISH")
        calendar.add_component(self.timezone)
        entry = icalendar.Event()
        entry.add("uid", self.uid(recipient_id))
        entry.add("dtstamp", (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0))
        entry.add("dtstart", event.start.astimezone(zone))
        entry.add("dtend", event.end.astimezone(zone))
        entry.add("summary", event.text(event.title, lang))
        entry.add("location", event.text(event.location, lang))
        entry.add("organizer", self.organiser())
        if lang not in self._descriptions:
            self._descriptions[lang] = self._programme(lang)
        description = self._descriptions[lang]
        if description:
            entry.add("description", description)
        entry.add("sequence", sequence)
        entry.add("status", "CONFIRMED")
        entry.add("transp", "OPAQUE")
        calendar.add_component(entry)
        return bytes(calendar.to_ical())

    def _programme(self, lang: str) -> str:
        """The programme as plain text, one line per item, times in the event's zone."""
        event = self.event
        if not event.programme:
            return ""
        texts = catalogue(lang)
        zone = event.zone
        lines = [_PROGRAMME.get(lang, _PROGRAMME["en"]) + ":"]
        for item in event.programme:
            start = item.start.astimezone(zone)
            when = f"{texts.shortdate(start)}, {texts.time(start)}"
            if item.end is not None:
                end = item.end.astimezone(zone)
                same_day = end.date() == start.date()
                when += f"–{texts.time(end)}" if same_day else (
                    f" – {texts.shortdate(end)}, {texts.time(end)}")
            lines.append(f"- {when}: {event.text(item.title, lang)}")
            if item.detail:
                lines.append(f"  {event.text(item.detail, lang)}")
        return "\n".join(lines)
