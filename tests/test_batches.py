"""Batches (#12): `invite import --batch`, the batch column of the exports, and mails and
answers per batch in `invite status`, through the CLI on a real workspace and relay."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mailer.cli import app
from tests.conftest import TEST_KEY
from tests.relay import ScriptedRelay, running_relay

HEADER = "email,first_name,last_name,organisation,role,language,region\n"
NETWORKS = HEADER + ("anna@example.org,Anna,Schmidt,Cluster Nord,network_manager,de,Nord\n"
                     "bernd@example.org,Bernd,Huber,Cluster Süd,network_manager,de,Süd\n")
COMPANIES = HEADER + ("chloe@example.fr,Chloé,Martin,Martin SA,company,fr,Süd\n"
                      "dieter@example.org,Dieter,Vogel,Vogel GmbH,company,de,Nord\n")


def invite(workspace: Path, port: int, *args: str) -> Any:
    env = {"INVITE_SECRET_KEY": TEST_KEY, "INVITE_SMTP_HOST": "127.0.0.1",
           "INVITE_SMTP_PORT": str(port), "INVITE_BASE_URL": "https://rsvp.example.org"}
    return CliRunner().invoke(app, [*args, "-w", str(workspace)], env=env,
                              catch_exceptions=False)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def exported(workspace: Path, what: str, fmt: str = "csv") -> list[dict[str, Any]]:
    result = invite(workspace, 0, "export", "--what", what, "--format", fmt)
    assert result.exit_code == 0, result.output
    if fmt == "json":
        return list(json.loads(result.stdout))
    return list(csv.DictReader(io.StringIO(result.stdout.lstrip("\ufeff"))))


@pytest.fixture
def relay() -> Any:
    with running_relay() as running:
        yield running


def test_a_person_keeps_the_batch_of_their_first_import_unless_one_is_named(
        workspace: Path, tmp_path: Path) -> None:
    first = invite(workspace, 0, "import", str(write(tmp_path, "networks.csv", NETWORKS)))
    assert first.output == ("Imported networks.csv into batch 'networks': "
                            "2 added, 0 updated, 0 unchanged.\n")
    # An updated list of the first wave, plus one newcomer: nobody moves.
    again = write(tmp_path, "late-additions.csv", NETWORKS + "eva@example.org,Eva,,,,de,\n")
    kept = invite(workspace, 0, "import", str(again))
    assert kept.output.splitlines() == [
        ("Imported late-additions.csv into batch 'late-additions': 1 added, 0 updated, "
         "2 unchanged."),
        "2 already in batch 'networks' stay there (--batch late-additions would move them)."]
    moved = invite(workspace, 0, "import", str(again), "--batch", "wave 2")
    assert moved.output.splitlines() == [
        ("Imported late-additions.csv into batch 'wave 2': 0 added, 0 updated, "
         "3 unchanged."),
        "Moved 1 from batch 'late-additions' to 'wave 2'.",
        "Moved 2 from batch 'networks' to 'wave 2'."]
    batches = {row["email"]: row["batch"] for row in exported(workspace, "recipients")}
    assert batches == {"anna@example.org": "wave 2", "bernd@example.org": "wave 2",
                       "eva@example.org": "wave 2"}


def test_a_batch_name_must_be_printable_and_short(workspace: Path, tmp_path: Path) -> None:
    result = invite(workspace, 0, "import", str(write(tmp_path, "n.csv", NETWORKS)),
                    "--batch", " ")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "Error: '' cannot name a batch: it needs 1 to 60 printable characters",
        "Hint: Give a short name with --batch, e.g. --batch companies."]
    assert exported(workspace, "recipients") == []


def test_exports_and_status_show_each_batch(workspace: Path, tmp_path: Path,
                                            relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    invite(workspace, port, "import", str(write(tmp_path, "networks.csv", NETWORKS)))
    invite(workspace, port, "import", str(write(tmp_path, "companies.csv", COMPANIES)))
    sent = invite(workspace, port, "send", "--yes", "--batch", "networks")
    assert sent.exit_code == 0, sent.output
    assert sorted(m.recipients[0] for m in catcher.snapshot()) == [
        "anna@example.org", "bernd@example.org"]
    recorded = invite(workspace, port, "record", "anna@example.org", "--attendance", "yes")
    assert recorded.exit_code == 0, recorded.output
    invite(workspace, port, "record", "chloe@example.fr", "--attendance", "no")

    responses = {row["email"]: row for row in exported(workspace, "responses")}
    assert {email: row["batch"] for email, row in responses.items()} == {
        "anna@example.org": "networks", "bernd@example.org": "networks",
        "chloe@example.fr": "companies", "dieter@example.org": "companies"}
    as_json = exported(workspace, "recipients", "json")
    assert [(row["email"], row["batch"]) for row in as_json][:1] == [
        ("anna@example.org", "networks")]

    status = json.loads(invite(workspace, port, "status", "--json").stdout)
    assert status["batches"] == [
        {"batch": "networks", "people": 2, "sent": {"invitation": 2},
         "answers": {"yes": 1, "no": 0, "maybe": 0, "none": 1}},
        {"batch": "companies", "people": 2, "sent": {},
         "answers": {"yes": 0, "no": 1, "maybe": 0, "none": 1}}]
    text = invite(workspace, port, "status").stdout
    table = text[text.index("Per batch"):].replace("┃", "│")
    rows = {line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[2:-1]]
            for line in table.splitlines() if line.count("│") > 3}
    assert rows["batch"] == ["people", "invitation sent", "yes", "no", "maybe", "no answer"]
    assert rows["networks"] == ["2", "2", "1", "0", "0", "1"]
    assert rows["companies"] == ["2", "0", "0", "1", "0", "1"]
