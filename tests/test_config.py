"""event.toml: the shipped example loads, and every mistake names the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from mailer.cli import app
from rsvp.config import load_event
from rsvp.errors import ConfigError
from tests.conftest import TEST_KEY

EXAMPLE_HINT = "Compare with the example: `invite init /tmp/example` writes one."
COMPANIES = ["cilas", "cerlase", "cerampilot", "ceradrop", "iceram", "metis_biotech", "leukos",
             "kreon"]

# A small valid event of our own, so that the line and entry numbers below stay put.
EVENT = """\
[event]
title = { de = "Testtreffen", fr = "Réunion test", en = "Test meeting" }
start = 2030-04-10T09:00:00+02:00
end = 2030-04-10T18:00:00+02:00
timezone = "Europe/Paris"
location = "Limoges"
default_language = "de"
languages = ["de", "fr", "en"]

[sender]
from = "Programmbüro <office@example.org>"

[rsvp]
deadline = 2030-03-26T18:00:00+01:00
admission = "selection"

[[questions]]
id = "parts"
type = "choices"
label = "Parts"
options = [ { id = "visits", label = "Visits" }, { id = "symposium", label = "Symposium" } ]

[[questions]]
id = "french_help"
type = "boolean"
label = "Help"
"""


def write_event(folder: Path, old: str = "", new: str = "") -> Path:
    """Write EVENT into `folder`, with `old` replaced by `new` (which must be there)."""
    assert old in EVENT, f"{old!r} is not in the test event"
    path = folder / "event.toml"
    path.write_text(EVENT.replace(old, new, 1) if old else EVENT, encoding="utf-8")
    return path


def config_error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_event(path)
    return caught.value


def invite(*args: str) -> Result:
    env = {"INVITE_SECRET_KEY": TEST_KEY, "INVITE_BASE_URL": "http://testserver"}
    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)


def test_the_test_event_itself_loads(tmp_path: Path) -> None:
    event = load_event(write_event(tmp_path))
    assert [q.id for q in event.questions] == ["parts", "french_help"]


def test_the_shipped_example_loads(tmp_path: Path) -> None:
    folder = tmp_path / "limoges"
    result = invite("init", str(folder))
    assert result.exit_code == 0, result.output
    event = load_event(folder / "event.toml")
    assert event.languages == ("de", "fr", "en")
    assert event.default_language == "de"
    assert [q.id for q in event.questions] == [
        "parts", "meet", "topics", "french_help", "programme_wishes", "comment"]
    meet = event.question("meet")
    assert meet is not None
    assert [option.id for option in meet.options] == COMPANIES
    assert [c.id for c in event.companies] == COMPANIES
    assert meet.options[0].label == {"de": "Cilas", "fr": "Cilas", "en": "Cilas"}
    assert event.rsvp.deadline.utcoffset() is not None
    assert event.start.utcoffset() is not None
    assert event.rsvp.deadline < event.start
    assert event.rsvp.quotas == {"network_manager": 2, "company": 2}
    assert len(event.programme) == 5


@pytest.mark.parametrize(("old", "new", "problem"), [
    ("[sender]", "[extras]\nanswer = 42\n\n[sender]",
     "'extras' is not a known setting (a typo?)"),
    ('location = "Limoges"', 'location = "Limoges"\ntitel = "Treffen"',
     "'event.titel' is not a known setting (a typo?)"),
    ('from = "Programmbüro <office@example.org>"', 'reply_to = "office@example.org"',
     "'sender.from' is missing"),
    ("deadline = 2030-03-26T18:00:00+01:00\n", "",
     "'rsvp.deadline' is missing"),
    ("deadline = 2030-03-26T18:00:00+01:00", "deadline = 2027-03-26T18:00:00",
     ("'rsvp.deadline' must be a date-time with UTC offset, like 2027-03-26T18:00:00+01:00, "
      "not 2027-03-26 18:00:00")),
    ("deadline = 2030-03-26T18:00:00+01:00", "deadline = 2027-03-26",
     ("'rsvp.deadline' must be a date-time with UTC offset, like 2027-03-26T18:00:00+01:00, "
      "not 2027-03-26")),
    ('admission = "selection"', 'admission = "lottery"',
     "'rsvp.admission' is 'lottery'; use \"selection\" or \"first-come\""),
    ('type = "boolean"', 'type = "yesno"',
     "'questions[2].type' is 'yesno'; use one of choice, choices, text, boolean, number"),
    ('type = "boolean"', 'type = "choice"',
     "'questions[2].options' is needed for a question of type 'choice'"),
    ('id = "french_help"', 'id = "attendance"',
     "'questions[2].id' is 'attendance', a name the form uses itself; choose another"),
    ('timezone = "Europe/Paris"', 'timezone = "Europe/Limoges"',
     "'event.timezone' is 'Europe/Limoges', not a time zone like 'Europe/Paris'"),
    ('default_language = "de"', 'default_language = "it"',
     "'event.default_language' is 'it' but not in languages"),
    ('languages = ["de", "fr", "en"]', 'languages = ["de", "fr", "en", "es"]',
     "'event.languages' holds 'es'; supported are de, fr, en"),
], ids=["top-level-key", "event-key", "sender-from", "deadline-missing", "deadline-offset",
        "deadline-date", "admission", "question-type", "choice-options", "reserved-id",
        "timezone", "default-language", "language-es"])
def test_a_mistake_names_the_file_and_the_key(tmp_path: Path, old: str, new: str,
                                              problem: str) -> None:
    path = write_event(tmp_path, old, new)
    error = config_error(path)
    assert error.message == f"{path}: {problem}"
    assert error.hint == EXAMPLE_HINT


def test_a_question_id_used_twice_is_refused(tmp_path: Path) -> None:
    path = write_event(tmp_path, 'id = "french_help"', 'id = "parts"')
    assert config_error(path).message == f"{path}: 'questions[2].id' is 'parts', already used by an earlier question"


def test_invalid_toml_says_so_with_the_place(tmp_path: Path) -> None:
    path = write_event(tmp_path, 'location = "Limoges"', "location = Limoges")
    assert config_error(path).message == (
        f"{path} is not valid TOML: Invalid value (at line 6, column 12)")


def test_a_missing_event_file_points_to_invite_init(tmp_path: Path) -> None:
    error = config_error(tmp_path / "event.toml")
    assert error.message == f"{tmp_path / 'event.toml'} does not exist"
    assert error.hint == "Run `invite init DIR` to create a workspace, or pass -w DIR."


def test_the_cli_reports_a_typo_with_error_and_hint_lines(tmp_path: Path) -> None:
    path = write_event(tmp_path, 'location = "Limoges"', 'location = "Limoges"\ntitel = "x"')
    result = invite("status", "-w", str(tmp_path))
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"Error: {path}: 'event.titel' is not a known setting (a typo?)",
        f"Hint: {EXAMPLE_HINT}",
    ]


def test_the_cli_reports_a_missing_event_file_with_a_hint(tmp_path: Path) -> None:
    result = invite("status", "-w", str(tmp_path))
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"Error: {tmp_path / 'event.toml'} does not exist",
        "Hint: Run `invite init DIR` to create a workspace, or pass -w DIR.",
    ]


def test_the_cli_reports_a_deadline_without_offset(tmp_path: Path) -> None:
    path = write_event(tmp_path, "deadline = 2030-03-26T18:00:00+01:00",
                       "deadline = 2027-03-26T18:00:00")
    result = invite("status", "-w", str(tmp_path))
    assert result.exit_code == 1
    assert (f"Error: {path}: 'rsvp.deadline' must be a date-time with UTC offset, like "
            "2027-03-26T18:00:00+01:00, not 2027-03-26 18:00:00") in result.output
    assert f"Hint: {EXAMPLE_HINT}" in result.output
