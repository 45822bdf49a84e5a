"""Exports for a German office (#10): `invite export --excel` and the workbook, read back
from the files the CLI writes, in the event's language, with dates as dates."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner, Result

from mailer.cli import app
from mailer.delivery.outbox import Outbox, Outcome
from rsvp.store import Store
from tests.conftest import TEST_KEY, person
from tests.test_spreadsheet_safety import runs_as_formula

MORE_TOML = """
[[companies]]
id = "cilas"
name = "Cilas"

[[companies]]
id = "kreon"
name = "Kreon SA"

[[questions]]
id = "meet"
type = "choices"
label = { de = "Treffen mit", fr = "Rencontrer", en = "Meet" }
options_from = "companies"

[[questions]]
id = "guests"
type = "number"
label = { de = "Gäste", fr = "Invités", en = "Guests" }

[[questions]]
id = "evening"
type = "choices"
label = { de = "Abendprogramm", fr = "Soirée", en = "Evening" }
options = [
  { id = "dinner", label = { de = "Abendessen im Restaurant des Musée national Adrien Dubouché", fr = "Dîner", en = "Dinner" } },
]
"""
# A second formula after the ";" would start a cell of its own in a German Excel.
ATTACK = '=HYPERLINK("http://evil.example");=1+1'
BOM = b"\xef\xbb\xbf"
HEADER_DE = ["E-Mail", "Vorname", "Nachname", "Organisation", "Rolle", "Sprache", "Antwort",
             "Geantwortet am", "Zulassung", "Vorgeschlagen von", "Versandgruppe", "Teile",
             "Hilfe", "Kommentar", "Treffen mit", "Gäste", "Abendprogramm", "Unzustellbar seit",
             "Grund der Unzustellbarkeit"]
DINNER_DE = "Abendessen im Restaurant des Musée national Adrien Dubouché"


def invite(workspace: Path, *args: str | Path) -> Result:
    return CliRunner().invoke(app, [*map(str, args), "-w", str(workspace)],
                              env={"INVITE_SECRET_KEY": TEST_KEY}, catch_exceptions=False)


def edit_event(workspace: Path, old: str, new: str) -> None:
    path = workspace / "event.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.fixture
def answered(workspace: Path, store: Store) -> Path:
    """Anna (yes, admitted, a fraction of a guest), Bob (no, late at night UTC, a formula
    as comment), Carla (no answer), and one invitation sent to Anna."""
    with (workspace / "event.toml").open("a", encoding="utf-8") as toml:
        toml.write(MORE_TOML)
    store.add_recipients([
        person("anna@example.org", first_name="Anna", last_name="Zeller",
               organisation="Straße & Söhne", role="network_manager"),
        replace(person("bob@example.org", "fr", first_name="Bob", last_name="Hacker",
                       organisation="@SUM(A1)", role="company")),
        person("carla@example.org", "en", first_name="Carla", last_name="Meier", role="company"),
    ])
    anna, bob = (store.find_recipient(f"{name}@example.org") for name in ("anna", "bob"))
    store.record_answer(anna.id, "yes", {
        "parts": ["visits", "symposium"], "french_help": True, "comment": "Grüße",
        "meet": ["kreon", "cilas"], "guests": 1.5, "evening": ["dinner"]},
        "web", now=datetime(2030, 3, 1, 10, 0, tzinfo=UTC))
    # 23:30 UTC is already the next day in Paris.
    store.record_answer(bob.id, "no", {"french_help": False, "comment": ATTACK}, "web",
                        now=datetime(2030, 3, 2, 23, 30, tzinfo=UTC))
    store.db.table("recipients").update(anna.id, {"admission": "admitted"})
    outbox = Outbox(store)
    outbox.queue("invitation", now=datetime(2030, 2, 1, 8, 0, tzinfo=UTC))
    first = next(iter(outbox.pending("invitation")))
    outbox.claim([(first.id, "<1@example.org>")], now=datetime(2030, 2, 1, 8, 0, tzinfo=UTC))
    outbox.finish([Outcome(first.id, "sent", "250 OK")],
                  now=datetime(2030, 2, 1, 8, 1, tzinfo=UTC))
    return workspace


def export_file(workspace: Path, tmp_path: Path, *args: str) -> bytes:
    path = tmp_path / "export.out"
    result = invite(workspace, "export", *args, "-o", path)
    assert result.exit_code == 0, result.output
    return path.read_bytes()


def excel_rows(data: bytes) -> list[list[str]]:
    """Read as a German Excel does: BOM for UTF-8, cells split at ";"."""
    assert data.startswith(BOM)
    return list(csv.reader(io.StringIO(data[len(BOM):].decode("utf-8"), newline=""),
                           delimiter=";"))


def test_excel_csv_has_german_words_local_dates_and_semicolons(answered: Path,
                                                               tmp_path: Path) -> None:
    rows = excel_rows(export_file(answered, tmp_path, "--excel"))
    assert rows == [
        HEADER_DE,
        ["anna@example.org", "Anna", "Zeller", "Straße & Söhne", "Netzwerkmanagement",
         "Deutsch", "Zusage", "01.03.2030 11:00", "zugelassen", "", "", "Visits; Symposium",
         "Ja", "Grüße", "Kreon SA; Cilas", "1,5", DINNER_DE, "", ""],
        ["bob@example.org", "Bob", "Hacker", "'@SUM(A1)", "Unternehmen", "Französisch",
         "Absage", "03.03.2030 00:30", "", "", "", "", "Nein",
         '\'=HYPERLINK("http://evil.example");\'=1+1', "", "", "", "", ""],
        ["carla@example.org", "Carla", "Meier", "", "Unternehmen", "Englisch", "", "", "", "",
         "", "", "", "", "", "", "", "", ""],
    ]


def test_excel_csv_of_the_outbox_names_mailings_and_states(answered: Path,
                                                          tmp_path: Path) -> None:
    rows = excel_rows(export_file(answered, tmp_path, "--excel", "--what", "outbox"))
    assert rows[0] == ["E-Mail", "Aussendung", "Stand", "Versuche",
                       "Letzte Antwort des Mailservers", "Message-ID", "Gesendet am"]
    assert rows[1] == ["anna@example.org", "Einladung", "gesendet", "1", "250 OK",
                       "<1@example.org>", "01.02.2030 09:01"]
    assert [row[2] for row in rows[2:]] == ["wartet", "wartet"]


def test_no_cell_of_the_excel_csv_runs_as_a_formula(answered: Path, tmp_path: Path) -> None:
    for what in ("responses", "recipients"):
        cells = [cell for row in excel_rows(export_file(answered, tmp_path, "--excel",
                                                        "--what", what)) for cell in row]
        assert [cell for cell in cells if runs_as_formula(cell)] == [], what
        assert any(cell.startswith("'@SUM") for cell in cells), what


@pytest.mark.parametrize(("language", "answer", "when", "yes", "guests"), [
    ("fr", "Oui", "01/03/2030 11:00", "Oui", "1,5"),
    ("en", "Yes", "2030-03-01 11:00", "Yes", "1.5"),
])
def test_excel_csv_follows_the_events_language(answered: Path, tmp_path: Path, language: str,
                                               answer: str, when: str, yes: str,
                                               guests: str) -> None:
    edit_event(answered, 'default_language = "de"', f'default_language = "{language}"')
    header, anna, *_ = excel_rows(export_file(answered, tmp_path, "--excel"))
    row = dict(zip(header, anna, strict=True))
    assert [row[header[index]] for index in (6, 7, 12, 15)] == [answer, when, yes, guests]
    assert header[1] == {"fr": "Prénom", "en": "First name"}[language]


def test_the_workspace_setting_makes_csv_for_excel_and_no_excel_overrides_it(
        answered: Path, tmp_path: Path) -> None:
    with (answered / "event.toml").open("a", encoding="utf-8") as toml:
        toml.write("\n[export]\nexcel = true\n")
    assert excel_rows(export_file(answered, tmp_path))[0] == HEADER_DE
    plain = export_file(answered, tmp_path, "--no-excel").decode("utf-8-sig").split("\r\n")
    assert plain[0].startswith("email,first_name,last_name,organisation,role,language,"
                               "attendance,responded_at,admission")
    assert ",yes,2030-03-01T10:00:00+00:00,admitted," in plain[1]
    # JSON stays the machine form whatever the setting says.
    anna = json.loads(export_file(answered, tmp_path, "--format", "json"))[0]
    assert (anna["attendance"], anna["responded_at"], anna["meet"], anna["french_help"]) == (
        "yes", "2030-03-01T10:00:00+00:00", "kreon; cilas", "yes")


def test_csv_without_excel_is_the_machine_form(answered: Path, tmp_path: Path) -> None:
    lines = export_file(answered, tmp_path).decode("utf-8-sig").split("\r\n")
    assert lines[0].split(",")[-8:] == ["parts", "french_help", "comment", "meet", "guests",
                                        "evening", "bounced", "bounce_reason"]
    assert lines[1].endswith(",admitted,,,visits; symposium,yes,Grüße,kreon; cilas,1.5,dinner,,")


def test_excel_with_json_is_an_error(answered: Path) -> None:
    result = invite(answered, "export", "--format", "json", "--excel")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Error: --excel is for CSV; JSON always holds ids and ISO times in UTC",
        "Hint: Pass --format csv --excel, or leave out --excel."]


def test_a_wrong_setting_names_its_key(answered: Path) -> None:
    with (answered / "event.toml").open("a", encoding="utf-8") as toml:
        toml.write('\n[export]\nexcel = "ja"\n')
    result = invite(answered, "export")
    assert result.exit_code == 1
    assert "'export.excel' must be a bool, not 'ja'" in result.stderr


def test_the_workbook_types_dates_and_speaks_german(answered: Path, tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    result = invite(answered, "export", "--format", "xlsx", "-o", path)
    assert result.exit_code == 0, result.output
    book = load_workbook(path)
    assert book.sheetnames == ["Antworten", "Gesprächswünsche", "Visits", "Symposium",
                               "Abendessen im Restaurant des…", "Übersicht"]
    assert all(len(name) <= 31 for name in book.sheetnames)
    answers = book["Antworten"]
    assert [cell.value for cell in answers[1]] == HEADER_DE
    answered_at = answers["H2"]
    assert (answered_at.value, answered_at.is_date, answered_at.number_format) == (
        datetime(2030, 3, 1, 11, 0), True, "dd.mm.yyyy hh:mm")
    assert answers["H3"].value == datetime(2030, 3, 3, 0, 30)
    assert [answers[ref].value for ref in ("E2", "G2", "I2", "M2", "M3", "O2", "P2")] == [
        "Netzwerkmanagement", "Zusage", "zugelassen", "Ja", "Nein", "Kreon SA; Cilas", 1.5]
    # Typed as text, a formula needs no apostrophe in the workbook (#8).
    assert (answers["N3"].value, answers["N3"].data_type) == (ATTACK, "s")
    visits = [[cell.value for cell in row] for row in book["Visits"].iter_rows()]
    assert visits == [
        ["E-Mail", "Vorname", "Nachname", "Organisation", "Rolle", "Antwort", "Zulassung"],
        ["anna@example.org", "Anna", "Zeller", "Straße & Söhne", "Netzwerkmanagement",
         "Zusage", "zugelassen"]]
    summary = [list(row) for row in book["Übersicht"].iter_rows(values_only=True)]
    assert summary[:4] == [["Bereich", "Eintrag", "Anzahl"], ["Empfänger", "insgesamt", 3],
                           ["Empfänger", "auf Wunsch gelöscht", 0], ["Antworten", "Zusage", 1]]
    assert ["Abendprogramm", DINNER_DE, 1] in summary
    assert ["Gesprächswünsche", "Kreon SA", 1] in summary


def test_a_single_table_workbook_types_its_dates(answered: Path, tmp_path: Path) -> None:
    path = tmp_path / "outbox.xlsx"
    result = invite(answered, "export", "--what", "outbox", "--format", "xlsx", "-o", path)
    assert result.exit_code == 0, result.output
    book = load_workbook(path)
    assert book.sheetnames == ["Postausgang"]
    sent = book["Postausgang"]["G2"]
    assert (sent.value, sent.number_format) == (datetime(2030, 2, 1, 9, 1), "dd.mm.yyyy hh:mm")
    assert book["Postausgang"]["B2"].value == "Einladung"


def test_excel_csv_of_the_outbox_names_rounds_and_its_own_notes(
        answered: Path, store: Store, tmp_path: Path) -> None:
    ids = {name: store.find_recipient(f"{name}@example.org").id for name in ("anna", "bob")}
    with store.write():
        store.conn.executemany(
            "INSERT INTO outbox (recipient_id, mailing, state, last_reply, queued_at, "
            "updated_at) VALUES (?, ?, 'cancelled', ?, '2030-02-02T08:00:00Z', "
            "'2030-02-02T08:00:00Z')",
            [(ids["anna"], "update-2", "replaced by update-3"),
             (ids["anna"], "agenda-1", "queued again on purpose"),
             (ids["anna"], "reminder", "answered"),
             (ids["bob"], "confirmation", "decision changed"),
             (ids["bob"], "reminder", "unsubscribed")])
    rows = excel_rows(export_file(answered, tmp_path, "--excel", "--what", "outbox"))
    assert [(row[1], row[4]) for row in rows[-5:]] == [
        ("Aktualisierung 2", "ersetzt durch Aktualisierung 3"),
        ("Terminplan 1", "auf Wunsch erneut vorgemerkt"),
        ("Erinnerung", "hat geantwortet"),
        ("Bestätigung", "Entscheidung geändert"),
        ("Erinnerung", "abgemeldet")]
