"""The CP-SAT model of the hard rules and the first objective, and how it is run.

A boolean exists only for a wished pair in a slot both sides have free: 2,000 people x
400 companies are then some 250,000 booleans rather than 13 million. The later
objectives (mailer.planner.fairness) and the re-slotting (mailer.planner.reslot) add to
a model built here; mailer.planner.model orders the solves.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from ortools.sat.python import cp_model

from mailer.planner.fairness import Hinter
from mailer.planner.problem import Pair, Problem, Schedule
from rsvp.errors import InviteError


class PlanError(InviteError):
    """The plan cannot be made: forced meetings that cannot all happen."""


@dataclass
class Built:
    model: cp_model.CpModel
    x: dict[tuple[Pair, int], cp_model.IntVar]
    first: cp_model.LinearExpr


def keep_kept(built: Built, problem: Problem, schedule: Schedule, bonus: int) -> None:
    """Hold each published meeting the first solve kept in its slot: the later solves
    weigh fairness and idle slots only, and a plan as good by the first objective that
    moves a told meeting (its bonus traded for other wishes) must not win on those."""
    if not bonus:
        return
    for pair, slot in schedule.items():
        told = problem.published.get(pair)
        if told is not None and told[0] == slot and (pair, slot) in built.x:
            built.model.add(built.x[pair, slot] == 1)


def run(built: Built, hint: Schedule, hinters: list[Hinter], seconds: float, workers: int,
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
    solver = new_solver(max(seconds, 0.2), workers)
    solver.parameters.cp_model_presolve = presolve
    return solver, solver.solve(built.model)


def new_solver(seconds: float, workers: int) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = seconds
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = 7
    return solver


def build(problem: Problem, bonus: int) -> Built:
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
    return Built(model, x, first)


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


def schedule_of(solver: cp_model.CpSolver, built: Built) -> Schedule:
    return {pair: slot for (pair, slot), var in built.x.items() if solver.boolean_value(var)}


def value_of(problem: Problem, schedule: Schedule, bonus: int, anywhere: bool = False) -> float:
    """The first objective of `schedule`; `anywhere`: count every published pair as kept."""
    value = 0
    for wish in problem.wishes:
        pair = (wish.person, wish.company)
        if pair in schedule:
            told = problem.published.get(pair)
            kept = told is not None and (anywhere or told[0] == schedule[pair])
            value += wish.weight + (bonus if kept else 0)
    return float(value)
