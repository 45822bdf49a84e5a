"""The name we greet the relay with (#9): INVITE_SMTP_HELO, else the From domain, never
`localhost`; a real aiosmtpd relay records the EHLO it got."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mailer.cli import app
from mailer.cli.catcher import start_catcher
from mailer.delivery.tls import helo_name
from rsvp.errors import ConfigError, SendError
from rsvp.hostnames import helo_problem
from rsvp.settings import load_settings
from rsvp.store import Store
from tests.conftest import BASE_URL, TEST_KEY, person
from tests.relay import ScriptedRelay


class GreetedRelay(ScriptedRelay):
    """Also remembers each EHLO name it was greeted with."""

    def __init__(self) -> None:
        super().__init__()
        self.greetings: list[str] = []

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:
        self.greetings.append(hostname)
        return await super().handle_EHLO(server, session, envelope, hostname, responses)


@pytest.fixture
def relay() -> Iterator[tuple[GreetedRelay, int]]:
    greeted = GreetedRelay()
    controller = start_catcher(greeted)
    try:
        yield greeted, controller.port
    finally:
        controller.stop()


def invite(workspace: Path, port: int, *args: str, **env: str) -> Any:
    environment = {"INVITE_SECRET_KEY": TEST_KEY, "INVITE_SMTP_HOST": "127.0.0.1",
                   "INVITE_SMTP_PORT": str(port), "INVITE_BASE_URL": BASE_URL, **env}
    return CliRunner().invoke(app, [*args, "-w", str(workspace)], env=environment,
                              catch_exceptions=False)


def test_by_default_the_relay_is_greeted_with_the_from_domain(
        workspace: Path, store: Store, relay: tuple[GreetedRelay, int]) -> None:
    catcher, port = relay
    store.add_recipients([person("anna@example.com", "de", last_name="Schmidt")])
    result = invite(workspace, port, "send", "--yes")
    assert result.exit_code == 0, result.output
    assert len(catcher.snapshot()) == 1
    assert catcher.greetings and set(catcher.greetings) == {"example.org"}


def test_invite_smtp_helo_names_the_greeting(
        workspace: Path, store: Store, relay: tuple[GreetedRelay, int]) -> None:
    catcher, port = relay
    store.add_recipients([person("anna@example.com", "de", last_name="Schmidt")])
    result = invite(workspace, port, "send", "--yes", INVITE_SMTP_HELO="Mail.Example.ORG.")
    assert result.exit_code == 0, result.output
    assert set(catcher.greetings) == {"mail.example.org"}


@pytest.mark.parametrize(("name", "problem"), [
    ("localhost", "not a fully qualified host name (it has no dot)"),
    ("invite.localhost", "a name that only means something on this machine or network"),
    ("localhost.localdomain", "a name that only means something on this machine or network"),
    ("printer.home.arpa", "a name that only means something on this machine or network"),
    ("mail.example.corp", "a name that only means something on this machine or network"),
    ("relay.intranet", "a name that only means something on this machine or network"),
    ("192.0.2.1", "an IP address, not a host name"),
    ("mail_relay.example.org", "not a host name"),
    ("-mail.example.org", "not a host name"),
    ("mail..example.org", "not a host name"),
    ("mail.example.org\r\nRCPT TO:<x@evil.test>", "not a host name"),
])
def test_a_bad_helo_name_is_a_clear_settings_error(tmp_path: Path, name: str,
                                                   problem: str) -> None:
    assert helo_problem(name.lower()) == problem
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path, {"INVITE_SECRET_KEY": TEST_KEY, "INVITE_SMTP_HELO": name})
    assert str(caught.value) == f"INVITE_SMTP_HELO is {name.strip()!r}: {problem}"
    assert caught.value.hint == ("Set INVITE_SMTP_HELO to the fully qualified name of this "
                                 "machine or of your mail domain, e.g. mail.example.org.")


def test_a_bad_helo_name_stops_send_with_error_and_hint(
        workspace: Path, store: Store, relay: tuple[GreetedRelay, int]) -> None:
    catcher, port = relay
    store.add_recipients([person("anna@example.com", "de", last_name="Schmidt")])
    result = invite(workspace, port, "send", "--yes", INVITE_SMTP_HELO="localhost")
    assert result.exit_code == 1
    assert result.output.splitlines()[:2] == [
        "Error: INVITE_SMTP_HELO is 'localhost': not a fully qualified host name (it has no dot)",
        ("Hint: Set INVITE_SMTP_HELO to the fully qualified name of this machine or of "
         "your mail domain, e.g. mail.example.org.")]
    assert catcher.snapshot() == [] and catcher.greetings == []


def test_a_from_domain_that_cannot_be_a_helo_name_asks_for_invite_smtp_helo(
        workspace: Path, store: Store, relay: tuple[GreetedRelay, int]) -> None:
    catcher, port = relay
    event = workspace / "event.toml"
    event.write_text(event.read_text(encoding="utf-8").replace(
        "<office@example.org>", "<office@localhost>"), encoding="utf-8")
    store.add_recipients([person("anna@example.com", "de", last_name="Schmidt")])
    result = invite(workspace, port, "send", "--yes")
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == (
        "Error: the From domain 'localhost' cannot be the name we greet the relay with: "
        "not a fully qualified host name (it has no dot)")
    assert catcher.greetings == []
    fixed = invite(workspace, port, "send", "--yes", INVITE_SMTP_HELO="mail.example.org")
    assert fixed.exit_code == 0, fixed.output
    assert set(catcher.greetings) == {"mail.example.org"}


@pytest.mark.parametrize("name", ["example.org", "mail.example.org", "a-b.c-d.example",
                                  "xn--bcher-kva.example"])
def test_good_names_pass(name: str) -> None:
    assert helo_problem(name) is None


def test_a_from_domain_we_cannot_greet_with_stops_send_before_the_question(
        workspace: Path, store: Store, relay: tuple[GreetedRelay, int]) -> None:
    catcher, port = relay
    event = workspace / "event.toml"
    event.write_text(event.read_text(encoding="utf-8").replace(
        "<office@example.org>", "<office@localhost>"), encoding="utf-8")
    store.add_recipients([person("anna@example.com", "de", last_name="Schmidt")])
    environment = {"INVITE_SECRET_KEY": TEST_KEY, "INVITE_SMTP_HOST": "127.0.0.1",
                   "INVITE_SMTP_PORT": str(port), "INVITE_BASE_URL": BASE_URL}
    result = CliRunner().invoke(app, ["send", "-w", str(workspace)], input="yes\n",
                                env=environment, catch_exceptions=False)
    assert result.exit_code == 1
    assert result.output.splitlines()[0].startswith(
        "Error: the From domain 'localhost' cannot be the name we greet the relay with")
    assert "Send " not in result.output  # never asked
    assert store.conn.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
    assert catcher.greetings == []


def test_settings_without_a_greeting_name_are_refused_not_guessed(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, {"INVITE_SECRET_KEY": TEST_KEY})
    with pytest.raises(SendError, match="no name to greet"):
        helo_name(settings)
