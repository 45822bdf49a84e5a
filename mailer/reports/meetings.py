"""Work out from the answers who wants to meet which listed company and who joins which part.

Only people who answered yes or maybe count: a no (even one that still carries wishes
from an earlier yes) or no answer at all is nobody the organiser has to plan for. The
rows carry the attendance, so the maybes can be filtered out in the spreadsheet.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from rsvp.config import Company, EventConfig, Option, Question
from rsvp.errors import InviteError
from rsvp.store import Recipient, Response

ATTENDING = ("yes", "maybe")
MEETING_COLUMNS = ("company", "company_field", "email", "first_name", "last_name",
                   "organisation", "sector", "role", "topics", "attendance")
# The admission shows who of those joining a part has a place (#10).
PART_COLUMNS = ("email", "first_name", "last_name", "organisation", "role", "attendance",
                "admission")
# The question whose answer says what a person wants to talk about with the companies.
TOPICS = "topics"

Person = tuple[Recipient, Response | None, str | None]
Guest = tuple[Recipient, Response]


def company_questions(event: EventConfig) -> list[Question]:
    """Return the questions offering the event's companies (`options_from = "companies"`)."""
    return [q for q in event.questions if q.options_from == "companies"]


def part_questions(event: EventConfig) -> list[Question]:
    """Return the `choices` questions about parts of the programme: those not about companies."""
    return [q for q in event.questions if q.type == "choices" and q.options_from is None]


def attending(people: Iterable[Person]) -> list[Guest]:
    """Keep those answering yes or maybe, sorted by last name, first name and address."""
    guests = [(person, response) for person, response, _ in people
              if response is not None and response.attendance in ATTENDING]
    return sorted(guests, key=lambda guest: (guest[0].last_name.casefold(),
                                             guest[0].first_name.casefold(),
                                             guest[0].email.casefold()))


def chosen(response: Response, question: Question) -> list[str]:
    """Return the option ids a person picked for `question` (one for `choice`, several for `choices`)."""
    value = response.answers.get(question.id)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(item) for item in value]
    return []


def takers(event: EventConfig, company: Company, guests: list[Guest]) -> list[Guest]:
    """Return the guests who picked `company` in any of the company questions."""
    questions = company_questions(event)
    return [guest for guest in guests
            if any(company.id in chosen(guest[1], question) for question in questions)]


def joining(question: Question, option: Option, guests: list[Guest]) -> list[Guest]:
    """Return the guests who picked `option` of `question`."""
    return [guest for guest in guests if option.id in chosen(guest[1], question)]


def meeting_rows(event: EventConfig, people: Iterable[Person]) -> Iterator[dict[str, Any]]:
    """Return a row per company and person wanting to meet it, in company list order.

    A company nobody chose still gets one row with empty person columns, so the
    organiser sees who has no takers. Raises InviteError if the event lists no companies.
    """
    if not event.companies:
        raise InviteError(f"{event.path.name} lists no companies, so there are no meetings "
                          "to export",
                          hint="Add [[companies]] to event.toml and a question with "
                               "options_from = \"companies\".")
    return _meeting_rows(event, attending(people))


def _meeting_rows(event: EventConfig, guests: list[Guest]) -> Iterator[dict[str, Any]]:
    has_topics = event.question(TOPICS) is not None
    for company in event.companies:
        row: dict[str, Any] = {
            "company": company.name,
            "company_field": event.text(company.field, event.default_language) or None,
        }
        wanting = takers(event, company, guests)
        if not wanting:
            yield {**row, **dict.fromkeys(MEETING_COLUMNS[2:])}
        for person, response in wanting:
            yield {**row, "email": person.email, "first_name": person.first_name,
                   "last_name": person.last_name, "organisation": person.organisation,
                   "sector": person.sector, "role": person.role,
                   "topics": _text(response.answers.get(TOPICS)) if has_topics else None,
                   "attendance": response.attendance}


def part_rows(question: Question, option: Option, guests: list[Guest]) -> Iterator[dict[str, Any]]:
    """Return a row per guest who joins the part of the programme that `option` stands for."""
    for person, response in joining(question, option, guests):
        yield {"email": person.email, "first_name": person.first_name,
               "last_name": person.last_name, "organisation": person.organisation,
               "role": person.role, "attendance": response.attendance,
               "admission": person.admission or None}


def _text(value: Any) -> str | None:
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, list):
        return "; ".join(str(item) for item in value)
    return str(value)
