"""The later objectives of the plan: share the meetings fairly, then leave few idle slots.

Fairness is a sum of one concave utility per person: the k-th meeting of anyone is
worth `most - k + 1`, where `most` is the largest number of meetings one person can
get. So a first meeting for someone who has none beats a second for anyone, which is
"the worst served get as many as possible before anyone gets more than their share".
The utility is bounded by its tangents (linear constraints), not built from booleans.

Idle slots: per person and session, the slots between their first and last meeting
in which they have none. Each function returns its expression and a way to hint its
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
    """Return the people's idle slots between meetings (per session) and its hinter."""
    grouped: dict[tuple[int, int], dict[int, list[cp_model.IntVar]]] = defaultdict(
        lambda: defaultdict(list))
    for ((person, _), slot), var in x.items():
        grouped[person, problem.sessions[slot]][slot].append(var)
    helpers: list[tuple[tuple[int, int], cp_model.IntVar, cp_model.IntVar, cp_model.IntVar,
                        cp_model.IntVar, dict[int, cp_model.IntVar]]] = []
    for key, slots in grouped.items():
        if len(slots) < 3:
            continue  # two slots cannot leave a gap between them
        low, high = min(slots), max(slots)
        first = model.new_int_var(low, high, "")
        last = model.new_int_var(low, high, "")
        busy: dict[int, cp_model.IntVar] = {}
        for slot, here in slots.items():
            busy[slot] = model.new_bool_var("")
            model.add(busy[slot] == sum(here))
            model.add(first <= slot).only_enforce_if(busy[slot])
            model.add(last >= slot).only_enforce_if(busy[slot])
        idle = model.new_int_var(0, high - low, "")
        meets = model.new_bool_var("")
        model.add_max_equality(meets, list(busy.values()))
        model.add(idle >= last - first + 1 - sum(busy.values())).only_enforce_if(meets)
        helpers.append((key, first, last, idle, meets, busy))

    def hint(schedule: Schedule) -> None:
        taken: dict[tuple[int, int], set[int]] = defaultdict(set)
        for (person, _), slot in schedule.items():
            taken[person, problem.sessions[slot]].add(slot)
        for key, first, last, idle, meets, busy in helpers:
            mine = taken.get(key, set())
            if mine:
                model.add_hint(first, min(mine))
                model.add_hint(last, max(mine))
            model.add_hint(meets, bool(mine))
            model.add_hint(idle, max(mine) - min(mine) + 1 - len(mine) if mine else 0)
            for slot, var in busy.items():
                model.add_hint(var, slot in mine)

    return sum(helper[3] for helper in helpers), hint
