"""Safe defaults for the organiser (#8): where links point, what the question says, and
files with personal data that only their owner can read."""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner, Result

from mailer.cli import app
from mailer.cli.campaign import run_send
from mailer.delivery.outbox import Outbox
from mailer.delivery.sender import SendOptions
from mailer.people.workspace import open_workspace
from rsvp.store import Store
from tests.conftest import BASE_URL, TEST_KEY, person
from tests.relay import ScriptedRelay, running_relay

PEOPLE = [person("anna.schmidt@example.org", first_name="Anna", last_name="Schmidt"),
          person("john.smith@example.org", "en", first_name="John", last_name="Smith")]
UNSET_HINT = ("Hint: Set INVITE_BASE_URL to the public address of the answer page, e.g. "
              "INVITE_BASE_URL=https://rsvp.example.org (`invite send --dry-run DIR` works "
              "without it).")


@pytest.fixture
def relay() -> Iterator[tuple[ScriptedRelay, int]]:
    with running_relay() as running:
        yield running


@pytest.fixture
def shared_umask() -> Iterator[None]:
    """The usual umask, under which a plain open() makes files everyone may read."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def invite(workspace: Path, *args: str | Path, port: int = 25, **env: str | None) -> Result:
    environ: dict[str, str | None] = {
        "INVITE_SECRET_KEY": TEST_KEY, "INVITE_SMTP_HOST": "127.0.0.1",
        "INVITE_SMTP_PORT": str(port), "INVITE_SMTP_TLS": None, "INVITE_SMTP_USER": None,
        "INVITE_BASE_URL": BASE_URL, **env}
    return CliRunner().invoke(app, [*map(str, args), "-w", str(workspace)], env=environ,
                              catch_exceptions=False)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def outbox_rows(store: Store) -> list[dict[str, Any]]:
    return list(Outbox(store).export_rows())


# Links need a public address


def test_send_without_a_base_url_is_refused_and_nothing_is_queued_or_sent(
        workspace: Path, store: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    store.add_recipients(PEOPLE)
    result = invite(workspace, "send", "--yes", port=port, INVITE_BASE_URL=None)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        ("Error: INVITE_BASE_URL is not set, so every link in the mails would point to "
         "http://127.0.0.1:8000 on this machine"),
        UNSET_HINT,
    ]
    assert catcher.snapshot() == []
    assert outbox_rows(store) == []


def test_a_dry_run_and_a_preview_need_no_base_url(workspace: Path, store: Store,
                                                  tmp_path: Path) -> None:
    store.add_recipients(PEOPLE)
    dry = invite(workspace, "send", "--dry-run", tmp_path / "out", INVITE_BASE_URL=None)
    assert dry.exit_code == 0, dry.output
    assert len(list((tmp_path / "out").iterdir())) == 2
    shown = invite(workspace, "preview", "anna.schmidt@example.org", INVITE_BASE_URL=None)
    assert shown.exit_code == 0, shown.output
    assert shown.output.splitlines()[0] == (
        "Note: INVITE_BASE_URL is not set; links point to http://127.0.0.1:8000 "
        "(`invite send` needs it set).")
    assert "http://127.0.0.1:8000/r/" in shown.output
    assert outbox_rows(store) == []


def test_a_loopback_address_set_on_purpose_is_used_with_a_warning(
        workspace: Path, store: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    store.add_recipients(PEOPLE)
    result = invite(workspace, "send", "--yes", port=port, INVITE_BASE_URL="http://127.0.0.1:8000")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == (
        "Warning: links point to 127.0.0.1: recipients cannot open them")
    assert len(catcher.snapshot()) == 2
    for mail in catcher.snapshot():
        assert "http://127.0.0.1:8000/r/" in mail.parsed().get_body(("plain",)).get_content()


@pytest.mark.parametrize("base", ["http://localhost:8000", "http://[::1]:8000",
                                  "http://127.1.2.3", "http://rsvp.localhost"])
def test_other_names_of_this_machine_are_warned_about_too(
        workspace: Path, store: Store, base: str) -> None:
    """Checked before sending: with no relay running, the send itself fails afterwards."""
    store.add_recipients(PEOPLE[:1])
    result = invite(workspace, "send", "--yes", port=1, INVITE_BASE_URL=base)
    assert result.output.splitlines()[0].startswith("Warning: links point to ")
    assert result.output.splitlines()[0].endswith(": recipients cannot open them")


def test_a_public_address_gets_no_warning(workspace: Path, store: Store,
                                          relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    store.add_recipients(PEOPLE)
    result = invite(workspace, "send", "--yes", port=port)
    assert result.exit_code == 0, result.output
    assert "Warning" not in result.output
    assert len(catcher.snapshot()) == 2


def questions_asked(workspace: Path, port: int, monkeypatch: pytest.MonkeyPatch,
                    **env: str) -> list[str]:
    for name, value in {"INVITE_SECRET_KEY": TEST_KEY, "INVITE_SMTP_HOST": "127.0.0.1",
                        "INVITE_SMTP_PORT": str(port), **env}.items():
        monkeypatch.setenv(name, value)
    asked: list[str] = []

    def decline(question: str) -> bool:
        asked.append(question)
        return False

    console = Console(file=io.StringIO())
    ws = open_workspace(workspace)
    try:
        assert run_send(ws, SendOptions(), console, console, confirm=decline)
    finally:
        ws.close()
    return asked


def test_the_question_names_the_relay_its_encryption_and_the_link_base(
        workspace: Path, store: Store, relay: tuple[ScriptedRelay, int],
        monkeypatch: pytest.MonkeyPatch) -> None:
    catcher, port = relay
    store.add_recipients(PEOPLE)
    assert questions_asked(workspace, port, monkeypatch, INVITE_BASE_URL=BASE_URL) == [
        (f"Send 2 invitations via 127.0.0.1:{port} (STARTTLS if offered) with links to "
         "https://rsvp.example.org?")]
    assert questions_asked(workspace, port, monkeypatch, INVITE_BASE_URL=BASE_URL,
                           INVITE_SMTP_TLS="starttls") == [
        (f"Send 2 invitations via 127.0.0.1:{port} (STARTTLS) with links to "
         "https://rsvp.example.org?")]
    assert catcher.snapshot() == []
    assert outbox_rows(store) == []


def test_run_send_itself_refuses_an_unset_base_url(
        workspace: Path, store: Store, relay: tuple[ScriptedRelay, int],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from rsvp.errors import ConfigError
    catcher, port = relay
    store.add_recipients(PEOPLE)
    monkeypatch.delenv("INVITE_BASE_URL", raising=False)
    with pytest.raises(ConfigError, match="^INVITE_BASE_URL is not set"):
        questions_asked(workspace, port, monkeypatch)
    assert catcher.snapshot() == []
    assert outbox_rows(store) == []


# Files with personal data


@pytest.mark.usefixtures("shared_umask")
@pytest.mark.parametrize("fmt", ["csv", "json", "xlsx"])
def test_exports_are_readable_by_their_owner_only(workspace: Path, store: Store,
                                                  tmp_path: Path, fmt: str) -> None:
    store.add_recipients(PEOPLE)
    path = tmp_path / f"people.{fmt}"
    path.write_bytes(b"an older export, readable by all")
    os.chmod(path, 0o644)
    result = invite(workspace, "export", "--what", "recipients", "--format", fmt, "-o", path)
    assert result.exit_code == 0, result.output
    assert mode(path) == 0o600
    assert b"anna.schmidt@example.org" in path.read_bytes() or fmt == "xlsx"


@pytest.mark.usefixtures("shared_umask")
def test_the_workbook_is_readable_by_its_owner_only(workspace: Path, store: Store,
                                                   tmp_path: Path) -> None:
    store.add_recipients(PEOPLE)
    path = tmp_path / "all.xlsx"
    result = invite(workspace, "export", "--format", "xlsx", "-o", path)
    assert result.exit_code == 0, result.output
    assert mode(path) == 0o600


@pytest.mark.usefixtures("shared_umask")
def test_previews_are_readable_by_their_owner_only_also_when_written_again(
        workspace: Path, store: Store, tmp_path: Path) -> None:
    store.add_recipients(PEOPLE)
    folder = tmp_path / "previews"
    first = invite(workspace, "preview", "anna.schmidt@example.org", "--out", folder)
    assert first.exit_code == 0, first.output
    [path] = folder.iterdir()
    assert mode(path) == 0o600
    os.chmod(path, 0o644)  # e.g. copied in by hand before
    again = invite(workspace, "preview", "anna.schmidt@example.org", "--out", folder)
    assert again.exit_code == 0, again.output
    assert mode(path) == 0o600
    assert b"anna.schmidt@example.org" in path.read_bytes()


@pytest.mark.usefixtures("shared_umask")
def test_dry_run_mails_are_readable_by_their_owner_only(workspace: Path, store: Store,
                                                       tmp_path: Path) -> None:
    store.add_recipients(PEOPLE)
    result = invite(workspace, "send", "--dry-run", tmp_path / "out")
    assert result.exit_code == 0, result.output
    files = sorted((tmp_path / "out").iterdir())
    assert len(files) == 2
    assert [mode(path) for path in files] == [0o600, 0o600]


@pytest.mark.usefixtures("shared_umask")
def test_a_preview_is_not_written_through_a_planted_link(workspace: Path, store: Store,
                                                         tmp_path: Path) -> None:
    store.add_recipients(PEOPLE)
    folder, target = tmp_path / "previews", tmp_path / "elsewhere.txt"
    folder.mkdir()
    target.write_text("untouched", encoding="utf-8")
    (folder / "invitation-anna.schmidt@example.org.eml").symlink_to(target)
    with pytest.raises(OSError):
        invite(workspace, "preview", "anna.schmidt@example.org", "--out", folder)
    assert target.read_text(encoding="utf-8") == "untouched"
