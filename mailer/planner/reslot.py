"""Move the meetings of a plan to other slots, keeping who meets whom, for fewer idle slots.

The third solve (fewest idle slots among the plans as good by wishes and fairness) must
mostly find a plan, not prove one: once some plan leaves nobody idle, zero is also the
bound. Searching the whole model for it took seconds on the example's 20 x 8 event;
moving only the meetings fairness chose (every pair kept, each in exactly one of its
slots) is a model a tenth the size that CP-SAT solves in milliseconds. Wishes met and
fairness depend on the pairs alone (a published meeting kept in its slot stays there),
so a re-slotted plan is as good by both. If it leaves no idle slot it is optimal by all
three measures; otherwise it is the third solve's start.
"""

from __future__ import annotations

from dataclasses import replace

from ortools.sat.python import cp_model

from mailer.planner.cpsat import build, keep_kept, run, schedule_of
from mailer.planner.fairness import add_idle
from mailer.planner.problem import Problem, Schedule, Wish


def reslot(problem: Problem, schedule: Schedule, bonus: int, seconds: float,
           workers: int) -> tuple[Schedule, int | None]:
    """Return `schedule` with its meetings moved for the fewest idle slots the solver found
    within `seconds`, and that number (None: nothing found, `schedule` unchanged)."""
    weight = {(w.person, w.company): w.weight for w in problem.wishes}
    fixed = replace(problem, wishes=tuple(Wish(person, company, weight.get((person, company), 0),
                                               must=True)
                                          for person, company in schedule))
    built = build(fixed, bonus)
    keep_kept(built, fixed, schedule, bonus)
    idle, hint_idle = add_idle(built.model, fixed, built.x)
    built.model.minimize(idle)
    solver, found = run(built, schedule, [hint_idle], seconds, workers)
    if found not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return schedule, None
    return schedule_of(solver, built), round(solver.objective_value)
