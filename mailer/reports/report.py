"""Render `invite report`: the campaign as one self-contained HTML file in the event's language.

Self-contained on purpose: the organiser mails the file to colleagues or opens it on a
train, so the styles are inlined, the charts are SVG drawn by the template and nothing
is fetched (no fonts, scripts or images from anywhere).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import BinaryIO

import jinja2

from mailer.content.mailings import Mailing
from mailer.content.render import shipped_templates
from mailer.reports.charts import columns, rows
from mailer.reports.export import write_output
from mailer.reports.report_data import ReportData, collect_report
from rsvp.config import EventConfig
from rsvp.errors import InviteError
from rsvp.i18n import catalogue
from rsvp.store import Store

TEMPLATE = "report/report.html.j2"
LANGUAGES = ("de", "fr", "en")
# Bottom to top (or left to right) in the stacked bars: the firm answers first.
TIMELINE_SERIES = ("yes", "maybe", "no")
WISH_SERIES = ("yes", "maybe")


def write_report(store: Store, event: EventConfig, out: BinaryIO | Path,
                 lang: str | None = None) -> None:
    """Write the report to a stream, or to a file that appears only when complete (0600:
    it names people)."""
    page = render_report(collect_report(store, event, _language(event, lang))).encode("utf-8")

    def write(stream: BinaryIO) -> None:
        stream.write(page)

    write_output(out, write)


def render_report(data: ReportData) -> str:
    """Return the report's HTML for numbers already gathered."""
    texts = catalogue(data.lang)
    event = data.event
    zone = event.zone
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(shipped_templates())),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=False, lstrip_blocks=False)

    def t(key: str, **values: object) -> str:
        return texts.t(f"report.{key}", **values)

    def mailing_name(key: str) -> str:
        mailing = Mailing.of(key)
        name = t(f"mailing_{mailing.kind}") if texts.has(f"report.mailing_{mailing.kind}") \
            else mailing.kind
        return f"{name} {mailing.round}" if mailing.round else name

    def role_name(role: str) -> str:
        return texts.t(f"roles.{role}") if texts.has(f"roles.{role}") else role

    def day(iso: str) -> str:
        """A chart's day without its year: '3 Mar', '3. Mär.', '3 mars'."""
        moment = date.fromisoformat(iso)
        return t("day", day=moment.day, month_number=moment.month,
                 month_short=texts.entries["months_short"][moment.month - 1])

    start, end = event.start.astimezone(zone), event.end.astimezone(zone)
    when = texts.longdate(start) if start.date() == end.date() else \
        f"{texts.longdate(start)} – {texts.longdate(end)}"
    return env.get_template(TEMPLATE).render(
        data=data, t=t, mailing_name=mailing_name, role_name=role_name, day=day,
        title=event.text(event.title, data.lang), location=event.text(event.location, data.lang),
        when=when, deadline=event.rsvp.deadline.astimezone(zone),
        longdate=texts.longdate, shortdate=texts.shortdate, clock=texts.time,
        timeline=columns(data.timeline, TIMELINE_SERIES),
        wishes=rows(data.wishes, WISH_SERIES))


def _language(event: EventConfig, lang: str | None) -> str:
    """The event's own language unless asked otherwise; only languages with texts."""
    chosen = lang or event.default_language
    if chosen not in LANGUAGES:
        raise InviteError(f"the report has no texts in {chosen!r}; choose one of "
                          f"{', '.join(LANGUAGES)}", hint="Pass --language de, fr or en.")
    return chosen
