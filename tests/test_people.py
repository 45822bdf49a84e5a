"""`invite record`, `history` and `forget` through the CLI on a real workspace."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from mailer.cli import app
from mailer.delivery.outbox import Outbox
from rsvp.store import Store
from tests.conftest import TEST_KEY, person


def invite(workspace: Path, *args: str) -> Any:
    return CliRunner().invoke(app, [*args, "-w", str(workspace)],
                              env={"INVITE_SECRET_KEY": TEST_KEY}, catch_exceptions=False)


def test_record_marks_the_answer_as_the_organisers_and_history_shows_it(
        workspace: Path, store: Store) -> None:
    store.add_recipients([person("anna@example.org", last_name="Schmidt")])
    first = invite(workspace, "record", "anna@example.org", "--attendance", "yes",
                   "--answer", "parts=visits", "--answer", "parts=symposium",
                   "--answer", "comment=Per Telefon")
    assert first.exit_code == 0, first.output
    assert "Recorded for anna@example.org: yes." in first.output
    anna = store.find_recipient("anna@example.org")
    response = store.response(anna.id)
    assert response is not None
    assert (response.attendance, response.source) == ("yes", "organiser")
    assert response.answers["parts"] == ["visits", "symposium"]
    assert response.answers["comment"] == "Per Telefon"
    store.record_answer(anna.id, "no", {}, "web")
    shown = invite(workspace, "history", "anna@example.org")
    assert shown.exit_code == 0
    lines = [line for line in shown.output.splitlines() if "organiser" in line or " web " in line]
    assert len(lines) == 2
    assert "organiser" in lines[0] and "yes" in lines[0]
    assert " web " in lines[1] and " no " in lines[1]


def test_record_refuses_an_invalid_answer_and_changes_nothing(
        workspace: Path, store: Store) -> None:
    store.add_recipients([person("anna@example.org", last_name="Schmidt")])
    result = invite(workspace, "record", "anna@example.org", "--attendance", "perhaps")
    assert result.exit_code == 1
    assert "Error: the answer for anna@example.org was not recorded: attendance:" in result.output
    bad_pair = invite(workspace, "record", "anna@example.org", "--attendance", "yes",
                      "--answer", "no-equals-sign")
    assert "Error: --answer 'no-equals-sign' is not QUESTION=VALUE" in bad_pair.output
    assert store.response(store.find_recipient("anna@example.org").id) is None
    assert invite(workspace, "history", "anna@example.org").output.strip() == (
        "anna@example.org has not answered yet.")


def test_forget_erases_personal_data_from_the_files_and_keeps_counts(
        workspace: Path, store: Store) -> None:
    store.add_recipients([person("zoe.unique@example.org", first_name="Zoëunique",
                                 last_name="Lefèvreunique", role="company"),
                          person("other@example.org", last_name="Other")])
    zoe = store.find_recipient("zoe.unique@example.org")
    store.record_answer(zoe.id, "yes", {"comment": "secret-comment-text"}, "web")
    Outbox(store).queue("invitation")
    result = invite(workspace, "forget", "zoe.unique@example.org", "--yes")
    assert result.exit_code == 0, result.output
    assert f"logged as recipient #{zoe.id}" in result.output
    for path in workspace.glob("invite.db*"):
        data = path.read_bytes()
        for secret in (b"zoe.unique", "Zoëunique".encode(), "Lefèvreunique".encode(),
                       b"secret-comment-text"):
            assert secret not in data, (path.name, secret)
    assert store.attendance_counts()["yes"] == 1
    assert [r.email for r in store.recipients()] == ["other@example.org"]
    gone = invite(workspace, "history", "zoe.unique@example.org")
    assert "Error: no recipient 'zoe.unique@example.org' in this workspace" in gone.output
    assert store.conn.execute("SELECT count(*) FROM deletions").fetchone()[0] == 1


def test_forget_without_yes_and_without_a_terminal_erases_nothing(
        workspace: Path, store: Store) -> None:
    store.add_recipients([person("anna@example.org", last_name="Schmidt")])
    result = invite(workspace, "forget", "anna@example.org")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "Error: `invite forget` needs --yes when it cannot ask (no terminal)",
        ("Hint: Add --yes to answer yes to: Erase everything about anna@example.org? This "
         "cannot be undone."),
    ]
    assert store.find_recipient("anna@example.org").last_name == "Schmidt"


def test_history_reads_as_words_with_the_full_time_in_the_events_zone(
        workspace: Path, store: Store) -> None:
    store.add_recipients([person("anna@example.org", last_name="Schmidt")])
    anna = store.find_recipient("anna@example.org")
    store.record_answer(anna.id, "yes", {"parts": ["visits", "symposium"], "french_help": True,
                                         "comment": "Per Telefon"}, "organiser",
                        now=datetime(2030, 3, 1, 8, 5, 9, tzinfo=UTC))
    store.record_answer(anna.id, "no", {}, "web", now=datetime(2030, 4, 2, 7, 0, tzinfo=UTC))
    shown = CliRunner().invoke(app, ["history", "anna@example.org", "-w", str(workspace)],
                               env={"INVITE_SECRET_KEY": TEST_KEY, "COLUMNS": "80"},
                               catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    # Option labels, not ids in a Python list; yes for True; Paris time, winter and summer.
    assert [line.rstrip() for line in shown.output.splitlines()] == [
        "Answers of anna@example.org",
        "┏━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━┳━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━┓",
        "┃ time                     ┃ source    ┃ answer ┃ details                  ┃",
        "┡━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━╇━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━┩",
        "│ 2030-03-01 09:05:09 CET  │ organiser │ yes    │ parts: Visits, Symposium │",
        "│                          │           │        │ french_help: yes         │",
        "│                          │           │        │ comment: Per Telefon     │",
        "│ 2030-04-02 09:00:00 CEST │ web       │ no     │                          │",
        "└──────────────────────────┴───────────┴────────┴──────────────────────────┘",
    ]


def test_record_names_the_valid_choices_and_questions(workspace: Path, store: Store) -> None:
    store.add_recipients([person("anna@example.org", last_name="Schmidt")])
    wrong = invite(workspace, "record", "anna@example.org", "--attendance", "yes",
                   "--answer", "parts=visit")
    assert wrong.exit_code == 1
    assert wrong.output.splitlines() == [
        "Error: --answer parts=visit is not a choice; use one of: visits, symposium"]
    unknown = invite(workspace, "record", "anna@example.org", "--attendance", "yes",
                     "--answer", "dinner=yes")
    assert unknown.output.splitlines() == [
        "Error: --answer dinner=yes names no question; use one of: parts, french_help, comment"]
    assert store.response(store.find_recipient("anna@example.org").id) is None
