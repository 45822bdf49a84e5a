"""Describe a plan run for the organiser: wishes met of wishes made, how sure the solver
is, what changed against the plan before, per company, and who got less and why.
"""

from __future__ import annotations

from collections.abc import Iterator

from mailer.planner.plan import PlanReport
from rsvp.config import EventConfig
from rsvp.store import Store
from rsvp.words import counted


def solver_line(report: PlanReport) -> str:
    """Say how good the plan is: proven optimal, or how far from the bound it may be."""
    outcome = report.outcome
    seconds = f"{outcome.seconds:.1f} s"
    fair = "fairness proven optimal" if outcome.fairness_optimal else "fairness best found"
    fair += ", idle slots proven fewest" if outcome.idle_optimal else ", idle slots best found"
    if outcome.status == "optimal":
        return f"Solver: wishes proven optimal ({fair}) in {seconds}"
    if outcome.status == "feasible":
        return (f"Solver: best found in {seconds}, at most {outcome.gap:.2%} below the bound "
                f"(objective {outcome.objective:g}, bound {outcome.bound:g}; {fair})")
    return (f"Solver: kept its start plan (the whole model found no better one in time), at "
            f"most {outcome.gap:.2%} below the bound (objective {outcome.objective:g}, bound "
            f"{outcome.bound:g}; {fair}) in {seconds}; a longer --time-limit may do better")


def plan_lines(store: Store, event: EventConfig, report: PlanReport,
               details: bool = False) -> Iterator[str]:
    """The lines `invite meetings plan` prints; `details` lists every changed pair."""
    summary = report.summary
    yield (f"Wishes met: {summary.met} of {summary.made} (weighted by priority: "
           f"{summary.weight_met} of {summary.weight_made}), "
           f"{counted(len(report.placements), 'meetings')} in "
           f"{counted(report.problem.slots, 'slots')}")
    yield solver_line(report)
    change = report.change
    yield (f"Changes: {len(change.added)} new, {len(change.moved)} moved, "
           f"{len(change.cancelled)} cancelled (published, to be told), {len(change.deleted)} "
           f"removed (never published), {change.kept} unchanged")
    emails = {r.id: r.email for r in store.recipients()}
    names = {c.id: c.name for c in event.companies}

    def who(person: int) -> str:
        return emails.get(person, f"(erased person {person})")

    if details:
        for sign, pairs in (("+", change.added), ("~", change.moved), ("-", change.cancelled),
                            ("x", change.deleted)):
            for person, company in pairs:
                yield f"  {sign} {who(person)} - {names.get(company, company)}"
    if summary.companies:
        yield "Per company (wishes met of made):"
        width = max(len(name) for name in names.values())
        for listed in event.companies:
            tally = summary.companies.get(listed.id)
            if tally is not None:
                yield f"  {listed.name:<{width}}  {tally.met} of {tally.made}"
    short = {p: missed for p, missed in summary.missed.items() if missed}
    if summary.people:
        yield (f"Participants: {len(summary.people) - len(short)} of "
               f"{counted(len(summary.people), 'people')} got every wish")
    if short:
        yield "People with fewer meetings than wished:"
        for person in sorted(short, key=who):
            tally = summary.people[person]
            reasons = "; ".join(f"{names.get(c, c)}: {reason}" for c, reason in short[person])
            yield f"  {who(person)}: {tally.met} of {tally.made} ({reasons})"
    for refusal in report.problem.refused:
        if refusal.person not in summary.people:
            yield (f"Note: {who(refusal.person)} - {names.get(refusal.company, refusal.company)}"
                   f": {refusal.reason}")
