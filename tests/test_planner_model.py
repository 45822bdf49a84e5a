"""The solver on generated problems, always checked by the independent validator, and the
validator itself shown to catch every kind of broken plan."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from mailer.planner.greedy import greedy_plan
from mailer.planner.model import solve
from mailer.planner.plan import placements_of
from mailer.planner.problem import Problem, Schedule, Wish
from mailer.planner.validate import plan_problems
from rsvp.meetings import Placement

T0 = datetime(2030, 4, 10, 12, 30, tzinfo=UTC)


def slot_times(count: int) -> tuple[tuple[datetime, datetime], ...]:
    return tuple((T0 + timedelta(minutes=25 * i), T0 + timedelta(minutes=25 * i + 20))
                 for i in range(count))


def generated(seed: int, people: int, companies: int, slots: int, wishes: int) -> Problem:
    """A random event: priorities 1-3, some musts and nevers, limits, partial availability,
    a few companies at own tables or rooms, fewer shared tables than companies."""
    rng = random.Random(seed)
    ids = [f"c{i}" for i in range(companies)]
    own = {c: (i + 1 if i < 2 else 0 if i == 2 else None) for i, c in enumerate(ids)}
    listed: list[Wish] = []
    forbidden = set()
    for person in range(1, people + 1):
        for company in rng.sample(ids, wishes):
            roll = rng.random()
            if roll < 0.03:
                forbidden.add((person, company))
            listed.append(Wish(person, company, rng.randint(1, 3), must=0.03 <= roll < 0.05))
    available = {c: frozenset(range(slots)) if rng.random() < 0.7 else
                 frozenset(range(rng.randint(0, slots // 2), slots)) for c in ids}
    # A must the company cannot keep would make the problem infeasible: keep musts few.
    musts_per_company: dict[str, int] = {}
    fixed = []
    for wish in listed:
        if wish.must:
            musts_per_company[wish.company] = musts_per_company.get(wish.company, 0) + 1
            if musts_per_company[wish.company] > 1 or (wish.person, wish.company) in forbidden:
                wish = Wish(wish.person, wish.company, wish.weight)
        fixed.append(wish)
    return Problem(
        slot_times=slot_times(slots), sessions=tuple(0 if s < slots // 2 else 1 for s in range(slots)),
        wishes=tuple(fixed), company_slots=available,
        company_max={c: rng.choice([None, slots - 2, slots]) for c in ids},
        person_max=wishes - 1, seats=own,
        free_tables=tuple(range(3, 3 + max(1, (companies - 3) * 2 // 3))),
        forbidden=frozenset(forbidden))


def weight(problem: Problem, schedule: Schedule) -> int:
    return sum(w.weight for w in problem.wishes if (w.person, w.company) in schedule)


@pytest.mark.parametrize(("seed", "size"), [(1, (20, 8, 8, 4)), (2, (20, 8, 8, 4)),
                                            (3, (60, 15, 10, 5)), (4, (90, 20, 10, 5))])
def test_generated_plans_are_valid_and_never_worse_than_first_come(
        seed: int, size: tuple[int, int, int, int]) -> None:
    problem = generated(seed, *size)
    start = greedy_plan(problem)
    assert plan_problems(problem, placements_of(problem, _outcome(start))) == [
        f"{w.person}/{w.company}: forced meeting missing" for w in problem.wishes
        if w.must and (w.person, w.company) not in start]
    outcome = solve(problem, start, time_limit=3)
    assert plan_problems(problem, placements_of(problem, outcome)) == []
    assert weight(problem, outcome.schedule) >= weight(problem, start)
    assert outcome.status in ("optimal", "feasible") and 0 <= outcome.gap < 0.05


def _outcome(schedule: Schedule) -> object:
    from mailer.planner.model import Outcome
    return Outcome(schedule, "start", 0, 0, False, 0)


def test_a_very_important_wish_wins_a_contested_meeting() -> None:
    problem = Problem(slot_times=slot_times(1), sessions=(0,),
                      wishes=(Wish(1, "a", 1), Wish(2, "a", 2)),
                      company_slots={"a": frozenset({0})}, company_max={"a": None},
                      person_max=None, seats={"a": None}, free_tables=(1,))
    outcome = solve(problem, greedy_plan(problem), time_limit=2)
    assert outcome.schedule == {(2, "a"): 0}
    assert greedy_plan(problem) == {(1, "a"): 0}  # first come, first served


def test_a_published_meeting_outweighs_one_new_wish_unless_fresh() -> None:
    # Person 1 was told slot 0 with a; b can only meet then.
    problem = Problem(slot_times=slot_times(2), sessions=(0, 0),
                      wishes=(Wish(1, "a", 3), Wish(1, "b", 3)),
                      company_slots={"a": frozenset({0, 1}), "b": frozenset({0})},
                      company_max={"a": None, "b": None}, person_max=None,
                      seats={"a": 1, "b": 2}, free_tables=(), published={(1, "a"): (0, 1)})
    kept = solve(problem, {(1, "a"): 0}, time_limit=2)
    assert kept.schedule == {(1, "a"): 0}
    fresh = solve(problem, {(1, "a"): 0}, time_limit=2, fresh=True)
    assert fresh.schedule == {(1, "a"): 1, (1, "b"): 0}
    for outcome in (kept, fresh):
        assert plan_problems(problem, placements_of(problem, outcome)) == []


def test_fairness_never_moves_a_published_meeting_the_first_solve_kept() -> None:
    # Person 1 was told slot 0 with a. Moving it to slot 1 frees slot 0 for 1 with b and
    # for 2 with a (busy at slot 1): two wishes for the keep bonus of 2, a tie that the
    # fairer plan would win.
    problem = Problem(slot_times=slot_times(2), sessions=(0, 0),
                      wishes=(Wish(1, "a", 1), Wish(1, "b", 1), Wish(2, "a", 1)),
                      company_slots={"a": frozenset({0, 1}), "b": frozenset({0})},
                      company_max={"a": None, "b": None}, person_max=None,
                      seats={"a": 1, "b": 2}, free_tables=(), published={(1, "a"): (0, 1)},
                      person_busy={2: frozenset({1})})
    outcome = solve(problem, {(1, "a"): 0}, time_limit=2)
    assert outcome.objective == 3
    assert outcome.schedule == {(1, "a"): 0}
    assert plan_problems(problem, placements_of(problem, outcome)) == []


def test_fairness_gives_everyone_a_first_meeting_before_anyone_a_second() -> None:
    # Two slots, one company each; person 1 wants both, persons 2 and 3 one each.
    problem = Problem(slot_times=slot_times(2), sessions=(0, 0),
                      wishes=(Wish(1, "a", 1), Wish(1, "b", 1), Wish(2, "a", 1),
                              Wish(3, "b", 1)),
                      company_slots={"a": frozenset({0}), "b": frozenset({1})},
                      company_max={"a": None, "b": None}, person_max=None,
                      seats={"a": None, "b": None}, free_tables=(1,))
    outcome = solve(problem, greedy_plan(problem), time_limit=2)
    assert len(outcome.schedule) == 2 and outcome.fairness_optimal
    assert {person for person, _ in outcome.schedule} == {2, 3}


def idle_slots(problem: Problem, schedule: Schedule) -> int:
    """Counted here, apart from the model: empty slots between a person's first and last
    meeting of a session."""
    taken: dict[tuple[int, int], list[int]] = {}
    for (person, _), slot in schedule.items():
        taken.setdefault((person, problem.sessions[slot]), []).append(slot)
    return sum(max(slots) - min(slots) + 1 - len(slots) for slots in taken.values())


def test_the_example_size_leaves_nobody_idle_and_says_it_is_proven() -> None:
    problem = generated(1, 20, 8, 8, 4)
    outcome = solve(problem, greedy_plan(problem), time_limit=5)
    assert outcome.status == "optimal" and outcome.fairness_optimal and outcome.idle_optimal
    assert idle_slots(problem, outcome.schedule) == 0
    assert plan_problems(problem, placements_of(problem, outcome)) == []


def test_an_unavoidable_idle_slot_is_proven_the_fewest() -> None:
    # Person 1 can meet a only first and b only third: one idle slot, whatever the plan.
    problem = Problem(slot_times=slot_times(3), sessions=(0, 0, 0),
                      wishes=(Wish(1, "a", 1), Wish(1, "b", 1), Wish(2, "c", 1)),
                      company_slots={"a": frozenset({0}), "b": frozenset({2}),
                                     "c": frozenset({0, 1, 2})},
                      company_max={"a": None, "b": None, "c": None}, person_max=None,
                      seats={"a": 1, "b": 2, "c": 3}, free_tables=())
    outcome = solve(problem, greedy_plan(problem), time_limit=3)
    assert outcome.schedule[1, "a"] == 0 and outcome.schedule[1, "b"] == 2
    assert idle_slots(problem, outcome.schedule) == 1 and outcome.idle_optimal


def test_closing_idle_slots_never_moves_a_published_meeting() -> None:
    # Person 1 was told slot 1 with a and wants b too; person 2 was told slot 3 with a.
    # Without the published slots, a at 0 and b at 1 would be as good; they must stay.
    problem = Problem(slot_times=slot_times(4), sessions=(0, 0, 0, 0),
                      wishes=(Wish(1, "a", 1), Wish(1, "b", 1), Wish(2, "a", 1)),
                      company_slots={"a": frozenset(range(4)), "b": frozenset(range(4))},
                      company_max={"a": None, "b": None}, person_max=None,
                      seats={"a": 1, "b": 2}, free_tables=(),
                      published={(1, "a"): (1, 1), (2, "a"): (3, 1)})
    outcome = solve(problem, {(1, "a"): 1, (2, "a"): 3, (1, "b"): 3}, time_limit=3)
    assert outcome.schedule[1, "a"] == 1 and outcome.schedule[2, "a"] == 3
    assert outcome.schedule[1, "b"] in (0, 2)
    assert idle_slots(problem, outcome.schedule) == 0 and outcome.idle_optimal


# the validator


RULES = Problem(slot_times=slot_times(3), sessions=(0, 0, 0),
                wishes=(Wish(1, "a", 1), Wish(1, "b", 1), Wish(2, "a", 1), Wish(2, "c", 1),
                        Wish(3, "c", 1, must=True), Wish(3, "b", 1)),
                company_slots={"a": frozenset({0, 1, 2}), "b": frozenset({0, 1, 2}),
                               "c": frozenset({1, 2})},
                company_max={"a": 1, "b": None, "c": None}, person_max=2,
                seats={"a": None, "b": None, "c": 7}, free_tables=(1,),
                forbidden=frozenset({(3, "b")}))


def meeting(person: int, company: str, slot: int, table: int) -> Placement:
    start, end = RULES.slot_times[slot]
    return Placement(person, company, start, end, table)


def test_the_validator_accepts_a_valid_plan() -> None:
    assert plan_problems(RULES, [meeting(1, "a", 0, 1), meeting(1, "b", 1, 1),
                                 meeting(3, "c", 1, 7), meeting(2, "c", 2, 7)]) == []


@pytest.mark.parametrize(("plan", "problem"), [
    ([meeting(1, "a", 0, 1), meeting(1, "b", 0, 1), meeting(3, "c", 1, 7)],
     "person 1: 1/a at 2030-04-10T12:30:00+00:00 and 1/b at 2030-04-10T12:30:00+00:00 overlap"),
    ([meeting(3, "c", 1, 7), meeting(2, "c", 1, 7)],
     "company c: 3/c at 2030-04-10T12:55:00+00:00 and 2/c at 2030-04-10T12:55:00+00:00 overlap"),
    ([meeting(3, "c", 0, 7)], "3/c at 2030-04-10T12:30:00+00:00: the company is not available then"),
    ([meeting(3, "c", 1, 7), meeting(1, "a", 0, 1), meeting(2, "a", 1, 1)],
     "company a: 2 meetings, more than 1"),
    ([meeting(3, "c", 1, 7), meeting(1, "a", 0, 1), meeting(1, "b", 1, 1), meeting(1, "c", 2, 7)],
     "person 1: 3 meetings, more than 2"),
    ([meeting(1, "a", 0, 1)], "3/c: forced meeting missing"),
    ([meeting(3, "c", 1, 7), meeting(3, "b", 0, 1)],
     "3/b at 2030-04-10T12:30:00+00:00: this meeting is forbidden"),
    ([meeting(3, "c", 1, 7), meeting(2, "b", 0, 1)],
     "2/b at 2030-04-10T12:30:00+00:00: nobody asked for this meeting"),
    ([meeting(3, "c", 1, 7), meeting(3, "c", 2, 7)], "3/c: meets 2 times"),
    ([meeting(3, "c", 1, 2)],
     "3/c at 2030-04-10T12:55:00+00:00: at table 2, not the company's place 7"),
    ([meeting(3, "c", 1, 7), meeting(1, "a", 0, 2)],
     "1/a at 2030-04-10T12:30:00+00:00: table 2 is not a shared table"),
    ([meeting(3, "c", 1, 7), meeting(1, "a", 0, 1), meeting(2, "b", 0, 1)],
     "2030-04-10T12:30:00+00:00: 2 meetings at 1 shared tables"),
    ([meeting(3, "c", 1, 7), Placement(1, "a", T0, T0 + timedelta(minutes=30), 1)],
     "1/a at 2030-04-10T12:30:00+00:00: not a slot of the sessions"),
])
def test_the_validator_catches_each_broken_rule(plan: list[Placement], problem: str) -> None:
    assert problem in plan_problems(RULES, plan)


def test_the_validator_checks_availability_by_the_times_of_event_toml() -> None:
    # The slots derived for c wrongly include slot 0: the windows as written do not.
    derived_wrongly = replace(RULES, company_slots={**RULES.company_slots,
                                                    "c": frozenset({0, 1, 2})},
                              company_windows={"c": ((T0 + timedelta(minutes=25),
                                                      T0 + timedelta(minutes=70)),)})
    assert plan_problems(derived_wrongly, [meeting(3, "c", 0, 7)]) == [
        "3/c at 2030-04-10T12:30:00+00:00: the company is not available then"]
    assert plan_problems(derived_wrongly, [meeting(3, "c", 2, 7)]) == []
