"""A strong first plan for the solver: which pairs meet by a min-cost flow, then when.

Leaving the times aside, choosing the meetings is a weighted b-matching (each person
and company up to its limit and its number of slots), which a min-cost flow solves
exactly and at once even for 2,000 x 400. Seating those pairs in slots is then a
colouring: most constrained first, with one repair step (move the person's other
meeting) when no slot is free. CP-SAT starts from the result: on big events it reaches
good plans within seconds from there, where from first-come alone it may not.
"""

from __future__ import annotations

from collections import defaultdict

from ortools.graph.python import min_cost_flow

from mailer.planner.problem import Pair, Problem, Schedule

# A forced meeting outweighs any number of wishes in the flow.
FORCED = 1_000_000


def flow_pairs(problem: Problem, bonus: int) -> list[Pair]:
    """Return the pairs of a maximum-weight choice of meetings, ignoring the times."""
    wishes = [w for w in problem.wishes if (w.person, w.company) not in problem.forbidden
              and problem.company_slots.get(w.company)]
    people = sorted({w.person for w in wishes})
    companies = sorted({w.company for w in wishes})
    node: dict[tuple[str, int | str], int] = {("p", p): i + 2 for i, p in enumerate(people)}
    node.update({("c", c): len(people) + i + 2 for i, c in enumerate(companies)})
    source, sink = 0, 1
    flow = min_cost_flow.SimpleMinCostFlow()
    total = 0
    for person in people:
        cap = problem.slots if problem.person_max is None else min(problem.slots,
                                                                      problem.person_max)
        flow.add_arc_with_capacity_and_unit_cost(source, node["p", person], cap, 0)
        total += cap
    arcs: dict[int, Pair] = {}
    for wish in wishes:
        pair = (wish.person, wish.company)
        value = wish.weight + (FORCED if wish.must else 0)
        value += bonus if pair in problem.published else 0
        arc = flow.add_arc_with_capacity_and_unit_cost(node["p", wish.person],
                                                       node["c", wish.company], 1, -value)
        arcs[arc] = pair
    # Companies at shared tables pass through one node: no more meetings than tables x slots.
    tables = len(node) + 2
    flow.add_arc_with_capacity_and_unit_cost(tables, sink,
                                             len(problem.free_tables) * problem.slots, 0)
    for company in companies:
        cap = len(problem.company_slots[company])
        limit = problem.company_max.get(company)
        flow.add_arc_with_capacity_and_unit_cost(
            node["c", company], tables if problem.seats.get(company) is None else sink,
            cap if limit is None else min(cap, limit), 0)
    # Whatever supply finds no worthwhile meeting goes straight to the sink, at no cost.
    flow.add_arc_with_capacity_and_unit_cost(source, sink, total, 0)
    flow.set_node_supply(source, total)
    flow.set_node_supply(sink, -total)
    if flow.solve() != flow.OPTIMAL:
        return []
    return [pair for arc, pair in arcs.items() if flow.flow(arc) > 0]


def flow_start(problem: Problem, chosen: list[Pair]) -> Schedule:
    """Return a valid plan of the chosen pairs in slots (some may be left out)."""
    person_at: dict[tuple[int, int], str] = {}
    company_busy: dict[str, set[int]] = defaultdict(set)
    shared_used: dict[int, int] = defaultdict(int)
    capacity = len(problem.free_tables)
    plan: Schedule = {}

    def free(pair: Pair, slot: int, person_too: bool = True) -> bool:
        person, company = pair
        shared = problem.seats.get(company) is None
        return (slot not in company_busy[company]
                and slot not in problem.person_busy.get(person, frozenset())
                and (not person_too or (person, slot) not in person_at)
                and (not shared or shared_used[slot] < capacity))

    def put(pair: Pair, slot: int) -> None:
        plan[pair] = slot
        person_at[pair[0], slot] = pair[1]
        company_busy[pair[1]].add(slot)
        shared_used[slot] += problem.seats.get(pair[1]) is None

    def take(pair: Pair) -> None:
        slot = plan.pop(pair)
        del person_at[pair[0], slot]
        company_busy[pair[1]].discard(slot)
        shared_used[slot] -= problem.seats.get(pair[1]) is None

    def options(pair: Pair) -> list[int]:
        told = problem.published.get(pair)
        slots = sorted(problem.company_slots[pair[1]])
        return ([told[0]] if told and told[0] in slots else []) + slots

    for pair in sorted(chosen, key=lambda p: (p not in problem.published,
                                              len(problem.company_slots[p[1]]), p)):
        slot = next((s for s in options(pair) if free(pair, s)), None)
        if slot is not None:
            put(pair, slot)
            continue
        # Repair: a slot the company has free where the person meets someone else who
        # could move to another slot.
        for slot in options(pair):
            other = person_at.get((pair[0], slot))
            if other is None or not free(pair, slot, person_too=False):
                continue
            moving = (pair[0], other)
            take(moving)
            elsewhere = next((s for s in options(moving) if s != slot and free(moving, s)), None)
            if elsewhere is None:
                put(moving, slot)
                continue
            put(moving, elsewhere)
            put(pair, slot)
            break
    return plan
