"""Helper for the planner benchmarks: a workspace with a generated brokerage event.

`make_event(case, folder)` writes event.toml (N companies, the sessions and tables of
the case), adds the participants, records a yes with their wishes (popular companies
are wished more often, as at real events: weights 1/rank^0.8), admits them, and
gives each wish a random priority 1-3 as the organiser's priority of the pair.

People and answers go in through the store's own functions; only the priorities and
the admissions are written in bulk with SQL, since 16,000 one-row transactions would
time the benchmark's set-up rather than the planner.

Not a benchmark itself; to try it by hand:

    .venv/bin/python bench/plan_events.py medium /tmp/plan-medium
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mailer.people.workspace import init_workspace
from rsvp.settings import load_settings
from rsvp.store import NewRecipient, open_store

SECRET_KEY = "bench-secret-key-0123456789abcdef"


@dataclass(frozen=True)
class Case:
    name: str
    people: int
    companies: int
    sessions: tuple[tuple[str, str], ...]  # local start and end on the day, "HH:MM"
    wishes: int
    tables: int | None  # shared tables; None: every company at its own table
    time_limit: float


# 20 + 5 minutes a slot: 14:30-18:00 holds 8 slots, 14:00-18:10 10, 9:00-12:20 and
# 14:00-17:20 8 each.
CASES = {
    "small": Case("small", 20, 8, (("14:30", "18:00"),), 4, None, 10.0),
    "medium": Case("medium", 300, 60, (("14:00", "18:10"),), 5, 45, 8.0),
    "big": Case("big", 2000, 400, (("09:00", "12:20"), ("14:00", "17:20")), 8, None, 45.0),
}
DAY = "2027-04-15"


def event_toml(case: Case) -> str:
    """The example's event.toml with the case's companies, wishes question and brokerage."""
    example = (ROOT / "templates" / "example" / "event.toml.j2").read_text(encoding="utf-8")
    head = example[:example.index("[[programme]]")]
    questions = example[example.index("[[questions]]"):]
    companies = "".join(
        f'[[companies]]\nid = "c{i:03d}"\nname = "Company {i:03d}"\n'
        + (f"table = {i + 1}\n" if case.tables is None else "") + "\n"
        for i in range(case.companies))
    sessions = "".join(f"[[brokerage.sessions]]\nstart = {DAY}T{start}:00\nend = {DAY}T{end}:00\n\n"
                       for start, end in case.sessions)
    tables = case.companies if case.tables is None else case.tables
    brokerage = (f'[brokerage]\nquestion = "meet"\npart = {{ question = "parts", option = '
                 f'"brokerage" }}\nmeeting_minutes = 20\nbreak_minutes = 5\ntables = {tables}\n\n'
                 + sessions)
    from jinja2 import Template
    values = {"arrival": "2027-04-14", "symposium": DAY, "departure": "2027-04-16",
              "deadline_date": "2027-03-20", "event_offset": "+02:00",
              "deadline_offset": "+01:00"}
    return Template(head).render(values) + companies + brokerage + questions


def make_event(case: Case, folder: Path, seed: int = 11) -> Path:
    """Write the case's workspace into `folder` (which must not exist) and return it."""
    init_workspace(folder)
    (folder / "event.toml").write_text(event_toml(case), encoding="utf-8")
    settings = load_settings(folder, {"INVITE_SECRET_KEY": SECRET_KEY})
    store = open_store(settings.database)
    rng = random.Random(seed)
    ids = [f"c{i:03d}" for i in range(case.companies)]
    popularity = [1 / (rank + 1) ** 0.8 for rank in range(case.companies)]
    store.add_recipients([
        NewRecipient(f"p{i}@example.org", f"p{i}@example.org",
                     {"first_name": f"P{i}", "last_name": "Test", "language": "en"}, {})
        for i in range(case.people)])
    rows = []
    moment = datetime(2027, 2, 1, tzinfo=UTC)
    for recipient in list(store.recipients()):
        chosen: list[str] = []
        while len(chosen) < case.wishes:
            pick = rng.choices(ids, popularity)[0]
            if pick not in chosen:
                chosen.append(pick)
        store.record_answer(recipient.id, "yes", {"parts": ["brokerage"], "meet": chosen},
                            "web", now=moment)
        rows += [(recipient.id, company, rng.randint(1, 3)) for company in chosen]
    with store.write():
        store.conn.execute("UPDATE recipients SET admission = 'admitted'")
        store.conn.executemany(
            "INSERT INTO meeting_choices (recipient_id, company_id, priority, updated_at) "
            "VALUES (?, ?, ?, '2027-02-01T00:00:00+00:00')", rows)
    store.close()
    return folder


if __name__ == "__main__":
    made = make_event(CASES[sys.argv[1]], Path(sys.argv[2]))
    print(f"wrote {made}")
