"""`invite meetings plan`, `show`, `wish` and `company` on a real workspace and real SQLite;
every stored plan goes through the independent validator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mailer.cli import app
from mailer.planner.validate import plan_problems
from mailer.planner.wishes import collect_problem
from rsvp.config import load_event
from rsvp.meetings import LIVE, Meeting, Placement, all_meetings
from rsvp.store import Store, open_store
from tests.conftest import TEST_KEY, make_workspace, person

COMPANIES = """
[[companies]]
id = "alpha"
name = "Alpha"

[[companies]]
id = "beta"
name = "Beta"

[[companies]]
id = "gamma"
name = "Gamma"
room = "Salle Gamma"

[[questions]]
id = "meet"
type = "choices"
label = "Whom to meet"
options_from = "companies"
when = "yes"
"""
# Three slots: 14:30, 14:55 and 15:20 (Paris); two shared tables, Gamma in its room.
BROKERAGE = """
[brokerage]
question = "meet"
part = { question = "parts", option = "symposium" }
meeting_minutes = 20
break_minutes = 5
tables = 2

[[brokerage.sessions]]
start = 2030-04-10T14:30:00+02:00
end = 2030-04-10T15:45:00+02:00
"""


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    return make_workspace(tmp_path, COMPANIES + BROKERAGE)


def invite(ws: Path, *args: str) -> Any:
    return CliRunner().invoke(app, [*args, "-w", str(ws)], env={"INVITE_SECRET_KEY": TEST_KEY},
                              catch_exceptions=False)


def ok(ws: Path, *args: str) -> list[str]:
    result = invite(ws, *args)
    assert result.exit_code == 0, result.output
    return list(result.stdout.splitlines())


def opened(ws: Path) -> Store:
    return open_store(ws / "invite.db") if (ws / "invite.db").exists() else _store_of(ws)


def _store_of(ws: Path) -> Store:
    from rsvp.settings import load_settings
    return open_store(load_settings(ws, {"INVITE_SECRET_KEY": TEST_KEY}).database)


def join(ws: Path, name: str, meet: list[str], attendance: str = "yes",
         parts: tuple[str, ...] = ("symposium",), admit: bool = True) -> None:
    """Add name@example.org with an answer wishing `meet`, admitted by the organiser."""
    store = _store_of(ws)
    try:
        store.add_recipients([person(f"{name}@example.org", first_name=name.title(),
                                     last_name="Test")])
        who = store.find_recipient(f"{name}@example.org")
        store.record_answer(who.id, attendance, {"parts": list(parts), "meet": meet}, "web")
    finally:
        store.close()
    if admit:
        ok(ws, "admit", f"{name}@example.org")


def meetings(ws: Path) -> list[Meeting]:
    store = _store_of(ws)
    try:
        return all_meetings(store)
    finally:
        store.close()


def assert_valid(ws: Path) -> None:
    """The stored live plan passes the validator written apart from the planner."""
    store = _store_of(ws)
    try:
        problem = collect_problem(store, load_event(ws / "event.toml"))
        live = [Placement(m.recipient_id, m.company_id, m.starts_at, m.ends_at, m.table_no)
                for m in all_meetings(store, LIVE)]
        assert plan_problems(problem, live) == []
    finally:
        store.close()


def publish(ws: Path) -> None:
    """Mark the plan as told, as `invite meetings publish` does."""
    store = _store_of(ws)
    try:
        with store.write():
            store.conn.execute(
                "UPDATE meetings SET state = 'published', published_at = '2030-04-01T10:00:00+00:00', "
                "published_start = starts_at, published_table = table_no WHERE state = 'planned'")
            store.conn.execute("UPDATE meetings SET state = 'dropped' WHERE state = 'cancelled'")
    finally:
        store.close()


def pairs(ws: Path, states: tuple[str, ...] = LIVE) -> dict[tuple[str, str], str]:
    store = _store_of(ws)
    try:
        emails = {r.id: r.email.split("@")[0] for r in store.recipients()}
        return {(emails[m.recipient_id], m.company_id): m.state
                for m in all_meetings(store, states)}
    finally:
        store.close()


def test_every_wish_is_met_when_there_is_room(ws: Path) -> None:
    join(ws, "ada", ["alpha", "beta"])
    join(ws, "ben", ["alpha", "gamma"])
    lines = ok(ws, "meetings", "plan", "--time-limit", "5")
    assert lines[0] == "Wishes met: 4 of 4 (weighted by priority: 4 of 4), 4 meetings in 3 slots"
    assert lines[1].startswith("Solver: wishes proven optimal (fairness proven optimal")
    assert lines[2] == ("Changes: 4 new, 0 moved, 0 cancelled (published, to be told), "
                        "0 removed (never published), 0 unchanged")
    assert lines[3:] == ["Per company (wishes met of made):", "  Alpha  2 of 2", "  Beta   1 of 1",
                         "  Gamma  1 of 1", "Participants: 2 of 2 people got every wish",
                         "Next: invite meetings show, then invite meetings publish"]
    assert pairs(ws) == {("ada", "alpha"): "planned", ("ada", "beta"): "planned",
                         ("ben", "alpha"): "planned", ("ben", "gamma"): "planned"}
    assert_valid(ws)
    plan = meetings(ws)
    # No idle slot between a person's meetings: each has two in adjacent slots.
    for who in {m.recipient_id for m in plan}:
        starts = sorted(m.starts_at for m in plan if m.recipient_id == who)
        assert (starts[1] - starts[0]).total_seconds() == 25 * 60
    assert {m.table_no for m in plan if m.company_id == "gamma"} == {0}
    assert {m.table_no for m in plan if m.company_id != "gamma"} <= {1, 2}


def test_show_per_person_company_and_table(ws: Path) -> None:
    join(ws, "ada", ["gamma"])
    ok(ws, "meetings", "plan", "--time-limit", "2")
    (meeting,) = meetings(ws)
    time = f"Wed 10 Apr {meeting.starts_at.hour + 2:02d}:{meeting.starts_at.minute:02d}"
    end = f"{meeting.ends_at.hour + 2:02d}:{meeting.ends_at.minute:02d}"
    row = f"  {time}-{end}  Salle Gamma"
    assert ok(ws, "meetings", "show", "ada@example.org") == [
        "Ada Test <ada@example.org>", f"{row} Gamma  [not yet published]"]
    assert ok(ws, "meetings", "show", "Gamma") == [
        "Gamma: 1 meeting", f"{row} Ada Test <ada@example.org>  [not yet published]"]
    assert ok(ws, "meetings", "show", "--by", "table") == [
        "Salle Gamma", f"  {time}-{end}  Gamma - Ada Test <ada@example.org>  [not yet published]"]
    publish(ws)
    assert ok(ws, "meetings", "show", "ada@example.org")[1] == f"{row} Gamma"
    unknown = invite(ws, "meetings", "show", "delta")
    assert unknown.exit_code == 1
    assert unknown.stderr.splitlines() == ["Error: no company 'delta' in event.toml",
                                           "Hint: The companies' ids are: alpha, beta, gamma."]


def test_only_admitted_yes_answers_in_the_brokerage_part_count(ws: Path) -> None:
    join(ws, "ada", ["alpha"])
    join(ws, "ben", ["alpha"], admit=False)
    join(ws, "cleo", ["beta"], attendance="maybe", admit=False)
    join(ws, "dan", ["beta"], parts=("visits",))
    lines = ok(ws, "meetings", "plan", "--time-limit", "2")
    assert lines[0].startswith("Wishes met: 1 of 1 ")
    assert pairs(ws) == {("ada", "alpha"): "planned"}
    assert_valid(ws)


def test_a_full_company_and_the_participant_maximum_are_reasons(ws: Path) -> None:
    path = ws / "event.toml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "tables = 2", "tables = 2\nparticipant_max = 1\n\n[brokerage.companies.alpha]\n"
                      "max_meetings = 1"), encoding="utf-8")
    join(ws, "ada", ["alpha", "beta"])
    join(ws, "ben", ["alpha"])
    join(ws, "cleo", ["gamma"])
    ok(ws, "meetings", "wish", "cleo@example.org", "beta")
    lines = ok(ws, "meetings", "plan", "--time-limit", "3")
    assert lines[0].startswith("Wishes met: 3 of 5 ")
    # Fairness: ben's only wish beats ada's other one (ada still gets one meeting).
    assert {pair for pair in pairs(ws) if pair[0] != "cleo"} == {("ada", "beta"), ("ben", "alpha")}
    (cleos,) = [company for who, company in pairs(ws) if who == "cleo"]
    other = {"gamma": "Beta", "beta": "Gamma"}[cleos]
    assert lines[-5:-1] == ["Participants: 1 of 3 people got every wish",
                            "People with fewer meetings than wished:",
                            "  ada@example.org: 1 of 2 (Alpha: company full)",
                            f"  cleo@example.org: 1 of 2 ({other}: at the participant maximum)"]
    assert_valid(ws)


def test_the_organiser_forces_forbids_and_removes_meetings(ws: Path) -> None:
    join(ws, "ada", ["alpha", "beta"])
    join(ws, "ben", ["alpha"])
    assert ok(ws, "meetings", "wish", "ada@example.org", "gamma", "--must") == [
        "ada@example.org must meet Gamma", "Next: invite meetings plan"]
    assert ok(ws, "meetings", "wish", "ADA@example.org", "Beta", "--remove")[0] == (
        "ada@example.org no longer wishes to meet Beta")
    assert ok(ws, "meetings", "wish", "ben@example.org", "alpha", "--never")[0] == (
        "ben@example.org must never meet Alpha")
    lines = ok(ws, "meetings", "plan", "--time-limit", "2")
    assert pairs(ws) == {("ada", "alpha"): "planned", ("ada", "gamma"): "planned"}
    assert "  ben@example.org: 0 of 1 (Alpha: forbidden by the organiser)" in lines
    assert_valid(ws)
    ok(ws, "meetings", "wish", "ben@example.org", "alpha", "--clear")
    ok(ws, "meetings", "plan", "--time-limit", "2")
    assert ("ben", "alpha") in pairs(ws)
    assert_valid(ws)
    both = invite(ws, "meetings", "wish", "ben@example.org", "alpha", "--must", "--never")
    assert both.exit_code == 1
    assert both.stderr == "Error: give at most one of --must, --never, --remove and --clear\n"


def test_forced_meetings_that_cannot_fit_are_an_error(ws: Path) -> None:
    path = ws / "event.toml"
    path.write_text(path.read_text(encoding="utf-8").replace("end = 2030-04-10T15:45:00+02:00",
                                                             "end = 2030-04-10T14:50:00+02:00"),
                    encoding="utf-8")
    join(ws, "ada", [])
    join(ws, "ben", [])
    ok(ws, "meetings", "wish", "ada@example.org", "alpha", "--must")
    ok(ws, "meetings", "wish", "ben@example.org", "alpha", "--must")
    result = invite(ws, "meetings", "plan", "--time-limit", "2")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Error: the forced meetings (--must) cannot all be planned together",
        ("Hint: Check them with `invite meetings show`; remove one with "
        "`invite meetings wish EMAIL COMPANY --remove`.")]
    assert meetings(ws) == []


def test_the_companies_say_declines_and_requests(ws: Path, tmp_path: Path) -> None:
    join(ws, "ada", ["alpha", "beta"])
    join(ws, "ben", [])
    join(ws, "cleo", ["beta"])
    assert ok(ws, "meetings", "company", "alpha", "--decline", "ada@example.org",
              "--request", "ben@example.org") == [
        "Alpha: decline ada@example.org", "Alpha: request ben@example.org",
        "Next: invite meetings plan"]
    sheet = tmp_path / "beta.csv"
    sheet.write_text("email;answer;note\nada@example.org;Oui;\ncleo@example.org;non;busy\n"
                     "ben@example.org;;\n", encoding="utf-8")
    assert ok(ws, "meetings", "company", "beta", "--import", str(sheet))[:2] == [
        "Beta: accept ada@example.org", "Beta: decline cleo@example.org"]
    lines = ok(ws, "meetings", "plan", "--time-limit", "2")
    assert pairs(ws) == {("ada", "beta"): "planned", ("ben", "alpha"): "planned"}
    assert "  ada@example.org: 1 of 2 (Alpha: declined by the company)" in lines
    assert "  cleo@example.org: 0 of 1 (Beta: declined by the company)" in lines
    assert_valid(ws)
    bad = tmp_path / "bad.csv"
    bad.write_text("email,answer\nada@example.org,maybe\n,yes\n", encoding="utf-8")
    result = invite(ws, "meetings", "company", "beta", "--import", str(bad))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Error: bad.csv has 2 bad rows; nothing was recorded",
        "  line 2: answer 'maybe' is not accept, decline or request", "  line 3: no email"]


def test_dry_run_shows_the_changes_and_stores_nothing(ws: Path) -> None:
    join(ws, "ada", ["alpha"])
    lines = ok(ws, "meetings", "plan", "--dry-run", "--time-limit", "2")
    assert lines[2].startswith("Changes: 1 new, 0 moved")
    assert lines[3] == "  + ada@example.org - Alpha"
    assert lines[-1] == "Dry run: nothing was stored."
    assert meetings(ws) == []
    store = _store_of(ws)
    try:
        assert store.conn.execute("SELECT count(*) FROM plan_runs").fetchone()[0] == 0
    finally:
        store.close()


def test_without_a_brokerage_table_there_is_nothing_to_plan(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, COMPANIES)
    result = invite(ws, "meetings", "plan")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Error: event.toml has no [brokerage] table, so there is nothing to plan",
        ("Hint: Add [brokerage] with question, meeting_minutes and [[brokerage.sessions]]; "
        "`invite init /tmp/example` shows one.")]


def test_the_shipped_example_plans_its_brokerage(tmp_path: Path) -> None:
    folder = tmp_path / "limoges"
    assert CliRunner().invoke(app, ["init", str(folder)]).exit_code == 0
    assert ok(folder, "meetings", "plan", "--time-limit", "2")[0] == (
        "Wishes met: 0 of 0 (weighted by priority: 0 of 0), 0 meetings in 8 slots")
    ok(folder, "import", str(folder / "recipients.csv"))
    for email, meet in (("juergen.mueller@example.org", ("kreon", "cilas")),
                        ("sabine.schaefer@ikt-netz.example.org", ("cilas",))):
        ok(folder, "record", email, "--attendance", "yes", "--answer", "parts=brokerage",
           *(arg for company in meet for arg in ("--answer", f"meet={company}")))
        ok(folder, "admit", email)
    lines = ok(folder, "meetings", "plan", "--time-limit", "5")
    assert lines[0] == "Wishes met: 3 of 3 (weighted by priority: 3 of 3), 3 meetings in 8 slots"
    assert_valid(folder)
    tables = {m.company_id: m.table_no for m in meetings(folder)}
    assert tables == {"cilas": 1, "kreon": 8}
    shown = ok(folder, "meetings", "show", "kreon")
    assert shown[0] == "Kreon: 1 meeting"
    assert shown[1].endswith("table 8    Jürgen Müller <juergen.mueller@example.org>, "
                             "Produktionsnetz Süd e.V.  [not yet published]")
