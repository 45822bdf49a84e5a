"""Bounces fed back over IMAP, end to end (#9): a real send, a real Dovecot, real commands.

Invitations go out through a real aiosmtpd relay with VERP on; Postfix's bounce
(tests/bounce_samples) back to the envelope sender of one of them goes into the Dovecot
folder; then
`invite bounces --imap`, or the poll of a real `invite serve --bounces-every`, must mark
that recipient bounced, and nobody else, and survive an IMAP server that is down.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from mailer.bounces.poll import period_seconds, said
from mailer.cli import app
from mailer.cli.catcher import CaughtMail, free_port
from rsvp.store import open_store
from tests.bounce_corpus import sample
from tests.conftest import TEST_KEY
from tests.imap_server import ImapServer, running_or_skip
from tests.relay import ScriptedRelay, running_relay
from tests.test_background import environment, invite, serving, wait_for

PEOPLE = ("email;first_name;last_name;salutation;language;role\n"
          "anna@example.org;Anna;Schmidt;Frau;de;network_manager\n"
          "john@example.org;John;Smith;Mr;en;company\n")


@pytest.fixture(scope="module")
def server() -> Iterator[ImapServer]:
    yield from running_or_skip()


@pytest.fixture
def relay() -> Iterator[tuple[ScriptedRelay, int]]:
    with running_relay() as running:
        yield running


def sent_invitations(workspace: Path, tmp_path: Path, relay: tuple[ScriptedRelay, int],
                     env: dict[str, str]) -> dict[str, CaughtMail]:
    """Import the two people, send the invitation, and return each one's mail."""
    (tmp_path / "people.csv").write_text(PEOPLE, encoding="utf-8")
    invite(workspace, env, "import", str(tmp_path / "people.csv"))
    invite(workspace, env, "send", "--yes")
    mails = {mail.recipients[0]: mail for mail in relay[0].snapshot()}
    assert sorted(mails) == ["anna@example.org", "john@example.org"]
    assert all(mail.sender.startswith("bounces+") for mail in mails.values())
    return mails


def bounced(workspace: Path) -> dict[str, str | None]:
    """Each recipient's bounce date (None while not bounced), read from the database."""
    store = open_store(workspace / "invite.db")
    try:
        rows = store.db.execute("SELECT email, bounced_at FROM recipients").fetchall()
    finally:
        store.close()
    return {email: when for email, when in rows}


def test_invite_bounces_imap_marks_the_bounced_recipient(
        workspace: Path, tmp_path: Path, relay: tuple[ScriptedRelay, int],
        server: ImapServer) -> None:
    folder = "Bounces-cli"
    env = {**environment(relay[1]), "INVITE_BOUNCE_ADDRESS": "bounces@example.org",
           **server.env("starttls", INVITE_BOUNCE_IMAP_FOLDER=folder)}
    mails = sent_invitations(workspace, tmp_path, relay, env)
    server.deliver(sample("postfix_user_unknown", mails["anna@example.org"].sender, "anna@example.org"), folder=folder)

    result = invite(workspace, env, "bounces", "--imap")
    assert "anna@example.org: " in result.output
    assert "Marked bounced" in result.output
    marked = bounced(workspace)
    assert marked["anna@example.org"] and marked["john@example.org"] is None
    assert [("$InviteHandled" in f, r"\Seen" in f) for f in server.flags(folder)] == [(True, False)]

    again = invite(workspace, env, "bounces", "--imap")
    assert again.output.startswith("Read 0 messages")


def test_invite_bounces_imap_without_settings_says_what_to_set(workspace: Path) -> None:
    result = CliRunner().invoke(app, ["bounces", "--imap", "-w", str(workspace)],
                                env={"INVITE_SECRET_KEY": TEST_KEY})
    assert result.exit_code == 1
    assert "INVITE_BOUNCE_IMAP_HOST is not set" in result.output


@pytest.mark.slow
def test_serve_polls_the_folder_and_survives_a_server_that_is_down(
        workspace: Path, tmp_path: Path, relay: tuple[ScriptedRelay, int],
        server: ImapServer) -> None:
    folder = "Bounces-serve"
    port = free_port()
    env = {**environment(relay[1], f"http://127.0.0.1:{port}"),
           "INVITE_BOUNCE_ADDRESS": "bounces@example.org",
           **server.env("tls", INVITE_BOUNCE_IMAP_FOLDER=folder)}
    mails = sent_invitations(workspace, tmp_path, relay, env)
    server.deliver(sample("postfix_user_unknown", mails["john@example.org"].sender, "john@example.org"), folder=folder)
    with serving(workspace, env, port, "--no-sender", "--bounces-every", "1s") as served:
        wait_for(lambda: bounced(workspace)["john@example.org"], "the poll to mark John", 30)
        assert httpx.get(f"{served.base}/healthz").status_code == 200
    assert served.returncode == 0, served.output
    assert f"bounce poll on: reads '{folder}' on 127.0.0.1:{server.imaps_port} every 1 s" in served.output
    assert "john@example.org: " in served.output
    assert bounced(workspace)["anna@example.org"] is None

    down = {**env, "INVITE_BOUNCE_IMAP_PORT": str(free_port())}
    with serving(workspace, down, port, "--no-sender", "--bounces-every", "1s") as served:
        time.sleep(3)  # the first polls fail; the page still answers
        assert httpx.get(f"{served.base}/healthz").status_code == 200
    assert served.returncode == 0, served.output
    assert served.output.count("cannot reach the bounce mailbox 127.0.0.1:") >= 2
    assert "next try in 1 s (Check INVITE_BOUNCE_IMAP_HOST" in served.output
    assert "Traceback" not in served.output


def test_serve_bounces_every_needs_a_period_and_the_mailbox(workspace: Path) -> None:
    runner, env = CliRunner(), {"INVITE_SECRET_KEY": TEST_KEY}
    wrong = runner.invoke(app, ["serve", "--bounces-every", "10x", "-w", str(workspace)], env=env)
    assert wrong.exit_code == 1
    assert "Error: --bounces-every is '10x', not a period of at least a second" in wrong.output
    # Before the cap this killed the poll thread silently (OverflowError in its wait).
    huge = runner.invoke(app, ["serve", "--bounces-every", "99999999999h", "-w", str(workspace)],
                         env=env)
    assert huge.exit_code == 1
    assert "Error: --bounces-every is '99999999999h', longer than 7 days" in huge.output
    unset = runner.invoke(app, ["serve", "--bounces-every", "10m", "-w", str(workspace)], env=env)
    assert unset.exit_code == 1
    assert "Error: --bounces-every needs the bounce mailbox, but INVITE_BOUNCE_IMAP_HOST is " \
           "not set" in unset.output


@pytest.mark.parametrize(("text", "seconds"), [("10m", 600.0), ("90s", 90.0), ("1h", 3600.0),
                                               ("30", 30.0), (" 2.5M ", 150.0)])
def test_periods(text: str, seconds: float) -> None:
    assert period_seconds(text) == seconds
    assert said(600) == "10 min" and said(90) == "90 s" and said(7200) == "2 h"
