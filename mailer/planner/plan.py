"""Make the brokerage plan and store it: gather, solve, seat, validate, save, log.

The one entry point of `invite meetings plan`. The plan as it stands seeds the greedy
start, so a re-plan starts from what people were told; `fresh` plans from scratch
without the bonus for keeping published meetings. A plan the validator rejects is a
bug and is never stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mailer.planner.greedy import greedy_plan
from mailer.planner.model import Outcome, PlanError, solve
from mailer.planner.problem import Problem
from mailer.planner.seating import seat
from mailer.planner.shortfall import Summary, summarise
from mailer.planner.validate import plan_problems
from mailer.planner.wishes import collect_problem
from rsvp.config import EventConfig
from rsvp.meeting_choices import record_run
from rsvp.meetings import Placement, PlanChange, save_plan
from rsvp.store import Store


@dataclass(frozen=True)
class PlanReport:
    """A plan made (and stored, unless dry): the solver's outcome, the counts, the changes."""

    problem: Problem
    outcome: Outcome
    summary: Summary
    placements: tuple[Placement, ...]
    change: PlanChange
    run_id: int | None


def placements_of(problem: Problem, outcome: Outcome) -> tuple[Placement, ...]:
    """Turn the solver's pairs and slots into meetings with times and tables."""
    tables = seat(problem, outcome.schedule)
    return tuple(Placement(person, company, *problem.slot_times[slot], tables[person, company])
                 for (person, company), slot in sorted(outcome.schedule.items()))


def make_plan(store: Store, event: EventConfig, time_limit: float = 20.0, fresh: bool = False,
              dry_run: bool = False, workers: int = 2, now: datetime | None = None) -> PlanReport:
    """Plan the meetings within `time_limit` seconds and store the plan (unless `dry_run`)."""
    problem = collect_problem(store, event)
    start = greedy_plan(problem, seed=None if fresh else dict(problem.current))
    outcome = solve(problem, start, time_limit=time_limit, workers=workers, fresh=fresh)
    placements = placements_of(problem, outcome)
    broken = plan_problems(problem, placements)
    if broken:
        raise PlanError(f"the plan breaks {len(broken)} rules, first: {broken[0]}; nothing "
                        "was stored", hint="This is a bug in invite; please report it.")
    summary = summarise(problem, outcome.schedule)
    change = save_plan(store, placements, now=now, dry_run=dry_run)
    run_id = None
    if not dry_run:
        run_id = record_run(
            store, outcome.status, summary.made, summary.met, outcome.objective,
            outcome.bound, outcome.seconds,
            {"weight_made": summary.weight_made, "weight_met": summary.weight_met,
             "gap": outcome.gap, "fairness_optimal": outcome.fairness_optimal,
             "idle_optimal": outcome.idle_optimal,
             "milestones": [round(moment, 3) for moment in outcome.milestones],
             "fresh": fresh, "time_limit": time_limit,
             "moved": len(change.moved), "cancelled": len(change.cancelled)}, now=now)
    return PlanReport(problem, outcome, summary, placements, change, run_id)
