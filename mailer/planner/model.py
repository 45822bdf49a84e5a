"""Plan the meetings with Google OR-Tools' CP-SAT, in three solves, each keeping what
the one before reached (and every published meeting the first kept where it was).

1. Most wishes met, weighted by priority, plus for each published meeting kept in its
   slot a bonus larger than the largest single wish (so moving or dropping one costs
   more than any new wish gains, unless the plan is made `fresh`).
2. The fairest such plan: the largest sum of the people's concave utilities.
3. The fewest idle slots between a person's meetings.

Solves in turn rather than one objective with big factors: the first solve's bound is
the honest bound on the wishes, which is what the organiser is told, and each later
solve starts from the plan before it. A boolean exists only for a wished pair in a
slot both sides have free: 2,000 people x 400 companies are then some 250,000
booleans rather than 13 million.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, replace

from ortools.sat.python import cp_model

from mailer.planner.fairness import Hinter, add_idle, add_utility
from mailer.planner.greedy import greedy_plan
from mailer.planner.problem import Pair, Problem, Schedule
from mailer.planner.start import flow_pairs, flow_start
from rsvp.errors import InviteError

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


class PlanError(InviteError):
    """The plan cannot be made: forced meetings that cannot all happen."""


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


@dataclass
class _Model:
    model: cp_model.CpModel
    x: dict[tuple[Pair, int], cp_model.IntVar]
    first: cp_model.LinearExpr


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
    built = _build(problem, bonus)
    solver, found = _run(built, start, [], time_limit * FIRST_SHARE - (time.monotonic() - began),
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
    objective, schedule = _value_of(problem, start, bonus), start
    if solved and solver.objective_value >= objective:
        # Else presolve lost the hint (big events) and the start is still the best.
        objective, schedule = solver.objective_value, _schedule(solver, built)
    # Without a plan of its own (big events) the solver's bound is unknown; the flow's holds.
    bound = max(objective, min(solver.best_objective_bound if solved else flow_bound,
                               flow_bound))
    milestones = [time.monotonic() - began]
    status = ("optimal" if found == cp_model.OPTIMAL or objective >= bound
              else "feasible" if solved else "start")
    built.model.add(built.first >= round(objective))
    _keep_kept(built, problem, schedule, bonus)
    utility, hint_utility = add_utility(built.model, problem, built.x)
    built.model.maximize(utility)
    left = time_limit - (time.monotonic() - began)
    solver, found = _run(built, schedule, [hint_utility], left * 0.5, workers,
                         presolve=size <= SMALL)
    fair = found == cp_model.OPTIMAL
    milestones.append(time.monotonic() - began)
    idle_optimal = False
    if found in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        schedule = _schedule(solver, built)
        built.model.add(utility >= round(solver.objective_value))
        idle, hint_idle = add_idle(built.model, problem, built.x)
        built.model.minimize(idle)
        left = time_limit - (time.monotonic() - began)
        solver, found = _run(built, schedule, [hint_utility, hint_idle], left, workers,
                             presolve=size <= SMALL)
        if found in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            schedule = _schedule(solver, built)
        idle_optimal = found == cp_model.OPTIMAL
        milestones.append(time.monotonic() - began)
    return Outcome(schedule, status, objective, bound, fair, time.monotonic() - began,
                   idle_optimal, tuple(milestones))


def _keep_kept(built: _Model, problem: Problem, schedule: Schedule, bonus: int) -> None:
    """Hold each published meeting the first solve kept in its slot: the later solves
    weigh fairness and idle slots only, and a plan as good by the first objective that
    moves a told meeting (its bonus traded for other wishes) must not win on those."""
    if not bonus:
        return
    for pair, slot in schedule.items():
        told = problem.published.get(pair)
        if told is not None and told[0] == slot and (pair, slot) in built.x:
            built.model.add(built.x[pair, slot] == 1)


def _better_start(problem: Problem, start: Schedule, bonus: int, seconds: float,
                  workers: int) -> tuple[Schedule, float]:
    """Return the better of `start` and the flow's plan (its pairs seated by a short solve
    of just those pairs, then topped up first-come), and the flow's value: a bound on
    the first objective that CP-SAT may not reach on big events within the time."""
    chosen = flow_pairs(problem, bonus)
    flow_bound = _value_of(problem, dict.fromkeys(chosen, -1), bonus, anywhere=True)
    seated = flow_start(problem, chosen)
    if len(seated) < len(chosen):
        wanted = set(chosen)
        sub = replace(problem, wishes=tuple(w for w in problem.wishes
                                            if (w.person, w.company) in wanted))
        built = _build(sub, bonus)
        solver, found = _run(built, seated, [], seconds, workers)
        if found in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            seated = _schedule(solver, built)
    filled = greedy_plan(problem, seed=seated)
    return max((start, filled), key=lambda plan: _value_of(problem, plan, bonus)), flow_bound


def _run(built: _Model, hint: Schedule, hinters: list[Hinter], seconds: float, workers: int,
         presolve: bool = True) -> tuple[cp_model.CpSolver, cp_model.CpSolverStatus]:
    """Solve the model as it stands now, starting from `hint`; returns the solver and status.

    Without presolve the later solves start from the hint at once: presolve's symmetry
    breaking would throw it away, and on 15,000 booleans it takes seconds of its own. On
    small events (SMALL) it costs milliseconds and shortens the proofs, so it stays on.
    """
    built.model.clear_hints()
    for (pair, slot), var in built.x.items():
        built.model.add_hint(var, hint.get(pair) == slot)
    for hinter in hinters:
        hinter(hint)
    solver = _solver(max(seconds, 0.2), workers)
    solver.parameters.cp_model_presolve = presolve
    return solver, solver.solve(built.model)


def _solver(seconds: float, workers: int) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = seconds
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = 7
    return solver


def _build(problem: Problem, bonus: int) -> _Model:
    model = cp_model.CpModel()
    x: dict[tuple[Pair, int], cp_model.IntVar] = {}
    by_pair: dict[Pair, list[cp_model.IntVar]] = defaultdict(list)
    by_person_slot: dict[tuple[int, int], list[cp_model.IntVar]] = defaultdict(list)
    by_company_slot: dict[tuple[str, int], list[cp_model.IntVar]] = defaultdict(list)
    shared_slot: dict[int, list[cp_model.IntVar]] = defaultdict(list)
    terms: list[tuple[cp_model.IntVar, int]] = []
    for wish in problem.wishes:
        pair = (wish.person, wish.company)
        if pair in problem.forbidden or pair in by_pair:
            continue
        busy = problem.person_busy.get(wish.person, frozenset())
        slots = sorted(problem.company_slots.get(wish.company, frozenset()) - busy)
        if wish.must and not slots:
            raise PlanError(f"the forced meeting of person {wish.person} with "
                            f"{wish.company!r} has no slot both have free",
                            hint="Check the company's availability in [brokerage.companies].")
        told = problem.published.get(pair)
        for slot in slots:
            var = model.new_bool_var(f"x{wish.person}_{wish.company}_{slot}")
            x[pair, slot] = var
            by_pair[pair].append(var)
            by_person_slot[wish.person, slot].append(var)
            by_company_slot[wish.company, slot].append(var)
            if problem.seats.get(wish.company) is None:
                shared_slot[slot].append(var)
            weight = wish.weight + (bonus if told is not None and told[0] == slot else 0)
            if weight:
                terms.append((var, weight))
        if not slots:
            continue
        if wish.must:
            model.add_exactly_one(by_pair[pair])
        else:
            model.add_at_most_one(by_pair[pair])
    for group in (*by_person_slot.values(), *by_company_slot.values()):
        if len(group) > 1:
            model.add_at_most_one(group)
    _limits(model, problem, x)
    capacity = len(problem.free_tables)
    for group in shared_slot.values():
        if len(group) > capacity:
            model.add(sum(group) <= capacity)
    first = cp_model.LinearExpr.weighted_sum([v for v, _ in terms], [w for _, w in terms])
    model.maximize(first)
    return _Model(model, x, first)


def _limits(model: cp_model.CpModel, problem: Problem,
            x: dict[tuple[Pair, int], cp_model.IntVar]) -> None:
    per_person: dict[int, list[cp_model.IntVar]] = defaultdict(list)
    per_company: dict[str, list[cp_model.IntVar]] = defaultdict(list)
    for ((person, company), _), var in x.items():
        per_person[person].append(var)
        per_company[company].append(var)
    if problem.person_max is not None:
        for group in per_person.values():
            if len(group) > problem.person_max:
                model.add(sum(group) <= problem.person_max)
    for company, group in per_company.items():
        limit = problem.company_max.get(company)
        if limit is not None and len(group) > limit:
            model.add(sum(group) <= limit)


def _schedule(solver: cp_model.CpSolver, built: _Model) -> Schedule:
    return {pair: slot for (pair, slot), var in built.x.items() if solver.boolean_value(var)}


def _value_of(problem: Problem, schedule: Schedule, bonus: int, anywhere: bool = False) -> float:
    """The first objective of `schedule`; `anywhere`: count every published pair as kept."""
    value = 0
    for wish in problem.wishes:
        pair = (wish.person, wish.company)
        if pair in schedule:
            told = problem.published.get(pair)
            kept = told is not None and (anywhere or told[0] == schedule[pair])
            value += wish.weight + (bonus if kept else 0)
    return float(value)
