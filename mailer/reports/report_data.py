"""Gather the numbers of `invite report`: one reading of the campaign, as plain values.

The figures are the ones `invite status` and the workbook show (mails per state, quotas,
parts and companies counted over yes and maybe), so the report never disagrees with
them; this module only adds what a page needs besides: dates in the event's time zone,
answers per day, the failed mails with the relay's reply, the people whose address
bounced (read back by `invite bounces`), and who has not answered.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from mailer.delivery.outbox import Outbox
from mailer.reports.meetings import attending, joining, part_questions, takers
from mailer.reports.status import STATUS_STATES, collect_status
from rsvp.bounces import bounced_by_id
from rsvp.config import EventConfig
from rsvp.nomination_review import PENDING, REJECTED, list_nominations
from rsvp.store import ATTENDANCE, Store, utcnow

# Beyond this many days, answers are counted per week: a bar per day would be too thin.
MAX_DAYS = 42


@dataclass(frozen=True)
class Count:
    """One labelled head count, split by attendance where that helps (yes and maybe)."""

    label: str
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class Failure:
    """A mail the relay refused for good, with its reply: the reason to show."""

    email: str
    name: str
    mailing: str
    reply: str
    when: datetime | None


@dataclass(frozen=True)
class Silent:
    """Someone who has not answered, with the last mail that went to them."""

    name: str
    email: str
    organisation: str
    role: str
    unsubscribed: bool
    last_mailing: str | None
    last_state: str | None
    last_sent: datetime | None


@dataclass(frozen=True)
class ReportData:
    """Everything the report shows; rendering is separate (mailer.reports.report)."""

    event: EventConfig
    lang: str
    made: datetime
    status: dict[str, Any]
    states: tuple[str, ...]
    timeline: list[Count]
    weekly: bool
    parts: list[tuple[str, list[Count]]]
    wishes: list[Count]
    failures: list[Failure]
    silent: list[Silent]
    bounced: list[Failure]  # mailing "": the person's address, the bounce's reason


def collect_report(store: Store, event: EventConfig, lang: str,
                   now: datetime | None = None) -> ReportData:
    """Read the campaign once; the people are read a single time so the parts agree."""
    people = list(store.people())
    guests = attending(people)
    zone = event.zone
    last = _last_mails(store, zone)
    parts = [(event.text(question.label, lang),
              [Count(event.text(option.label, lang),
                     _by_attendance(response.attendance
                                    for _, response in joining(question, option, guests)))
               for option in question.options])
             for question in part_questions(event)]
    wishes = [Count(company.name, _by_attendance(
                  response.attendance for _, response in takers(event, company, guests)))
              for company in event.companies]
    answered = [(datetime.fromisoformat(response.first_at).astimezone(zone).date(),
                 response.attendance) for _, response, _ in people if response is not None]
    timeline, weekly = _timeline(answered)
    names = {person.email: person.full_name for person, _, _ in people}
    failures = [Failure(row["email"], names.get(row["email"], ""), row["mailing"],
                        row["last_reply"] or "", _moment(row["sent_at"], zone))
                for row in Outbox(store).export_rows() if row["state"] == "failed"]
    marks = bounced_by_id(store)
    bounced = sorted((Failure(person.email, person.full_name, "", marks[person.id][1],
                              _moment(marks[person.id][0], zone))
                      for person, _, _ in people if person.id in marks),
                     key=lambda b: (b.name.casefold(), b.email.casefold()))
    # People put forward but not (yet) let in were never invited: nobody waits for them.
    uninvited = {n.email for n in list_nominations(store, (PENDING, REJECTED))}
    silent = [Silent(person.full_name, person.email, person.organisation, person.role,
                     person.unsubscribed_at is not None, *last.get(person.email, (None,) * 3))
              for person, response, _ in people
              if response is None and person.email not in uninvited]
    silent.sort(key=lambda s: (s.unsubscribed, s.name.casefold(), s.email.casefold()))
    return ReportData(event=event, lang=lang, made=(now or utcnow()).astimezone(zone),
                      status=collect_status(store, event), states=STATUS_STATES,
                      timeline=timeline, weekly=weekly, parts=parts, wishes=wishes,
                      failures=failures, silent=silent, bounced=bounced)


def _by_attendance(answers: Any) -> dict[str, int]:
    """Count yes and maybe (the two that count as coming), always both keys, in that order."""
    counted = Counter(answers)
    return {"yes": counted["yes"], "maybe": counted["maybe"]}


def _timeline(answered: list[tuple[date, str]]) -> tuple[list[Count], bool]:
    """First answers per day (or per week, Monday first, over a long campaign), gaps kept
    as empty days so the chart's axis is time, split by each person's current answer."""
    if not answered:
        return [], False
    first, final = min(day for day, _ in answered), max(day for day, _ in answered)
    weekly = (final - first).days + 1 > MAX_DAYS
    step = timedelta(days=7 if weekly else 1)

    def bucket(day: date) -> date:
        return day - timedelta(days=day.weekday()) if weekly else day

    counted: dict[date, Counter[str]] = {}
    for day, attendance in answered:
        counted.setdefault(bucket(day), Counter())[attendance] += 1
    days, day = [], bucket(first)
    while day <= bucket(final):
        days.append(Count(day.isoformat(), {key: counted.get(day, Counter())[key]
                                            for key in ATTENDANCE}))
        day += step
    return days, weekly


def _last_mails(store: Store, zone: Any) -> dict[str, tuple[str, str, datetime | None]]:
    """Per address, the last outbox row: its mailing, state (`sending` reads as unknown, as
    in `invite status`) and when it went out."""
    last: dict[str, tuple[str, str, datetime | None]] = {}
    for row in Outbox(store).export_rows():
        state = "unknown" if row["state"] == "sending" else row["state"]
        last[row["email"]] = (row["mailing"], state, _moment(row["sent_at"], zone))
    return last


def _moment(value: str | None, zone: Any) -> datetime | None:
    return datetime.fromisoformat(value).astimezone(zone) if value else None
