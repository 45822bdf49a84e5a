"""Gather the planning problem from the workspace: who takes part, their wishes, the
organiser's and the companies' say, the slots and limits, the plan as it stands.

Who takes part: people who said yes and were admitted (under first-come a yes is
admitted by itself), and, where [brokerage] names a `part`, who chose that part.
A wish weighs 1, or `important_weight` when marked "very important", or the priority
the organiser gave the pair. The organiser's `must` and `never` beat a company's
`decline`; a company's `request` is a wish of weight 1 unless the person wished more.
"""

from __future__ import annotations

from collections.abc import Iterator

from mailer.planner.problem import Pair, Problem, Refusal, Wish
from rsvp.brokerage import Brokerage
from rsvp.config import EventConfig
from rsvp.errors import ConfigError
from rsvp.meeting_choices import Choice, choices
from rsvp.meetings import CANCELLED, LIVE, all_meetings
from rsvp.store import Recipient, Response, Store

FORBIDDEN = "forbidden by the organiser"
DECLINED = "declined by the company"
NOT_TAKING_PART = "not taking part in the brokerage"
# The meetings people know as on: published ones, and those cancelled but not told yet.
KEEPABLE = (*LIVE, CANCELLED)


def brokerage_of(event: EventConfig) -> Brokerage:
    """Return the event's [brokerage] settings or raise ConfigError saying how to add them."""
    if event.brokerage is None:
        raise ConfigError(f"{event.path.name} has no [brokerage] table, so there is nothing "
                          "to plan",
                          hint="Add [brokerage] with question, meeting_minutes and "
                               "[[brokerage.sessions]]; `invite init /tmp/example` shows one.")
    return event.brokerage


def taking_part(event: EventConfig, person: Recipient, response: Response | None) -> bool:
    """Say whether this person's wishes count: a yes with a place, in the brokerage part."""
    if response is None or response.attendance != "yes":
        return False
    first_come = event.rsvp.admission == "first-come" and person.admission is None
    if person.admission != "admitted" and not first_come:
        return False
    part = brokerage_of(event).part
    if part is None:
        return True
    return part.option in _picked(response, part.question)


def _picked(response: Response, question: str) -> list[str]:
    value = response.answers.get(question)
    if isinstance(value, str):
        return [value]
    return [str(item) for item in value] if isinstance(value, list) else []


def _answer_wishes(event: EventConfig, response: Response) -> Iterator[tuple[str, int]]:
    brokerage = brokerage_of(event)
    known = {company.id for company in event.companies}
    important = set()
    if brokerage.important_question is not None:
        important = set(_picked(response, brokerage.important_question))
    wished = _picked(response, brokerage.question)
    for company_id in dict.fromkeys([*wished, *sorted(important - set(wished))]):
        if company_id in known:
            yield company_id, brokerage.important_weight if company_id in important else 1


def collect_problem(store: Store, event: EventConfig) -> Problem:
    """Read everything the plan must respect from the store and event.toml."""
    brokerage = brokerage_of(event)
    slots = brokerage.slots()
    people: list[tuple[str, int]] = []
    answered: dict[int, dict[str, int]] = {}
    for person, response, _ in store.people():
        if response is not None and taking_part(event, person, response):
            people.append((response.first_at, person.id))
            answered[person.id] = dict(_answer_wishes(event, response))
    order = [person_id for _, person_id in sorted(people)]
    said = {(c.recipient_id, c.company_id): c for c in choices(store)}
    wishes, forbidden, refused = _combine(order, answered, said, {c.id for c in event.companies})
    slot_of = {slot.start: slot.index for slot in slots}
    published: dict[Pair, tuple[int, int]] = {}
    current: dict[Pair, int] = {}
    for meeting in all_meetings(store):
        pair = (meeting.recipient_id, meeting.company_id)
        if meeting.state in LIVE and meeting.starts_at in slot_of:
            current[pair] = slot_of[meeting.starts_at]
        told = meeting.published_start
        # A cancellation not told yet can still be undone: as far as anyone knows, the
        # meeting takes place at its told time, which the plan should keep.
        if meeting.state in KEEPABLE and told is not None and told in slot_of:
            published[pair] = (slot_of[told], meeting.published_table or 0)
    return Problem(
        slot_times=tuple((slot.start, slot.end) for slot in slots),
        sessions=tuple(slot.session for slot in slots),
        wishes=tuple(wishes),
        company_slots={c.id: frozenset(brokerage.company_slots(c.id)) for c in event.companies},
        company_max={c.id: brokerage.company_limit(c.id) for c in event.companies},
        person_max=brokerage.participant_max,
        seats={c.id: c.table if c.table is not None else (0 if c.room else None)
               for c in event.companies},
        free_tables=brokerage.free_tables,
        forbidden=frozenset(forbidden), refused=tuple(refused), published=published,
        current=current,
        company_windows={company: tuple((w.start, w.end) for w in terms.available)
                         for company, terms in brokerage.companies.items()
                         if terms.available is not None})


def _combine(order: list[int], answered: dict[int, dict[str, int]], said: dict[Pair, Choice],
             companies: set[str]) -> tuple[list[Wish], set[Pair], list[Refusal]]:
    """Merge the answers with the organiser's and the companies' say, person by person."""
    wishes: list[Wish] = []
    forbidden: set[Pair] = set()
    refused: list[Refusal] = []
    taking = set(order)
    for (person, company), say in said.items():
        if person not in taking and say.organiser in ("wish", "must"):
            refused.append(Refusal(person, company, NOT_TAKING_PART))
    for person in order:
        wanted = dict(answered[person])
        own = {company: c for (p, company), c in said.items() if p == person}
        for company in own:
            if company not in wanted and company in companies:
                wanted[company] = 0
        for company, weight in wanted.items():
            choice = own.get(company)
            organiser = choice.organiser if choice else None
            host = choice.host if choice else None
            if choice is not None and choice.priority is not None:
                weight = choice.priority
            if organiser == "never":
                forbidden.add((person, company))
                if weight or host == "request":
                    refused.append(Refusal(person, company, FORBIDDEN))
                continue
            if organiser == "remove":
                continue
            if organiser == "wish" or host == "request":
                weight = max(weight, 1)
            if host == "decline" and organiser != "must":
                if weight:
                    refused.append(Refusal(person, company, DECLINED))
                continue
            if weight or organiser == "must":
                wishes.append(Wish(person, company, weight, must=organiser == "must"))
    return wishes, forbidden, refused

