"""The `invite` command line through typer's CliRunner on a real workspace folder."""

from __future__ import annotations

import email
import email.policy
import importlib.metadata
import itertools
import json
import re
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
import typer.main
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from mailer.cli import app
from rsvp.config import load_event
from rsvp.i18n import catalogue
from rsvp.settings import SECRET_FILE, load_settings
from rsvp.store import open_store
from rsvp.tokens import ANSWER, UNSUBSCRIBE, LinkSigner
from rsvp.web.app import create_app
from tests.conftest import TEST_KEY

ENV: dict[str, str | None] = {
    "INVITE_SECRET_KEY": TEST_KEY, "INVITE_BASE_URL": "https://rsvp.example.org",
    "INVITE_SMTP_HOST": None, "INVITE_SMTP_PORT": None, "INVITE_SMTP_TLS": None,
    "INVITE_SMTP_USER": None, "INVITE_SMTP_PASSWORD": None,
}
HEADER = "email,first_name,last_name,salutation,title,organisation,role,language,sector\n"
JUERGEN = "juergen.mueller@example.org"


def invite(*args: str | Path, **env: str | None) -> Result:
    """Run `invite ARGS` with a fixed environment; crashes are raised, not hidden."""
    return CliRunner().invoke(app, [str(a) for a in args], env={**ENV, **env},
                              catch_exceptions=False)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A workspace made by `invite init`, nothing imported yet."""
    path = tmp_path / "limoges"
    result = invite("init", path)
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture
def imported(folder: Path) -> Path:
    """The workspace with the sample recipients imported."""
    result = invite("import", folder / "recipients.csv", "-w", folder)
    assert result.exit_code == 0, result.output
    return folder


def parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


# init


def test_init_writes_the_example_workspace(tmp_path: Path) -> None:
    path = tmp_path / "limoges-2027"
    result = invite("init", path, INVITE_SECRET_KEY=None)
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        f"Wrote {path / 'event.toml'}, {path / 'recipients.csv'} and {path / 'templates'}/",
        f"Next: cd {path} && invite import recipients.csv && invite preview <email>",
    ]
    assert sorted(p.name for p in path.iterdir()) == ["event.toml", "recipients.csv", "templates"]
    assert list((path / "templates").iterdir()) == []
    assert (path / "recipients.csv").read_text(encoding="utf-8").startswith(HEADER)
    assert not (path / SECRET_FILE).exists()
    first_use = invite("status", "-w", path, INVITE_SECRET_KEY=None)
    assert first_use.exit_code == 0, first_use.output
    assert (path / SECRET_FILE).exists()


def test_init_never_overwrites_a_workspace(folder: Path) -> None:
    before = (folder / "event.toml").read_bytes()
    result = invite("init", folder)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"Error: {folder / 'event.toml'} already exists; not overwriting it",
        "Hint: Choose another folder, or remove the old workspace first.",
    ]
    assert (folder / "event.toml").read_bytes() == before


def test_a_command_in_a_folder_without_workspace_writes_nothing_there(tmp_path: Path) -> None:
    result = invite("status", "-w", tmp_path, INVITE_SECRET_KEY=None)
    assert result.exit_code == 1
    assert f"Error: {tmp_path / 'event.toml'} does not exist" in result.output
    assert list(tmp_path.iterdir()) == []


# import


def test_import_of_the_sample_file(folder: Path) -> None:
    result = invite("import", folder / "recipients.csv", "-w", folder)
    assert result.exit_code == 0
    assert result.output == ("Imported recipients.csv into batch 'recipients': "
                             "12 added, 0 updated, 0 unchanged.\n")
    again = invite("import", folder / "recipients.csv", "-w", folder)
    assert again.output == ("Imported recipients.csv into batch 'recipients': 0 added, "
                            "0 updated, 12 unchanged.\n")


def test_import_with_bad_rows_lists_them_and_imports_nothing(folder: Path) -> None:
    sample = (folder / "recipients.csv").read_text(encoding="utf-8")
    path = folder / "bad.csv"
    path.write_text(sample
                    + "not-an-address,Max,Mustermann,Herr,,Firma,company,de,production\n"
                    + "ana.lopez@example.org,Ana,López,Sra.,,Cluster,company,es,ict\n",
                    encoding="utf-8")
    result = invite("import", path, "-w", folder)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "Error: bad.csv: 2 of 14 rows have problems; nothing was imported",
        ("  line 14, column email: 'not-an-address' is not an email address "
         "(An email address must have an @-sign.)"),
        "  line 15, column language: 'es' is not one of this event's languages (de, fr, en)",
        ("Hint: Fix those rows and import again, or use --skip-invalid to import the good rows "
         "only."),
    ]
    status = json.loads(invite("status", "--json", "-w", folder).output)
    assert status["recipients"] == 0


def test_skip_invalid_imports_the_rest_and_lists_the_bad_row(folder: Path) -> None:
    path = folder / "some.csv"
    path.write_text(HEADER
                    + "anna@example.org,Anna,Schmidt,Frau,Dr.,Netz,network_manager,de,ict\n"
                    + "not-an-address,Max,Mustermann,Herr,,Firma,company,de,production\n"
                    + "john@example.org,John,Smith,Mr,,Net,company,en,ict\n",
                    encoding="utf-8")
    result = invite("import", "--skip-invalid", path, "-w", folder)
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        "Imported some.csv into batch 'some': 2 added, 0 updated, 0 unchanged.",
        "Skipped 1 bad row:",
        ("  line 3, column email: 'not-an-address' is not an email address "
         "(An email address must have an @-sign.)"),
    ]
    status = json.loads(invite("status", "--json", "-w", folder).output)
    assert status["recipients"] == 2


# preview


def test_preview_prints_subject_and_greeting(imported: Path) -> None:
    event = load_event(imported / "event.toml")
    start = event.start.astimezone(event.zone)
    result = invite("preview", JUERGEN, "-w", imported)
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == ("Subject: Einladung: „Internationalisierung von Clustern: Strategie, "
                        f"Methode und Tools“ – {catalogue('de').shortdate(start)}")
    assert lines[1:3] == ["", "Sehr geehrter Herr Dr. Müller,"]
    assert "https://rsvp.example.org/r/" in result.output


def test_preview_in_french_and_as_reminder(imported: Path) -> None:
    event = load_event(imported / "event.toml")
    deadline = event.rsvp.deadline.astimezone(event.zone)
    result = invite("preview", "Francois.Garcon@Example.com", "--mailing", "reminder",
                    "-w", imported)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    title = event.text(event.title, "fr")
    assert title.startswith("Internationalisation des clusters")
    assert lines[0] == (f"Subject: Rappel : votre réponse pour « {title} » d’ici le "
                        f"{catalogue('fr').shortdate(deadline)}")
    assert lines[2] == "Monsieur Garçon,"


def test_preview_of_an_unknown_address(imported: Path) -> None:
    result = invite("preview", "unknown@example.org", "-w", imported)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "Error: no recipient 'unknown@example.org' in this workspace",
        "Hint: `invite export --what recipients` lists everyone.",
    ]


def test_preview_out_writes_an_eml_file(imported: Path, tmp_path: Path) -> None:
    out = tmp_path / "previews"
    result = invite("preview", JUERGEN, "--out", out, "-w", imported)
    assert result.exit_code == 0
    path = out / f"invitation-{JUERGEN}.eml"
    assert result.output == f"Wrote {path}\n"
    assert [p.name for p in out.iterdir()] == [path.name]
    message = parse(path.read_bytes())
    assert str(message["To"]) == f"Jürgen Müller <{JUERGEN}>"
    assert message.get_content_type() == "multipart/alternative"
    body = message.get_body(("plain",))
    assert body is not None
    assert "Sehr geehrter Herr Dr. Müller," in body.get_content()


# status and export


def test_status_json_after_import(imported: Path) -> None:
    result = invite("status", "--json", "-w", imported)
    assert result.exit_code == 0
    status = json.loads(result.output)
    assert status["recipients"] == 12
    assert status["unsubscribed"] == 0
    assert status["answers"] == {"yes": 0, "no": 0, "maybe": 0, "none": 12}
    assert status["mailings"] == {}
    assert status["admission"] == "selection"
    assert status["quotas"] == {
        "network_manager": {"quota": 2, "yes": 0, "admitted": 0, "waitlisted": 0,
                            "withdrawn": 0},
        "company": {"quota": 2, "yes": 0, "admitted": 0, "waitlisted": 0, "withdrawn": 0}}


def test_export_xlsx_needs_an_output_file(imported: Path) -> None:
    result = invite("export", "--format", "xlsx", "-w", imported)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "Error: XLSX cannot go to the terminal",
        "Hint: Add -o FILE.xlsx.",
    ]


# revoke


@pytest.fixture
def web(imported: Path) -> Iterator[tuple[TestClient, LinkSigner, str]]:
    """The web app over the imported workspace, a signer and the event id."""
    settings = load_settings(imported, {"INVITE_SECRET_KEY": TEST_KEY})
    store = open_store(settings.database)
    try:
        client = TestClient(create_app(settings, load_event(settings.event_file), store))
        yield client, LinkSigner(settings.secret_keys), store.event_id
    finally:
        store.close()


def test_revoke_makes_old_links_stop_working(imported: Path,
                                             web: tuple[TestClient, LinkSigner, str]) -> None:
    client, signer, event_id = web
    store = open_store(imported / "invite.db")
    try:
        juergen = store.find_recipient(JUERGEN)
    finally:
        store.close()
    old_answer = signer.sign(ANSWER, juergen.id, event_id, juergen.token_version)
    old_leave = signer.sign(UNSUBSCRIBE, juergen.id, event_id, juergen.token_version)
    assert client.get(f"/r/{old_answer}").status_code == 200
    result = invite("revoke", JUERGEN.upper(), "-w", imported)
    assert result.exit_code == 0
    assert result.output == f"Links of {JUERGEN} revoked (now version 2).\n"
    assert client.get(f"/r/{old_answer}").status_code == 400
    assert client.get(f"/u/{old_leave}").status_code == 400
    new_answer = signer.sign(ANSWER, juergen.id, event_id, 2)
    assert client.get(f"/r/{new_answer}").status_code == 200


def test_revoke_of_an_unknown_address(imported: Path) -> None:
    result = invite("revoke", "unknown@example.org", "-w", imported)
    assert result.exit_code == 1
    assert "Error: no recipient 'unknown@example.org' in this workspace" in result.output


# send


def test_send_refuses_an_unknown_mailing(imported: Path) -> None:
    result = invite("send", "--mailing", "party", "--yes", "-w", imported)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        ("Error: unknown mailing 'party'; use one of invitation, reminder, confirmation, "
         "regret, waitlist, update, withdrawal, agenda, timetable")]


# help


def command_names() -> list[str]:
    return [command.name or typer.main.get_command_name(command.callback.__name__)
            for command in app.registered_commands if command.callback is not None]


def test_every_command_is_listed() -> None:
    assert command_names() == ["init", "import", "preview", "send", "schedule", "status", "export",
                               "report", "revoke", "serve", "demo", "admit", "waitlist", "decline",
                               "record", "history", "forget", "nominations", "bounces"]


@pytest.mark.parametrize("name", command_names())
def test_every_help_ends_with_an_example(name: str) -> None:
    result = CliRunner().invoke(app, [name, "--help"], env={"COLUMNS": "200"},
                                catch_exceptions=False)
    assert result.exit_code == 0
    text = result.output.split("╭", 1)[0]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    assert lines[-1].startswith("Example: ")
    assert f"invite {name}" in lines[-1]


def group_commands() -> list[tuple[str, str]]:
    """(group, command) for every command of a sub-group such as `invite meetings`."""
    return [(info.name or "", command.name or typer.main.get_command_name(
                command.callback.__name__))
            for info in app.registered_groups if info.typer_instance is not None
            for command in info.typer_instance.registered_commands
            if command.callback is not None]


def test_the_meetings_group_lists_its_commands() -> None:
    assert [name for group, name in group_commands() if group == "meetings"][:4] == [
        "plan", "show", "wish", "company"]


def test_the_dkim_group_lists_its_commands() -> None:
    assert [name for group, name in group_commands() if group == "dkim"] == ["new", "check"]


@pytest.mark.parametrize(("group", "name"), group_commands())
def test_every_group_command_help_ends_with_an_example(group: str, name: str) -> None:
    result = CliRunner().invoke(app, [group, name, "--help"], env={"COLUMNS": "200"},
                                catch_exceptions=False)
    assert result.exit_code == 0
    text = result.output.split("╭", 1)[0]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    assert lines[-1].startswith("Example: ")
    assert f"invite {group} {name}" in lines[-1]


def help_words() -> list[list[str]]:
    """What reaches each help page: the root, every command, the groups and their commands."""
    groups = list(dict.fromkeys(group for group, _ in group_commands()))
    return [[], *([name] for name in command_names()), *([group] for group in groups),
            *([group, name] for group, name in group_commands())]


def example_line(words: list[str], columns: int) -> list[str]:
    result = CliRunner().invoke(app, [*words, "--help"], env={"COLUMNS": str(columns)},
                                catch_exceptions=False)
    return [line.strip() for line in result.output.splitlines()
            if line.strip().startswith("Example: ")]


def kept_breaks(output: str) -> list[str]:
    """Lines of the help's text and of its list of commands that end although the next
    word of their paragraph would have fit: a line break kept from a docstring's source."""
    found = []
    text, _, panels = output.partition("╭")
    lines = text.splitlines()
    for line, after in itertools.pairwise(lines):
        if line.strip() and after.strip() and len(line.rstrip()) + 1 + len(after.split()[0]) <= 79:
            found.append(line.strip())
    commands = panels.partition("Commands")[2].splitlines()
    for line, after in itertools.pairwise(commands):
        words = after.strip("│ ").split()
        if re.match(r"^│ {5,}\S", after) and len(line.rstrip("│ ")) + 1 + len(words[0]) <= 78:
            found.append(line.strip("│ "))
    return found


@pytest.mark.parametrize("words", help_words(), ids=lambda words: " ".join(words) or "invite")
def test_help_lays_out_at_80_columns(words: list[str]) -> None:
    result = CliRunner().invoke(app, [*words, "--help"], env={"COLUMNS": "80"},
                                catch_exceptions=False)
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 80
    # Nothing cut short: no option name, type or default ends in an ellipsis.
    assert "…" not in result.output
    # A paragraph flows as one: no line ends where the docstring's source line did.
    assert kept_breaks(result.output) == []
    # The example is one whole line, as at 200 columns.
    assert example_line(words, 80) == example_line(words, 200)


def test_version_comes_from_the_installed_package() -> None:
    result = invite("--version")
    assert result.exit_code == 0
    assert result.output == f"invite {importlib.metadata.version('invite')}\n"
