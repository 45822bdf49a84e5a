"""Seat the planned meetings: a table number for each, once the slots are fixed.

A company with a table of its own sits there; one with a room of its own gets table 0
(its room); the others share the free tables. The plan never puts more shared meetings
in a slot than there are free tables, so seating is a matter of preference: a published
meeting keeps its table, a company keeps the table it had in the slot before (people
find it again), else the lowest free number.
"""

from __future__ import annotations

from collections import defaultdict

from mailer.planner.problem import Pair, Problem, Schedule


def seat(problem: Problem, schedule: Schedule) -> dict[Pair, int]:
    """Return each planned pair's table number (0: the company's own room)."""
    tables: dict[Pair, int] = {}
    shared: dict[int, list[Pair]] = defaultdict(list)
    for pair, slot in schedule.items():
        own = problem.seats.get(pair[1])
        if own is None:
            shared[slot].append(pair)
        else:
            tables[pair] = own
    last_table: dict[str, int] = {}
    for slot in sorted(shared):
        chosen = _seat_slot(problem, slot, shared[slot], last_table)
        last_table.update((company, table) for (_, company), table in chosen.items())
        tables.update(chosen)
    return tables


def _seat_slot(problem: Problem, slot: int, pairs: list[Pair],
               last_table: dict[str, int]) -> dict[Pair, int]:
    """Seat one slot's shared meetings: published table, then the company's last, then free."""
    free = list(problem.free_tables)
    chosen: dict[Pair, int] = {}
    ordered = sorted(pairs, key=lambda p: (p[1], p[0]))
    wanted = [{p: told[1] for p in ordered
               if (told := problem.published.get(p)) is not None and told[0] == slot},
              {p: last_table[p[1]] for p in ordered if p[1] in last_table}]
    for preference in wanted:
        for pair, table in preference.items():
            if table in free and pair not in chosen:
                free.remove(table)
                chosen[pair] = table
    for pair in ordered:
        if pair not in chosen:
            if not free:
                raise ValueError(f"slot {slot} holds more shared meetings than tables")
            chosen[pair] = free.pop(0)
    return chosen
