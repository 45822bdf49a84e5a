"""Say what a plan reached: wishes met of wishes made, per person and per company, and
for each wish not met the likeliest reason.

Reasons, checked in this order: the company declined or the organiser forbade it; the
company is not available when the person is; the company is full (at its maximum,
or busy in every slot it has); the person is at their maximum; else a conflict (the
slots the company had left were taken in the person's own timetable, or no table was
free).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from mailer.planner.problem import Pair, Problem, Schedule
from mailer.planner.wishes import NOT_TAKING_PART

NOT_AVAILABLE = "not available"
COMPANY_FULL = "company full"
PERSON_FULL = "at the participant maximum"
CONFLICT = "conflict"


@dataclass(frozen=True)
class Tally:
    """Wishes made and met of one person or company (`weight`: summed priorities)."""

    made: int
    met: int
    weight_made: int
    weight_met: int


@dataclass(frozen=True)
class Summary:
    """What the plan reached, for the organiser and the run log."""

    made: int
    met: int
    weight_made: int
    weight_met: int
    people: dict[int, Tally]
    companies: dict[str, Tally]
    missed: dict[int, list[tuple[str, str]]]  # person -> [(company, reason)]


def summarise(problem: Problem, schedule: Schedule) -> Summary:
    """Count wishes made and met, and give each unmet wish its reason."""
    person_made: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    company_made: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    missed: dict[int, list[tuple[str, str]]] = defaultdict(list)
    booked = Counter(company for _, company in schedule)
    company_used: dict[str, set[int]] = defaultdict(set)
    person_used: dict[int, set[int]] = defaultdict(set)
    for (person, company), slot in schedule.items():
        company_used[company].add(slot)
        person_used[person].add(slot)
    for wish in problem.wishes:
        if wish.weight == 0:
            continue
        pair = (wish.person, wish.company)
        met = pair in schedule
        for tally in (person_made[wish.person], company_made[wish.company]):
            tally[0] += 1
            tally[1] += met
            tally[2] += wish.weight
            tally[3] += wish.weight if met else 0
        if not met:
            missed[wish.person].append(
                (wish.company, _reason(problem, pair, booked, company_used, person_used)))
    for refusal in problem.refused:
        if refusal.reason == NOT_TAKING_PART:
            continue
        person_made[refusal.person][0] += 1
        person_made[refusal.person][2] += 1
        company_made[refusal.company][0] += 1
        company_made[refusal.company][2] += 1
        missed[refusal.person].append((refusal.company, refusal.reason))
    people = {p: Tally(*t) for p, t in person_made.items()}
    companies = {c: Tally(*t) for c, t in company_made.items()}
    return Summary(made=sum(t.made for t in people.values()),
                   met=sum(t.met for t in people.values()),
                   weight_made=sum(t.weight_made for t in people.values()),
                   weight_met=sum(t.weight_met for t in people.values()),
                   people=people, companies=companies, missed=dict(missed))


def _reason(problem: Problem, pair: Pair, booked: Counter[str],
            company_used: dict[str, set[int]], person_used: dict[int, set[int]]) -> str:
    person, company = pair
    free = problem.company_slots.get(company, frozenset()) - problem.person_busy.get(
        person, frozenset())
    if not free:
        return NOT_AVAILABLE
    limit = problem.company_max.get(company)
    if (limit is not None and booked[company] >= limit) or free <= company_used[company]:
        return COMPANY_FULL
    if problem.person_max is not None and len(person_used[person]) >= problem.person_max:
        return PERSON_FULL
    return CONFLICT
