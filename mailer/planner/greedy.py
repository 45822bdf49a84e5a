"""The first-come-first-served baseline: each person in answer order takes the earliest
free slot for each wish. What a spreadsheet and a patient organiser would do; the
benchmarks compare the solver with it, and the solver starts from it on big events.
"""

from __future__ import annotations

from collections import defaultdict

from mailer.planner.problem import Problem, Schedule


def greedy_plan(problem: Problem, seed: Schedule | None = None) -> Schedule:
    """Plan forced meetings first, then every wish in answer order, highest priority
    first within a person, each in the earliest slot everyone involved has free.

    With `seed` (a plan as it stands), its meetings that still fit keep their slot first:
    the result is then a valid start for the solver that moves little.
    """
    person_busy: dict[int, set[int]] = defaultdict(set)
    company_busy: dict[str, set[int]] = defaultdict(set)
    person_count: dict[int, int] = defaultdict(int)
    company_count: dict[str, int] = defaultdict(int)
    shared_used = [0] * problem.slots
    shared_cap = len(problem.free_tables)
    plan: Schedule = {}
    rank = {person: index for index, person in enumerate(problem.people)}
    ordered = sorted(problem.wishes, key=lambda w: (not w.must, rank[w.person], -w.weight))
    seed = seed or {}
    # Seeded meetings come first, once at their own slot; a seeded one that does not fit
    # there comes round again with the rest.
    pending = {(w.person, w.company) for w in ordered if (w.person, w.company) in seed}
    seeded = [w for w in ordered if (w.person, w.company) in pending]
    for wish in [*seeded, *ordered]:
        pair = (wish.person, wish.company)
        if pair in plan or pair in problem.forbidden or wish.company not in problem.company_slots:
            continue
        limit = problem.company_max.get(wish.company)
        if problem.person_max is not None and person_count[wish.person] >= problem.person_max:
            continue
        if limit is not None and company_count[wish.company] >= limit:
            continue
        shared = problem.seats.get(wish.company) is None
        blocked = problem.person_busy.get(wish.person, frozenset())
        slots = sorted(problem.company_slots[wish.company])
        if pair in pending:
            pending.discard(pair)
            slots = [seed[pair]] if seed[pair] in problem.company_slots[wish.company] else []
        for slot in slots:
            if (slot in person_busy[wish.person] or slot in company_busy[wish.company]
                    or slot in blocked or (shared and shared_used[slot] >= shared_cap)):
                continue
            plan[pair] = slot
            person_busy[wish.person].add(slot)
            company_busy[wish.company].add(slot)
            person_count[wish.person] += 1
            company_count[wish.company] += 1
            if shared:
                shared_used[slot] += 1
            break
    return plan
