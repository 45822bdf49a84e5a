"""Exports read back from real files: exact CSV, XLSX cells and styling, JSON values."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from mailer.delivery.outbox import Outbox, Outcome
from mailer.reports.export import export_table, neutralise, write_export
from rsvp.config import EventConfig, load_event
from rsvp.errors import InviteError
from rsvp.settings import Settings
from rsvp.store import Store
from tests.conftest import person

EXTRA_QUESTIONS = """
[[questions]]
id = "guests"
type = "number"
label = "Guests"

[[questions]]
id = "role"
type = "choice"
label = "Role at the event"
options = [ { id = "speaker", label = "Speaker" }, { id = "guest", label = "Guest" } ]
"""
ATTACK = '=HYPERLINK("http://x")'
BOM = b"\xef\xbb\xbf"
RESPONSE_HEADER = ("email,first_name,last_name,organisation,role,language,attendance,"
                   "responded_at,admission,nominated_by,batch,parts,french_help,comment,guests,"
                   "answer_role,bounced,bounce_reason")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2030, 3, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def event(settings: Settings) -> EventConfig:
    """The test event plus a number question and one whose id clashes with a column."""
    with settings.event_file.open("a", encoding="utf-8") as toml:
        toml.write(EXTRA_QUESTIONS)
    return load_event(settings.event_file)


@pytest.fixture
def filled(store: Store) -> Store:
    """Four people: umlauts, hostile values, a nominee without answer, an unsubscriber."""
    store.add_recipients([
        replace(person("anna@example.org", first_name="Jürgen", last_name="Müßig",
                       organisation="Straße & Söhne", role="network_manager"),
                extra={"phone": "+49 30 5550100", "region": "Süd"}),
        replace(person("bob@example.org", "fr", first_name="Bob", last_name="Hacker",
                       organisation=ATTACK, role="company"),
                extra={"region": "@SUM(A1)", "note": "ok"}),
        person("carla@example.org", "en", first_name="Carla", last_name="-2", role="company"),
        person("dora@example.org", first_name="Dora", organisation="@SUM(A1)",
               role="network_manager"),
    ])
    anna, bob, carla, dora = (store.find_recipient(f"{name}@example.org")
                              for name in ("anna", "bob", "carla", "dora"))
    store.record_answer(anna.id, "yes", {"parts": ["visits", "symposium"], "french_help": True,
                                         "comment": "Grüße aus Köln", "guests": 2,
                                         "role": "speaker"}, "web", now=at(1, 10))
    store.record_answer(bob.id, "yes", {"parts": ["symposium"], "french_help": False,
                                        "comment": ATTACK, "guests": 1.5}, "web", now=at(2, 11, 30))
    store.record_answer(dora.id, "no", {"comment": "+1"}, "api", now=at(3, 9))
    store.unsubscribe(dora.id, now=at(4, 8))
    # Admission and nominations are written by other commands; set their columns as they would.
    store.db.table("recipients").update(anna.id, {"admission": "admitted"})
    store.db.table("recipients").update(carla.id, {"nominated_by": anna.id})
    return store


def csv_text(store: Store, event: EventConfig, what: str) -> bytes:
    columns, rows = export_table(store, event, what)
    out = io.BytesIO()
    write_export(columns, rows, "csv", out)
    return out.getvalue()


def test_responses_csv_is_exact(filled: Store, event: EventConfig) -> None:
    data = csv_text(filled, event, "responses")
    assert data.startswith(BOM + RESPONSE_HEADER.encode() + b"\r\n")
    assert data.decode("utf-8-sig").split("\r\n") == [
        RESPONSE_HEADER,
        ("anna@example.org,Jürgen,Müßig,Straße & Söhne,network_manager,de,yes,"
         "2030-03-01T10:00:00+00:00,admitted,,,visits; symposium,yes,Grüße aus Köln,2,speaker,,"),
        ("bob@example.org,Bob,Hacker,\"'=HYPERLINK(\"\"http://x\"\")\",company,fr,yes,"
         "2030-03-02T11:30:00+00:00,,,,symposium,no,\"'=HYPERLINK(\"\"http://x\"\")\",1.5,,,"),
        "carla@example.org,Carla,'-2,,company,en,,,,anna@example.org,,,,,,,,",
        ("dora@example.org,Dora,,'@SUM(A1),network_manager,de,no,2030-03-03T09:00:00+00:00,"
         ",,,,,'+1,,,,"),
        "",
    ]


def test_recipients_csv_lists_every_imported_field_and_the_extra_columns(
        filled: Store, event: EventConfig) -> None:
    assert csv_text(filled, event, "recipients").decode("utf-8-sig").split("\r\n") == [
        ("email,first_name,last_name,salutation,title,organisation,role,language,sector,"
         "nominated_by,unsubscribed_at,batch,phone,region,note,bounced,bounce_reason"),
        ("anna@example.org,Jürgen,Müßig,,,Straße & Söhne,network_manager,de,,,,,"
         "'+49 30 5550100,Süd,,,"),
        ("bob@example.org,Bob,Hacker,,,\"'=HYPERLINK(\"\"http://x\"\")\",company,fr,,,,,,"
         "'@SUM(A1),ok,,"),
        "carla@example.org,Carla,'-2,,,,company,en,,anna@example.org,,,,,,,",
        "dora@example.org,Dora,,,,'@SUM(A1),network_manager,de,,,2030-03-04T08:00:00+00:00,,,,,,",
        "",
    ]


def test_outbox_csv_shows_each_rows_fate(filled: Store, event: EventConfig) -> None:
    outbox = Outbox(filled)
    outbox.queue("invitation", now=at(1, 7))
    anna, bob, _ = list(outbox.pending("invitation"))
    outbox.claim([(anna.id, "<1@example.org>"), (bob.id, "<2@example.org>")], now=at(1, 8))
    outbox.finish([Outcome(anna.id, "sent", "250 2.0.0 OK"),
                   Outcome(bob.id, "failed", "550 5.1.1 no such user")], now=at(1, 8, 1))
    assert csv_text(filled, event, "outbox").decode("utf-8-sig").split("\r\n") == [
        "email,mailing,state,attempts,last_reply,message_id,sent_at",
        "anna@example.org,invitation,sent,1,250 2.0.0 OK,<1@example.org>,2030-03-01T08:01:00+00:00",
        "bob@example.org,invitation,failed,1,550 5.1.1 no such user,<2@example.org>,",
        "carla@example.org,invitation,queued,0,,,",
        "",
    ]


@pytest.mark.parametrize("value", ["=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_formula_starts_get_an_apostrophe(value: str) -> None:
    assert neutralise(value) == "'" + value


@pytest.mark.parametrize("value", ["Jürgen", "2030-03-01T10:00:00+00:00", "a=b", "", -2, 1.5, None])
def test_other_values_stay_as_they_are(value: Any) -> None:
    assert neutralise(value) == value


def test_xlsx_keeps_hostile_text_as_text_and_styles_the_header(
        filled: Store, event: EventConfig, tmp_path: Path) -> None:
    path = tmp_path / "responses.xlsx"
    columns, rows = export_table(filled, event, "responses")
    write_export(columns, rows, "xlsx", path)
    sheet = load_workbook(path)["responses"]
    assert [cell.value for cell in sheet[1]] == RESPONSE_HEADER.split(",")
    assert all(cell.font.b for cell in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:R5"
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    # Typed as text, hostile values need no apostrophe (#8): the cell shows them as written.
    for ref, value in [("D3", ATTACK), ("N3", ATTACK), ("C4", "-2"),
                       ("D5", "@SUM(A1)"), ("N5", "+1")]:
        assert (sheet[ref].value, sheet[ref].data_type) == (value, "s"), ref
    assert [sheet[ref].value for ref in ("B2", "C2", "D2", "N2")] == [
        "Jürgen", "Müßig", "Straße & Söhne", "Grüße aus Köln"]
    assert [sheet[ref].value for ref in ("L2", "M2", "M3", "O2", "O3", "P2")] == [
        "visits; symposium", "yes", "no", 2, 1.5, "speaker"]
    assert sheet["G4"].value is None
    assert sheet.column_dimensions["A"].width == len("carla@example.org") + 2
    assert not list(tmp_path.glob(".*.part"))


def test_xlsx_sheet_is_named_after_the_table(filled: Store, event: EventConfig,
                                             tmp_path: Path) -> None:
    for what in ("recipients", "outbox"):
        columns, rows = export_table(filled, event, what)
        write_export(columns, rows, "xlsx", tmp_path / f"{what}.xlsx")
        assert load_workbook(tmp_path / f"{what}.xlsx").sheetnames == [what]
    write_export(["a"], iter([{"a": "=1+1"}]), "xlsx", tmp_path / "x.xlsx", sheet="mine")
    sheet = load_workbook(tmp_path / "x.xlsx")["mine"]
    assert (sheet["A2"].value, sheet["A2"].data_type) == ("=1+1", "s")


def test_json_has_the_csv_columns_nulls_for_no_answer_and_raw_text(
        filled: Store, event: EventConfig) -> None:
    columns, rows = export_table(filled, event, "responses")
    out = io.BytesIO()
    write_export(columns, rows, "json", out)
    text = out.getvalue().decode("utf-8")
    items = json.loads(text)
    assert text == json.dumps(items, ensure_ascii=False, indent=2) + "\n"
    assert "Jürgen" in text
    assert [list(item) for item in items] == [RESPONSE_HEADER.split(",")] * 4
    anna, bob, carla, dora = items
    assert (anna["parts"], anna["french_help"], anna["guests"], anna["answer_role"]) == (
        "visits; symposium", "yes", 2, "speaker")
    assert (bob["organisation"], bob["comment"], bob["guests"]) == (ATTACK, ATTACK, 1.5)
    assert carla == {**dict.fromkeys(columns), "email": "carla@example.org",
                     "first_name": "Carla", "last_name": "-2", "organisation": "",
                     "role": "company", "language": "en", "nominated_by": "anna@example.org"}
    assert (dora["comment"], dora["parts"], dora["french_help"]) == ("+1", None, None)


def test_json_of_nothing_is_an_empty_array(store: Store, event: EventConfig) -> None:
    columns, rows = export_table(store, event, "outbox")
    out = io.BytesIO()
    write_export(columns, rows, "json", out)
    assert out.getvalue() == b"[]\n"


def test_csv_to_a_stream_leaves_it_open_and_streams_rows(store: Store, event: EventConfig) -> None:
    columns, rows = export_table(store, event, "recipients")
    assert isinstance(rows, Iterator)
    out = io.BytesIO()
    write_export(columns, rows, "csv", out)
    assert not out.closed
    assert out.getvalue() == BOM + (
        b"email,first_name,last_name,salutation,title,organisation,role,language,sector,"
        b"nominated_by,unsubscribed_at,batch,bounced,bounce_reason\r\n")


def test_a_failed_export_leaves_no_file(tmp_path: Path) -> None:
    def rows() -> Iterator[dict[str, Any]]:
        yield {"a": "1"}
        raise RuntimeError("disk gone")

    path = tmp_path / "out.csv"
    with pytest.raises(RuntimeError):
        write_export(["a"], rows(), "csv", path)
    assert list(tmp_path.iterdir()) == []


def test_unknown_table_or_format_is_a_clear_error(store: Store, event: EventConfig,
                                                  tmp_path: Path) -> None:
    with pytest.raises(InviteError) as table:
        export_table(store, event, "minutes")
    assert str(table.value) == ("cannot export 'minutes'; choose one of responses, recipients, "
                                "outbox, meetings, schedule, all")
    assert table.value.hint == ("Pass --what responses, recipients, outbox, meetings, schedule, "
                                "or all for the XLSX workbook with every sheet.")
    with pytest.raises(InviteError) as workbook:
        export_table(store, event, "all")
    assert str(workbook.value) == "--what all writes a workbook of several sheets and needs --format xlsx"
    with pytest.raises(InviteError) as fmt:
        write_export(["a"], iter([]), "pdf", tmp_path / "out.pdf")
    assert str(fmt.value) == "unknown export format 'pdf'; choose one of csv, xlsx, json"
    assert not (tmp_path / "out.pdf").exists()


def test_xlsx_control_characters_cannot_uncover_a_formula(tmp_path: Path) -> None:
    """XML cannot hold \x01; stripping it must not leave '=...' to become a formula."""
    path = tmp_path / "hostile.xlsx"
    write_export(["email", "comment"], [{"email": "a@example.org", "comment": "\x01=1+1"}],
                 "xlsx", path)
    cell = load_workbook(path).active["B2"]
    assert (cell.value, cell.data_type) == ("=1+1", "s")
