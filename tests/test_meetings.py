"""Brokerage wishes and the organiser's workbook, read back from real files and real SQLite."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet
from typer.testing import CliRunner, Result

from mailer.cli import app
from mailer.reports.export import RESPONSE_COLUMNS, export_table, write_export
from mailer.reports.meetings import MEETING_COLUMNS, PART_COLUMNS
from mailer.reports.workbook import SUMMARY_COLUMNS, sheet_name, write_workbook
from rsvp.config import EventConfig, load_event
from rsvp.errors import InviteError
from rsvp.privacy import forget_person
from rsvp.settings import Settings
from rsvp.store import Store
from tests.conftest import TEST_KEY, person

BROKERAGE = """
[[companies]]
id = "cilas"
name = "Cilas"
field = { de = "Optische Keramik", fr = "Céramiques optiques", en = "Optical ceramics" }

[[companies]]
id = "kreon"
name = "Kreon"
field = { de = "3-D-Messtechnik", en = "3-D measurement" }

[[companies]]
id = "leukos"
name = "Leukos"

[[questions]]
id = "partners"
type = "choices"
label = "Companies to meet"
options_from = "companies"
when = "yes"

[[questions]]
id = "topics"
type = "text"
label = "Topics"

[[questions]]
id = "evening"
type = "choices"
label = "Evening"
options = [
  { id = "dinner", label = { de = "Abendessen: Restaurant [Limoges]/Zentrum, mit Weinprobe", en = "Dinner" } },
  { id = "wrapup", label = "Übersicht" },
]
"""
ATTACK = '=HYPERLINK("http://x")'
# Cut at a word with an ellipsis (#10); ":", "[", "]" and "/" are not allowed.
DINNER_SHEET = "Abendessen Restaurant Limoges…"
# The workbook is for people (#10): headings and values in the event's language (de).
MEETING_HEADINGS = ["Unternehmen", "Tätigkeitsfeld", "E-Mail", "Vorname", "Nachname",
                    "Organisation", "Branche", "Rolle", "Themen", "Antwort"]
PART_HEADINGS = ["E-Mail", "Vorname", "Nachname", "Organisation", "Rolle", "Antwort",
                 "Zulassung"]
MEETINGS_CSV = [
    ",".join(MEETING_COLUMNS),
    ("Cilas,Optische Keramik,bob@example.org,Bob,Adler,'@Lasernetz,production,network_manager,"
     "\"Laser, Sensorik\",yes"),
    ("Cilas,Optische Keramik,anna@example.org,Anna,Zeller,Zeller Optik GmbH,micro_nano_opto,"
     "company,\"'=HYPERLINK(\"\"http://x\"\")\",yes"),
    "Kreon,3-D-Messtechnik,carla@example.org,Carla,Meier,Meier KG,ict,company,,maybe",
    ("Kreon,3-D-Messtechnik,anna@example.org,Anna,Zeller,Zeller Optik GmbH,micro_nano_opto,"
     "company,\"'=HYPERLINK(\"\"http://x\"\")\",yes"),
    "Leukos,,,,,,,,,",
    "",
]


@pytest.fixture
def event(settings: Settings) -> EventConfig:
    """The test event with three companies, a company question not called `meet`, topics."""
    with settings.event_file.open("a", encoding="utf-8") as toml:
        toml.write(BROKERAGE)
    return load_event(settings.event_file)


@pytest.fixture
def answered(store: Store) -> Store:
    """Yes, maybe, no with stale wishes, no answer, and a yes whose data was erased."""
    store.add_recipients([
        person("anna@example.org", first_name="Anna", last_name="Zeller",
               organisation="Zeller Optik GmbH", role="company", sector="micro_nano_opto"),
        person("bob@example.org", "fr", first_name="Bob", last_name="Adler",
               organisation="@Lasernetz", role="network_manager", sector="production"),
        person("carla@example.org", "en", first_name="Carla", last_name="Meier",
               organisation="Meier KG", role="company", sector="ict"),
        person("dora@example.org", first_name="Dora", last_name="Berg", organisation="Berg AG",
               role="company"),
        person("emil@example.org", first_name="Emil", last_name="Abel", role="network_manager"),
        person("gina@example.org", first_name="Gina", last_name="Haas", role="company"),
    ])
    anna, bob, carla, dora, _, gina = (store.find_recipient(f"{name}@example.org") for name in
                                       ("anna", "bob", "carla", "dora", "emil", "gina"))
    store.record_answer(anna.id, "yes", {"parts": ["visits", "symposium"],
                                         "partners": ["kreon", "cilas"], "topics": ATTACK,
                                         "evening": ["dinner"]}, "web")
    store.record_answer(bob.id, "yes", {"parts": ["symposium"], "partners": ["cilas"],
                                        "topics": "Laser, Sensorik"}, "web")
    store.record_answer(carla.id, "maybe", {"parts": ["visits"], "partners": ["kreon"]}, "api")
    store.record_answer(dora.id, "no", {"parts": ["visits"], "partners": ["cilas"],
                                        "topics": "old wish"}, "web")
    store.record_answer(gina.id, "yes", {"parts": ["visits"], "partners": ["leukos"]}, "web")
    forget_person(store, gina.id)
    # Admission is written by other commands; set the column as they would.
    for who, decision in ((anna, "admitted"), (bob, "waitlisted"), (dora, "declined")):
        store.db.table("recipients").update(who.id, {"admission": decision})
    return store


def export(store: Store, event: EventConfig, fmt: str) -> bytes:
    columns, rows = export_table(store, event, "meetings")
    out = io.BytesIO()
    write_export(columns, rows, fmt, out)
    return out.getvalue()


# the meetings table


def test_meetings_csv_is_exact(answered: Store, event: EventConfig) -> None:
    assert export(answered, event, "csv").decode("utf-8-sig").split("\r\n") == MEETINGS_CSV


def test_meetings_json_leaves_out_no_and_unanswered_and_keeps_raw_text(
        answered: Store, event: EventConfig) -> None:
    items = json.loads(export(answered, event, "json"))
    assert [(item["company"], item["email"]) for item in items] == [
        ("Cilas", "bob@example.org"), ("Cilas", "anna@example.org"),
        ("Kreon", "carla@example.org"), ("Kreon", "anna@example.org"), ("Leukos", None)]
    assert items[0]["organisation"] == "@Lasernetz"
    assert items[1]["topics"] == ATTACK
    assert items[4] == {**dict.fromkeys(MEETING_COLUMNS), "company": "Leukos"}


def test_a_company_nobody_wants_appears_once_with_empty_person_columns(
        store: Store, event: EventConfig) -> None:
    store.add_recipients([person("anna@example.org")])
    store.record_answer(store.find_recipient("anna@example.org").id, "yes", {}, "web")
    items = json.loads(export(store, event, "json"))
    assert [item["company"] for item in items] == ["Cilas", "Kreon", "Leukos"]
    assert all(item["email"] is None and item["attendance"] is None for item in items)


def test_meetings_without_companies_is_a_clear_error(store: Store, settings: Settings) -> None:
    with pytest.raises(InviteError) as error:
        export_table(store, load_event(settings.event_file), "meetings")
    assert str(error.value) == "event.toml lists no companies, so there are no meetings to export"


# the workbook


@pytest.fixture
def book(answered: Store, event: EventConfig, tmp_path: Path) -> dict[str, Worksheet]:
    path = tmp_path / "book.xlsx"
    write_workbook(answered, event, path)
    loaded = load_workbook(path)
    return {name: loaded[name] for name in loaded.sheetnames}


def values(sheet: Worksheet) -> list[list[Any]]:
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


def test_workbook_sheets_and_their_headers(book: dict[str, Worksheet]) -> None:
    # The option labelled like the summary sheet gets a number: the summary keeps its name.
    assert list(book) == ["Antworten", "Gesprächswünsche", "Visits", "Symposium", DINNER_SHEET,
                          "Übersicht (2)", "Übersicht"]
    headers = {name: values(sheet)[0] for name, sheet in book.items()}
    assert len(RESPONSE_COLUMNS) == 11 and len(PART_COLUMNS) == len(PART_HEADINGS)
    assert len(MEETING_COLUMNS) == len(MEETING_HEADINGS) and len(SUMMARY_COLUMNS) == 3
    assert headers == {
        "Antworten": ["E-Mail", "Vorname", "Nachname", "Organisation", "Rolle", "Sprache",
                      "Antwort", "Geantwortet am", "Zulassung", "Vorgeschlagen von",
                      "Versandgruppe", "Teile", "Hilfe", "Kommentar", "Companies to meet",
                      "Topics", "Evening", "Unzustellbar seit", "Grund der Unzustellbarkeit"],
        "Gesprächswünsche": MEETING_HEADINGS,
        **{name: PART_HEADINGS for name in ("Visits", "Symposium", DINNER_SHEET,
                                            "Übersicht (2)")},
        "Übersicht": ["Bereich", "Eintrag", "Anzahl"],
    }
    for name, sheet in book.items():
        assert all(cell.font.b for cell in sheet[1]), name
        assert sheet.freeze_panes == "A2", name
        rows = len(values(sheet))
        assert sheet.auto_filter.ref == f"A1:{sheet.cell(1, sheet.max_column).column_letter}{rows}"


def test_workbook_rows_match_the_exports_and_formulas_stay_text(
        book: dict[str, Worksheet]) -> None:
    assert len(values(book["Antworten"])) == 1 + 5
    # The CSV's apostrophes keep formulas text; the workbook's text cells need none (#8).
    # Roles and answers are words in the workbook (#10).
    words = {"network_manager": "Netzwerkmanagement", "company": "Unternehmen",
             "yes": "Zusage", "maybe": "Vielleicht"}
    csv_rows = [[words.get(value, value.removeprefix("'")) or None for value in row]
                for row in csv.reader(MEETINGS_CSV[1:-1])]
    assert values(book["Gesprächswünsche"])[1:] == csv_rows
    topics = book["Gesprächswünsche"]["I3"]
    assert (topics.value, topics.data_type) == (ATTACK, "s")
    assert values(book["Visits"])[1:] == [
        ["carla@example.org", "Carla", "Meier", "Meier KG", "Unternehmen", "Vielleicht", None],
        ["anna@example.org", "Anna", "Zeller", "Zeller Optik GmbH", "Unternehmen", "Zusage",
         "zugelassen"]]
    assert values(book["Symposium"])[1:] == [
        ["bob@example.org", "Bob", "Adler", "@Lasernetz", "Netzwerkmanagement", "Zusage",
         "Warteliste"],
        ["anna@example.org", "Anna", "Zeller", "Zeller Optik GmbH", "Unternehmen", "Zusage",
         "zugelassen"]]
    assert [row[0] for row in values(book[DINNER_SHEET])[1:]] == ["anna@example.org"]
    assert values(book["Übersicht (2)"])[1:] == []
    for name, sheet in book.items():
        assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row), name


def test_summary_counts(book: dict[str, Worksheet]) -> None:
    # In the event's language (#10): sections, answers, decisions and question labels.
    assert values(book["Übersicht"])[1:] == [
        ["Empfänger", "insgesamt", 5],
        ["Empfänger", "auf Wunsch gelöscht", 1],
        ["Antworten", "Zusage", 2], ["Antworten", "Absage", 1], ["Antworten", "Vielleicht", 1],
        ["Antworten", "keine Antwort", 1],
        ["Zulassung", "zugelassen", 1], ["Zulassung", "Warteliste", 1],
        ["Zulassung", "abgelehnt", 1], ["Zulassung", "zurückgezogen", 0],
        ["Teile", "Visits", 2], ["Teile", "Symposium", 2],
        ["Evening", "Abendessen: Restaurant [Limoges]/Zentrum, mit Weinprobe", 1],
        ["Evening", "Übersicht", 0],
        ["Gesprächswünsche", "Cilas", 2], ["Gesprächswünsche", "Kreon", 2],
        ["Gesprächswünsche", "Leukos", 0],
    ]


def test_an_event_without_companies_gets_no_meetings_sheet(
        store: Store, settings: Settings) -> None:
    out = io.BytesIO()
    write_workbook(store, load_event(settings.event_file), out)
    assert load_workbook(out).sheetnames == ["Antworten", "Visits", "Symposium", "Übersicht"]


@pytest.mark.parametrize(("label", "taken", "expected"), [
    ("a/b\\c[d]e:f*g?h", set(), "a b c d e f g h"),
    ("x" * 40, set(), "x" * 30 + "…"),
    ("Besuche bei Unternehmen und Laboren (1. Tag)", set(), "Besuche bei Unternehmen und…"),
    ("Besuche bei Unternehmen und Laboren (1. Tag)", {"besuche bei unternehmen und…"},
     "Besuche bei Unternehmen… (2)"),
    ("Ein Abend im Musée national Adrien Dubouché", set(), "Ein Abend im Musée national…"),
    ("Symposium (2. Tag): Vorträge", set(), "Symposium (2. Tag) Vorträge"),
    ("'Quoted' ", set(), "Quoted"),
    ("[]:*?", set(), "option_id"),
    ("Visits", {"visits"}, "Visits (2)"),
    ("Visits", {"visits", "visits (2)"}, "Visits (3)"),
    ("History", set(), "History (2)"),
    ("y" * 31, {"y" * 31}, "y" * 26 + "… (2)"),
])
def test_sheet_names_are_ones_excel_accepts(label: str, taken: set[str], expected: str) -> None:
    assert sheet_name(label, taken, "option_id") == expected
    assert expected.casefold() in taken


# the command line, on the shipped example


def invite(*args: str | Path) -> Result:
    env = {"INVITE_SECRET_KEY": TEST_KEY, "INVITE_BASE_URL": "https://rsvp.example.org"}
    return CliRunner().invoke(app, [str(a) for a in args], env=env, catch_exceptions=False)


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """`invite init` with the sample recipients and three answers recorded by the organiser."""
    folder = tmp_path / "limoges"
    for args in (
        ("init", folder),
        ("import", folder / "recipients.csv"),
        ("record", "juergen.mueller@example.org", "--attendance", "yes", "--answer", "parts=visits",
         "--answer", "parts=brokerage", "--answer", "meet=kreon", "--answer", "meet=cilas",
         "--answer", "topics==SUM(1,2)"),
        ("record", "sabine.schaefer@ikt-netz.example.org", "--attendance", "yes",
         "--answer", "parts=symposium", "--answer", "meet=cilas"),
        ("record", "katrin.weiss@example.com", "--attendance", "no"),
    ):
        result = invite(*args, *(() if args[0] == "init" else ("-w", folder)))
        assert result.exit_code == 0, result.output
    return folder


def test_cli_exports_the_examples_meetings_as_json(example: Path) -> None:
    result = invite("export", "--what", "meetings", "--format", "json", "-w", example)
    assert result.exit_code == 0, result.output
    items = json.loads(result.stdout)
    assert [(item["company"], item["last_name"]) for item in items] == [
        ("Cilas", "Müller"), ("Cilas", "Schäfer"), ("Cerlase", None), ("Cerampilot", None),
        ("Ceradrop", None), ("I.Ceram", None), ("Metis Biotech", None), ("Leukos", None),
        ("Kreon", "Müller")]
    assert items[0] == {
        "company": "Cilas",
        "company_field": "Optische Keramik (größeres Unternehmen, in Limoges ganz darauf "
                         "spezialisiert)",
        "email": "juergen.mueller@example.org", "first_name": "Jürgen", "last_name": "Müller",
        "organisation": "Produktionsnetz Süd e.V.", "sector": "production",
        "role": "network_manager", "topics": "=SUM(1,2)", "attendance": "yes"}


def test_cli_xlsx_without_what_writes_the_workbook(example: Path, tmp_path: Path) -> None:
    path = tmp_path / "limoges.xlsx"
    result = invite("export", "--format", "xlsx", "-o", path, "-w", example)
    assert result.exit_code == 0, result.output
    assert result.stderr == f"Wrote {path}\n"
    book = load_workbook(path)
    assert book.sheetnames == ["Antworten", "Gesprächswünsche", "Besuche bei Unternehmen und…",
                               "Symposium (2. Tag)", "Kooperationsbörse (2. Tag)", "Übersicht"]
    topics = book["Gesprächswünsche"]["I2"]
    assert (topics.value, topics.data_type) == ("=SUM(1,2)", "s")
    assert [row[0].value for row in book["Kooperationsbörse (2. Tag)"].iter_rows()] == [
        "E-Mail", "juergen.mueller@example.org"]
    counts = {(section, item): count for section, item, count in
              book["Übersicht"].iter_rows(min_row=2, values_only=True)}
    parts = "An welchen Programmteilen möchten Sie teilnehmen?"
    assert {key: counts[key] for key in [
        ("Empfänger", "insgesamt"), ("Antworten", "Zusage"), ("Antworten", "Absage"),
        ("Antworten", "keine Antwort"), (parts, "Symposium (2. Tag)"),
        ("Gesprächswünsche", "Cilas"), ("Gesprächswünsche", "Kreon"),
        ("Gesprächswünsche", "Leukos")]} == {
        ("Empfänger", "insgesamt"): 12, ("Antworten", "Zusage"): 2, ("Antworten", "Absage"): 1,
        ("Antworten", "keine Antwort"): 9, (parts, "Symposium (2. Tag)"): 1,
        ("Gesprächswünsche", "Cilas"): 2, ("Gesprächswünsche", "Kreon"): 1,
        ("Gesprächswünsche", "Leukos"): 0}
    single = tmp_path / "responses.xlsx"
    result = invite("export", "--what", "responses", "--format", "xlsx", "-o", single,
                    "-w", example)
    assert result.exit_code == 0, result.output
    assert load_workbook(single).sheetnames == ["Antworten"]


@pytest.mark.parametrize(("args", "lines"), [
    (("--what", "all"), [("Error: --what all writes a workbook of several sheets and needs "
                          "--format xlsx"), "Hint: Add --format xlsx -o FILE.xlsx."]),
    (("--what", "minutes", "--format", "xlsx"), [
        ("Error: cannot export 'minutes'; choose one of responses, recipients, outbox, "
         "meetings, schedule, all"),
        ("Hint: Pass --what responses, recipients, outbox, meetings, schedule, or all for the "
         "XLSX workbook with every sheet.")]),
])
def test_cli_export_errors(example: Path, args: tuple[str, ...], lines: list[str]) -> None:
    result = invite("export", *args, "-w", example)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == lines
