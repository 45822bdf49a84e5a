"""Plan the meetings with Google OR-Tools' CP-SAT, in three solves, each keeping what
the one before reached (and every published meeting the first kept where it was).

1. Most wishes met, weighted by priority, plus for each published meeting kept in its
   slot a bonus larger than the largest single wish (so moving or dropping one costs
   more than any new wish gains, unless the plan is made `fresh`).
2. The fairest such plan: the largest sum of the people's concave utilities.
3. The fewest idle slots between a person's meetings.

Solves in turn rather than one objective with big factors: the first solve's bound is
the honest bound on the wishes, which is what the organiser is told, and each later
solve starts from the plan before it. On small events the third solve starts from the
fair plan re-slotted (mailer.planner.reslot), and is skipped when that leaves no idle
slot: zero is then proven the fewest. The model itself is mailer.planner.cpsat.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from ortools.sat.python import cp_model

from mailer.planner.cpsat import PlanError, build, keep_kept, run, schedule_of, value_of
from mailer.planner.fairness import add_idle, add_utility
from mailer.planner.greedy import greedy_plan
from mailer.planner.problem import Problem, Schedule
from mailer.planner.reslot import reslot
from mailer.planner.start import flow_pairs, flow_start

__all__ = ["Outcome", "PlanError", "keep_bonus", "solve"]

# Shares of the time limit: finding a good start may take the first fifth, the start and
# the first solve together three quarters; fairness gets half of the rest, idle slots
# the other half. Above BIG booleans the whole model's presolve alone takes many seconds
# and gains little, while the solve of the flow's pairs keeps gaining (measured on
# 2,000 x 400: 0.7 % from the bound after 9 s, 0.3 % after 22 s): it gets half then.
START_SHARE = 0.2
BIG_START_SHARE = 0.5
BIG = 100_000
# Up to this many (pair, slot) choices the later solves presolve as well: cheap there,
# and it lets CP-SAT prove the fewest idle slots far sooner.
SMALL = 5_000
FIRST_SHARE = 0.75


@dataclass(frozen=True)
class Outcome:
    """A schedule and what the solver knows about it."""

    schedule: Schedule
    # "optimal", "feasible", or "start": the whole model found no plan in time, and the
    # plan is the start (the flow's pairs seated, topped up first-come).
    status: str
    objective: float  # first solve: weighted wishes + kept published meetings' bonus
    bound: float  # the solver's upper bound on `objective`
    fairness_optimal: bool
    seconds: float
    idle_optimal: bool = False
    # When each solve ended, counted from the start (wishes, fairness, idle slots).
    milestones: tuple[float, ...] = ()

    @property
    def gap(self) -> float:
        """How far the plan may be from the best, as a share of the bound (0: proven)."""
        return 0.0 if self.bound <= 0 else max(0.0, (self.bound - self.objective) / self.bound)


def keep_bonus(problem: Problem, fresh: bool) -> int:
    """What keeping one published meeting in its slot is worth: more than any wish."""
    return 0 if fresh else max((w.weight for w in problem.wishes), default=0) + 1


def solve(problem: Problem, start: Schedule, time_limit: float = 20.0, workers: int = 2,
          fresh: bool = False) -> Outcome:
    """Return the best plan found within about `time_limit` seconds; `start` (a valid
    plan, e.g. the greedy one) is the first hint and the answer if nothing better is found."""
    began = time.monotonic()
    bonus = keep_bonus(problem, fresh)
    size = sum(len(problem.company_slots.get(w.company, ())) for w in problem.wishes)
    share = BIG_START_SHARE if size > BIG else START_SHARE
    start, flow_bound = _better_start(problem, start, bonus, time_limit * share, workers)
    built = build(problem, bonus)
    solver, found = run(built, start, [], time_limit * FIRST_SHARE - (time.monotonic() - began),
                         workers)
    if found == cp_model.INFEASIBLE:
        raise PlanError("the forced meetings (--must) cannot all be planned together",
                        hint="Check them with `invite meetings show`; remove one with "
                             "`invite meetings wish EMAIL COMPANY --remove`.")
    solved = found in (cp_model.OPTIMAL, cp_model.FEASIBLE)
    if not solved and any(w.must and (w.person, w.company) not in start
                          for w in problem.wishes):
        raise PlanError("the forced meetings (--must) could not be placed within the "
                        "time limit", hint="Try a longer --time-limit.")
    objective, schedule = value_of(problem, start, bonus), start
    if solved and solver.objective_value >= objective:
        # Else presolve lost the hint (big events) and the start is still the best.
        objective, schedule = solver.objective_value, schedule_of(solver, built)
    # Without a plan of its own (big events) the solver's bound is unknown; the flow's holds.
    bound = max(objective, min(solver.best_objective_bound if solved else flow_bound,
                               flow_bound))
    milestones = [time.monotonic() - began]
    status = ("optimal" if found == cp_model.OPTIMAL or objective >= bound
              else "feasible" if solved else "start")
    built.model.add(built.first >= round(objective))
    keep_kept(built, problem, schedule, bonus)
    utility, hint_utility = add_utility(built.model, problem, built.x)
    built.model.maximize(utility)
    left = time_limit - (time.monotonic() - began)
    solver, found = run(built, schedule, [hint_utility], left * 0.5, workers,
                         presolve=size <= SMALL)
    fair = found == cp_model.OPTIMAL
    milestones.append(time.monotonic() - began)
    idle_optimal = False
    if found in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        schedule = schedule_of(solver, built)
        built.model.add(utility >= round(solver.objective_value))
        idle_left = None
        if size <= SMALL:
            left = time_limit - (time.monotonic() - began)
            schedule, idle_left = reslot(problem, schedule, bonus, left * 0.5, workers)
        if idle_left == 0:
            idle_optimal = True  # no plan has fewer than none
        else:
            idle, hint_idle = add_idle(built.model, problem, built.x)
            built.model.minimize(idle)
            left = time_limit - (time.monotonic() - began)
            solver, found = run(built, schedule, [hint_utility, hint_idle], left, workers,
                                presolve=size <= SMALL)
            if found in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                schedule = schedule_of(solver, built)
            idle_optimal = found == cp_model.OPTIMAL
        milestones.append(time.monotonic() - began)
    return Outcome(schedule, status, objective, bound, fair, time.monotonic() - began,
                   idle_optimal, tuple(milestones))


def _better_start(problem: Problem, start: Schedule, bonus: int, seconds: float,
                  workers: int) -> tuple[Schedule, float]:
    """Return the better of `start` and the flow's plan (its pairs seated by a short solve
    of just those pairs, then topped up first-come), and the flow's value: a bound on
    the first objective that CP-SAT may not reach on big events within the time."""
    chosen = flow_pairs(problem, bonus)
    flow_bound = value_of(problem, dict.fromkeys(chosen, -1), bonus, anywhere=True)
    seated = flow_start(problem, chosen)
    if len(seated) < len(chosen):
        wanted = set(chosen)
        sub = replace(problem, wishes=tuple(w for w in problem.wishes
                                            if (w.person, w.company) in wanted))
        built = build(sub, bonus)
        solver, found = run(built, seated, [], seconds, workers)
        if found in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            seated = schedule_of(solver, built)
    filled = greedy_plan(problem, seed=seated)
    return max((start, filled), key=lambda plan: value_of(problem, plan, bonus)), flow_bound


