"""`invite export --what schedule` and the workbook's brokerage sheets, read back from
the files the CLI writes (#11)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.conftest import make_workspace
from tests.relay import ScriptedRelay, running_relay
from tests.test_publish import ANNA, FIRST_PLAN, JOHN, brokerage_workspace, invite, plan, publish


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    return brokerage_workspace(tmp_path)


@pytest.fixture
def relay() -> Iterator[tuple[ScriptedRelay, int]]:
    with running_relay() as running:
        yield running


def test_the_schedule_export_has_a_row_per_meeting_with_local_times_and_offsets(ws: Path) -> None:
    plan(ws, *FIRST_PLAN)
    result = invite(ws, 25, "export", "--what", "schedule", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["start"], r["end"], r["table"], r["company"], r["email"]) for r in rows] == [
        ("2030-04-10T14:00:00+02:00", "2030-04-10T14:20:00+02:00", 1, "cilas", ANNA),
        ("2030-04-10T14:20:00+02:00", "2030-04-10T14:40:00+02:00", 1, "cilas", JOHN),
        ("2030-04-10T14:20:00+02:00", "2030-04-10T14:40:00+02:00", 2, "kreon", ANNA),
    ]
    assert rows[1]["organisation"] == "ICT Cluster"
    assert rows[1]["topics"] == "Sensors and data"
    assert rows[0]["company_name"] == "Cilas"
    assert {r["state"] for r in rows} == {"planned"}


def test_the_schedule_export_leaves_cancelled_meetings_out(
        ws: Path, relay: tuple[ScriptedRelay, int]) -> None:
    plan(ws, *FIRST_PLAN)
    publish(ws, relay[1])
    plan(ws, (ANNA, "cilas", 0, 1))  # Kreon and John's meeting are cancelled
    result = invite(ws, 25, "export", "--what", "schedule")
    lines = list(csv.DictReader(io.StringIO(result.output.lstrip("\ufeff"))))
    assert [(r["email"], r["company"], r["start"]) for r in lines] == [
        (ANNA, "cilas", "2030-04-10T14:00:00+02:00")]
    assert lines[0]["state"] == "published"


def test_an_event_without_brokerage_has_no_schedule(tmp_path: Path) -> None:
    folder = make_workspace(tmp_path)
    result = invite(folder, 25, "export", "--what", "schedule")
    assert result.exit_code == 1
    assert "Error: event.toml has no [brokerage], so there is no schedule to export" in result.output


def test_the_workbook_has_a_timetable_per_company_and_the_session_grid(ws: Path) -> None:
    plan(ws, *FIRST_PLAN)
    target = ws / "plan.xlsx"
    result = invite(ws, 25, "export", "--format", "xlsx", "-o", str(target))
    assert result.exit_code == 0, result.output
    book = load_workbook(target)
    # In the event's language, times as date cells in the event's zone (#10).
    assert {"Cilas", "Kreon", "Terminplan"} <= set(book.sheetnames)
    assert "Leukos" not in book.sheetnames  # nobody meets it
    cilas = [[cell.value for cell in row] for row in book["Cilas"].iter_rows()]
    assert cilas[0] == ["Beginn", "Ende", "Tisch", "Teilnehmer/in", "Organisation", "Themen",
                        "E-Mail"]
    assert cilas[1][:5] == [datetime(2030, 4, 10, 14, 0), datetime(2030, 4, 10, 14, 20), 1,
                            "Anna Schmidt", "Netz Optik"]
    assert book["Cilas"]["A2"].number_format == "dd.mm.yyyy hh:mm"
    assert cilas[2][3] == "John Smith"
    grid = [[cell.value for cell in row] for row in book["Terminplan"].iter_rows()]
    assert grid == [
        ["Uhrzeit", "Tisch 1", "Tisch 2"],
        [datetime(2030, 4, 10, 14, 0), "Cilas: Anna Schmidt", None],
        [datetime(2030, 4, 10, 14, 20), "Cilas: John Smith", "Kreon: Anna Schmidt"],
    ]
