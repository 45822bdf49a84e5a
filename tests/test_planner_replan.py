"""Re-planning after changes keeps published meetings, unless `--fresh`; withdrawals cancel."""

from __future__ import annotations

from pathlib import Path

import pytest

from rsvp.meetings import CANCELLED, PUBLISHED, all_meetings
from tests.conftest import make_workspace
from tests.test_planner import (
    BROKERAGE,
    COMPANIES,
    _store_of,
    assert_valid,
    join,
    meetings,
    ok,
    pairs,
    publish,
)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    """Two slots only: 14:30 and 14:55."""
    return make_workspace(tmp_path, COMPANIES + BROKERAGE.replace(
        "end = 2030-04-10T15:45:00+02:00", "end = 2030-04-10T15:15:00+02:00"))


def answer(ws: Path, name: str, attendance: str, meet: list[str]) -> None:
    store = _store_of(ws)
    try:
        who = store.find_recipient(f"{name}@example.org")
        store.record_answer(who.id, attendance, {"parts": ["symposium"], "meet": meet}, "web")
    finally:
        store.close()


def test_a_published_meeting_stays_unless_fresh(ws: Path) -> None:
    join(ws, "ada", ["alpha"])
    ok(ws, "meetings", "plan", "--time-limit", "2")
    publish(ws)
    (told,) = meetings(ws)
    # Beta can meet only when ada's published meeting with Alpha is.
    path = ws / "event.toml"
    path.write_text(path.read_text(encoding="utf-8") + (
        f"\n[brokerage.companies.beta]\navailable = [{{ start = {told.starts_at.isoformat()}, "
        f"end = {told.ends_at.isoformat()} }}]\n"), encoding="utf-8")
    answer(ws, "ada", "yes", ["alpha", "beta"])

    lines = ok(ws, "meetings", "plan", "--time-limit", "2")
    assert lines[2] == ("Changes: 0 new, 0 moved, 0 cancelled (published, to be told), "
                        "0 removed (never published), 1 unchanged")
    assert "  ada@example.org: 1 of 2 (Beta: conflict)" in lines
    (kept,) = meetings(ws)
    assert (kept.state, kept.starts_at, kept.uid) == (PUBLISHED, told.starts_at, told.uid)
    assert_valid(ws)

    dry = ok(ws, "meetings", "plan", "--fresh", "--dry-run", "--time-limit", "2")
    assert dry[2].startswith("Changes: 1 new, 1 moved, 0 cancelled")
    assert dry[3:5] == ["  + ada@example.org - Beta", "  ~ ada@example.org - Alpha"]
    assert meetings(ws) == [kept]

    ok(ws, "meetings", "plan", "--fresh", "--time-limit", "2")
    moved = {m.company_id: m for m in meetings(ws)}
    assert moved["alpha"].state == "planned" and moved["alpha"].uid == told.uid
    assert moved["alpha"].published_start == told.starts_at != moved["alpha"].starts_at
    assert moved["beta"].starts_at == told.starts_at
    shown = ok(ws, "meetings", "show", "ada@example.org")[1:]
    assert sorted(line.split("  ")[-2:] for line in shown) == [
        ["Alpha", "[moved, not yet told]"], ["Beta", "[not yet published]"]]
    assert_valid(ws)


def test_a_withdrawal_cancels_published_and_deletes_unpublished_meetings(ws: Path) -> None:
    join(ws, "ada", ["alpha"])
    join(ws, "ben", ["alpha"])
    ok(ws, "meetings", "plan", "--time-limit", "2")
    publish(ws)
    ok(ws, "meetings", "wish", "ada@example.org", "gamma")
    ok(ws, "meetings", "plan", "--time-limit", "2")
    assert pairs(ws) == {("ada", "alpha"): "published", ("ben", "alpha"): "published",
                         ("ada", "gamma"): "planned"}
    answer(ws, "ada", "no", [])
    lines = ok(ws, "meetings", "plan", "--time-limit", "2")
    assert lines[2] == ("Changes: 0 new, 0 moved, 1 cancelled (published, to be told), "
                        "1 removed (never published), 1 unchanged")
    assert pairs(ws, (PUBLISHED, CANCELLED)) == {("ada", "alpha"): "cancelled",
                                                 ("ben", "alpha"): "published"}
    shown = ok(ws, "meetings", "show", "alpha")
    assert [line.endswith("Ada Test <ada@example.org>  [cancelled, not yet told]")
            for line in shown].count(True) == 1
    # A later yes brings the pair back at the time people were told: published again.
    answer(ws, "ada", "yes", ["alpha"])
    ok(ws, "meetings", "plan", "--time-limit", "2")
    assert pairs(ws) == {("ada", "alpha"): "published", ("ben", "alpha"): "published",
                         ("ada", "gamma"): "planned"}
    assert_valid(ws)


def test_a_cancellation_not_yet_told_is_undone_at_the_time_told(ws: Path) -> None:
    # Beta can meet at 14:30 only, so ada's meeting with Alpha is told for 14:55.
    path = ws / "event.toml"
    path.write_text(path.read_text(encoding="utf-8") + (
        "\n[brokerage.companies.beta]\navailable = [{ start = 2030-04-10T14:30:00+02:00, "
        "end = 2030-04-10T14:50:00+02:00 }]\n"), encoding="utf-8")
    join(ws, "ada", ["alpha", "beta"])
    ok(ws, "meetings", "plan", "--time-limit", "2")
    publish(ws)
    told = {m.company_id: m for m in meetings(ws)}["alpha"]
    assert told.starts_at > {m.company_id: m for m in meetings(ws)}["beta"].starts_at
    answer(ws, "ada", "no", [])
    ok(ws, "meetings", "plan", "--time-limit", "2")
    assert pairs(ws, (CANCELLED,)) == {("ada", "alpha"): "cancelled", ("ada", "beta"): "cancelled"}
    # Both slots are free for Alpha now: only keeping what ada was told puts it at 14:55.
    answer(ws, "ada", "yes", ["alpha"])
    ok(ws, "meetings", "plan", "--time-limit", "2")
    back = {m.company_id: m for m in meetings(ws)}["alpha"]
    assert (back.state, back.starts_at, back.table_no) == (PUBLISHED, told.starts_at,
                                                           told.table_no)
    assert_valid(ws)


def test_each_run_is_logged_with_what_the_solver_reached(ws: Path) -> None:
    join(ws, "ada", ["alpha", "beta"])
    ok(ws, "meetings", "plan", "--time-limit", "2")
    store = _store_of(ws)
    try:
        from rsvp.meeting_choices import last_run
        run = last_run(store)
        assert run is not None
        assert (run.status, run.wishes_made, run.wishes_met) == ("optimal", 2, 2)
        assert run.objective == run.bound == 2.0
        assert run.details["gap"] == 0.0 and run.details["time_limit"] == 2.0
        assert len(all_meetings(store)) == 2
    finally:
        store.close()
