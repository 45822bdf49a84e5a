"""A person's published meetings as their answer page lists them (#11).

Only for an event with a [brokerage], and one indexed query: the form page is the hot
path. Each meeting becomes four ready texts (when, where, company, field), which the
page fills into slots like the person's other values (rsvp.web.pages), so the page's
cached shape depends only on how many meetings there are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rsvp.config import EventConfig
from rsvp.i18n import catalogue
from rsvp.published import told_agenda
from rsvp.store import Store

KEYS = ("when", "place", "company", "field")


def agenda_rows(event: EventConfig, store: Store, recipient_id: int,
                lang: str) -> Sequence[Mapping[str, str]]:
    """The person's meetings as told (cancelled ones left out), by time; () without any."""
    if event.brokerage is None:
        return ()
    meetings = told_agenda(store, recipient_id, cancelled=False)
    if not meetings:
        return ()
    texts = catalogue(lang)
    zone = event.zone
    companies = {c.id: c for c in event.companies}
    rows = []
    for meeting in meetings:
        start, end = meeting.start.astimezone(zone), meeting.end.astimezone(zone)
        company = companies.get(meeting.company_id)
        room = company.room if company else ""
        rows.append({
            "when": f"{texts.longdate(start)}, {texts.time(start)}–{texts.time(end)}",
            "place": room or texts.t("page.agenda_table", number=meeting.table),
            "company": company.name if company else meeting.company_id,
            "field": event.text(company.field, lang) if company and company.field else "",
        })
    return rows
