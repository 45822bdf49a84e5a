"""Check a finished plan against the rules, independently of the code that made it.

Written apart from `model`, `greedy` and `seating` and sharing no helper with them: it
reads the plan as stored (times and tables, not slot numbers or solver variables) and
the problem's plain facts, and checks each rule in the most direct way, by times. Every
plan of the tests and benchmarks goes through it, and `invite meetings plan` refuses to
store a plan it rejects.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime
from itertools import pairwise

from mailer.planner.problem import Problem
from rsvp.meetings import Placement


def plan_problems(problem: Problem, placements: Iterable[Placement]) -> list[str]:
    """Return every broken rule, one line each; an empty list means the plan is valid."""
    meetings = list(placements)
    found: list[str] = []
    found += _times(problem, meetings)
    found += _pairs(problem, meetings)
    found += _overlaps("person", [(m.recipient_id, m) for m in meetings])
    found += _overlaps("company", [(m.company_id, m) for m in meetings])
    found += _limits(problem, meetings)
    found += _tables(problem, meetings)
    return found


def _name(m: Placement) -> str:
    return f"{m.recipient_id}/{m.company_id} at {m.starts_at.isoformat()}"


def _times(problem: Problem, meetings: list[Placement]) -> list[str]:
    found = []
    index = {times: i for i, times in enumerate(problem.slot_times)}
    for m in meetings:
        slot = index.get((m.starts_at, m.ends_at))
        if slot is None:
            found.append(f"{_name(m)}: not a slot of the sessions")
            continue
        windows = problem.company_windows.get(m.company_id)
        if windows is not None:  # by the times of event.toml, as the organiser wrote them
            available = any(start <= m.starts_at and m.ends_at <= end for start, end in windows)
        else:
            available = slot in problem.company_slots.get(m.company_id, frozenset())
        if not available:
            found.append(f"{_name(m)}: the company is not available then")
        if slot in problem.person_busy.get(m.recipient_id, frozenset()):
            found.append(f"{_name(m)}: the person is not available then")
    return found


def _pairs(problem: Problem, meetings: list[Placement]) -> list[str]:
    found = []
    counts = Counter((m.recipient_id, m.company_id) for m in meetings)
    found += [f"{p}/{c}: meets {n} times" for (p, c), n in counts.items() if n > 1]
    wanted = {(w.person, w.company) for w in problem.wishes}
    for m in meetings:
        pair = (m.recipient_id, m.company_id)
        if pair not in wanted:
            found.append(f"{_name(m)}: nobody asked for this meeting")
        if pair in problem.forbidden:
            found.append(f"{_name(m)}: this meeting is forbidden")
    for w in problem.wishes:
        if w.must and (w.person, w.company) not in counts:
            found.append(f"{w.person}/{w.company}: forced meeting missing")
    return found


def _overlaps(what: str, keyed: list[tuple[object, Placement]]) -> list[str]:
    by_key: dict[object, list[Placement]] = defaultdict(list)
    for key, m in keyed:
        by_key[key].append(m)
    found = []
    for key, items in by_key.items():
        items.sort(key=lambda m: m.starts_at)
        for a, b in pairwise(items):
            if b.starts_at < a.ends_at:
                found.append(f"{what} {key}: {_name(a)} and {_name(b)} overlap")
    return found


def _limits(problem: Problem, meetings: list[Placement]) -> list[str]:
    found = []
    people = Counter(m.recipient_id for m in meetings)
    if problem.person_max is not None:
        found += [f"person {p}: {n} meetings, more than {problem.person_max}"
                  for p, n in people.items() if n > problem.person_max]
    for company, n in Counter(m.company_id for m in meetings).items():
        limit = problem.company_max.get(company)
        if limit is not None and n > limit:
            found.append(f"company {company}: {n} meetings, more than {limit}")
    return found


def _tables(problem: Problem, meetings: list[Placement]) -> list[str]:
    found = []
    at: dict[tuple[int, datetime], list[Placement]] = defaultdict(list)
    shared_at: Counter[datetime] = Counter()
    for m in meetings:
        own = problem.seats.get(m.company_id)
        if own is not None and m.table_no != own:
            found.append(f"{_name(m)}: at table {m.table_no}, not the company's place {own}")
        if own is None:
            shared_at[m.starts_at] += 1
            if m.table_no not in problem.free_tables:
                found.append(f"{_name(m)}: table {m.table_no} is not a shared table")
        if m.table_no != 0:
            at[m.table_no, m.starts_at].append(m)
    for (table, _), items in at.items():
        if len(items) > 1:
            found.append(f"table {table}: {', '.join(_name(m) for m in items)} at once")
    found += [f"{moment.isoformat()}: {n} meetings at {len(problem.free_tables)} shared tables"
              for moment, n in shared_at.items() if n > len(problem.free_tables)]
    return found
