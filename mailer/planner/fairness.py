"""The later objectives of the plan: share the meetings fairly, then leave few idle slots.

Fairness is a sum of one concave utility per person: the k-th meeting of anyone is
worth `most - k + 1`, where `most` is the largest number of meetings one person can
get. So a first meeting for someone who has none beats a second for anyone, which is
"the worst served get as many as possible before anyone gets more than their share".
The utility is bounded by its tangents (linear constraints), not built from booleans.

Idle slots: per person and session, the slots between their first and last meeting
in which they have none, counted with running ORs ("met before", "meets after"). Each function returns its expression and a way to hint its
helper variables from a schedule, so that every solve starts from a complete plan.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from ortools.sat.python import cp_model

from mailer.planner.problem import Pair, Problem, Schedule

Variables = dict[tuple[Pair, int], cp_model.IntVar]
Hinter = Callable[[Schedule], None]


def add_utility(model: cp_model.CpModel, problem: Problem,
                x: Variables) -> tuple[cp_model.LinearExprT, Hinter]:
    """Return the sum of the people's concave utilities and its hinter."""
    per_person: dict[int, list[cp_model.IntVar]] = defaultdict(list)
    slots: dict[int, set[int]] = defaultdict(set)
    for ((person, _), slot), var in x.items():
        per_person[person].append(var)
        slots[person].add(slot)
    cap = problem.person_max
    reach = {person: min(len(group), len(slots[person]), cap if cap is not None else len(group))
             for person, group in per_person.items()}
    most = max(reach.values(), default=0)
    utilities: dict[int, cp_model.IntVar] = {}
    for person, group in per_person.items():
        top = reach[person]
        if top == 0:
            continue
        utility = model.new_int_var(0, _worth(most, top), f"u{person}")
        count = sum(group)
        for k in range(top):
            # The tangent through (k, worth(k)) with the (k+1)-th meeting's marginal value.
            model.add(utility <= _worth(most, k) + (most - k) * (count - k))
        utilities[person] = utility

    def hint(schedule: Schedule) -> None:
        counts: dict[int, int] = defaultdict(int)
        for person, _ in schedule:
            counts[person] += 1
        for person, utility in utilities.items():
            model.add_hint(utility, _worth(most, min(counts[person], reach[person])))

    return sum(utilities.values()), hint


def _worth(most: int, k: int) -> int:
    """The utility of k meetings: most + (most - 1) + ... (k terms)."""
    return k * most - k * (k - 1) // 2


def add_idle(model: cp_model.CpModel, problem: Problem,
             x: Variables) -> tuple[cp_model.LinearExprT, Hinter]:
    """Return the people's idle slots between meetings (per session) and its hinter.

    A slot is idle for a person when they meet before it and after it in the session but
    not in it. "Met before" and "meets after" are running ORs (prefix and suffix), so
    the count is linear in booleans with a tight relaxation: the solver proves the fewest
    idle slots quickly instead of searching first/last positions.
    """
    grouped: dict[tuple[int, int], dict[int, list[cp_model.IntVar]]] = defaultdict(
        lambda: defaultdict(list))
    for ((person, _), slot), var in x.items():
        grouped[person, problem.sessions[slot]][slot].append(var)
    helpers: list[tuple[tuple[int, int], list[int], dict[int, cp_model.IntVar],
                        dict[int, cp_model.IntVar], dict[int, cp_model.IntVar],
                        dict[int, cp_model.IntVar]]] = []
    terms: list[cp_model.IntVar] = []
    for key, slots in grouped.items():
        if len(slots) < 2:
            continue  # one slot cannot leave a gap
        span = list(range(min(slots), max(slots) + 1))
        busy: dict[int, cp_model.IntVar] = {}
        for slot in span:
            busy[slot] = model.new_bool_var("")
            model.add(busy[slot] == sum(slots.get(slot, [])))
        before: dict[int, cp_model.IntVar] = {}
        after: dict[int, cp_model.IntVar] = {}
        idle: dict[int, cp_model.IntVar] = {}
        for index, slot in enumerate(span):
            before[slot] = model.new_bool_var("")
            model.add(before[slot] >= busy[slot])
            if index:
                model.add(before[slot] >= before[span[index - 1]])
        for index in range(len(span) - 1, -1, -1):
            slot = span[index]
            after[slot] = model.new_bool_var("")
            model.add(after[slot] >= busy[slot])
            if index < len(span) - 1:
                model.add(after[slot] >= after[span[index + 1]])
        for slot in span[1:-1]:
            idle[slot] = model.new_bool_var("")
            model.add(idle[slot] >= before[slot] + after[slot] - 1 - busy[slot])
            terms.append(idle[slot])
        helpers.append((key, span, busy, before, after, idle))

    def hint(schedule: Schedule) -> None:
        taken: dict[tuple[int, int], set[int]] = defaultdict(set)
        for (person, _), slot in schedule.items():
            taken[person, problem.sessions[slot]].add(slot)
        for key, span, busy, before, after, idle in helpers:
            mine = taken.get(key, set())
            low, high = (min(mine), max(mine)) if mine else (span[-1] + 1, span[0] - 1)
            for slot in span:
                model.add_hint(busy[slot], slot in mine)
                model.add_hint(before[slot], slot >= low)
                model.add_hint(after[slot], slot <= high)
                if slot in idle:
                    model.add_hint(idle[slot], low < slot < high and slot not in mine)

    return sum(terms), hint
