"""Bounces (#9) from a real MTA: a private Postfix on loopback accepts an invitation for a
user that does not exist, writes the bounce itself to the VERP envelope sender, and
`invite bounces` marks that person from it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mailer.bounces.dsn import Bounce, read_message
from mailer.cli import app
from mailer.cli.catcher import MailCatcher, start_catcher
from mailer.delivery import verp
from rsvp.store import open_store
from tests.bounce_corpus import write_maildir
from tests.conftest import TEST_KEY, make_workspace, person
from tests.postfix_instance import missing, running_postfix

pytestmark = pytest.mark.skipif(bool(missing()), reason=missing() or "runs")


def invite(workspace: Path, env: dict[str, str], *args: str | Path) -> Any:
    return CliRunner().invoke(app, [*map(str, args), "-w", str(workspace)], env=env,
                              catch_exceptions=False)


def test_a_real_postfix_bounce_marks_the_recipient(tmp_path: Path) -> None:
    sink = MailCatcher()
    controller = start_catcher(sink)
    try:
        with running_postfix(controller.port) as (port, log):
            workspace = make_workspace(tmp_path)
            env = {"INVITE_SECRET_KEY": TEST_KEY, "INVITE_SMTP_HOST": "127.0.0.1",
                   "INVITE_SMTP_PORT": str(port), "INVITE_SMTP_TLS": "none",
                   "INVITE_BASE_URL": "https://rsvp.example.org",
                   "INVITE_BOUNCE_ADDRESS": "bounces@example.org"}
            assert invite(workspace, env, "status").exit_code == 0
            store = open_store(workspace / "invite.db")
            store.add_recipients([person("no-such-user@partner.test", "en")])
            store.close()
            sent = invite(workspace, env, "send", "--yes")
            assert sent.exit_code == 0, sent.output
            deadline = time.monotonic() + 60
            while not sink.snapshot() and time.monotonic() < deadline:
                time.sleep(0.2)
            assert sink.snapshot(), log.read_text() if log.exists() else "no log"
    finally:
        controller.stop()
    (bounce,) = sink.snapshot()
    assert bounce.sender in ("", "<>")  # a bounce has the null sender
    assert verp.decode(bounce.recipients[0], (TEST_KEY,)) is not None
    reading = read_message(bounce.data)
    assert isinstance(reading, Bounce)
    assert (reading.hard, reading.status, reading.addresses) == (True, "5.1.1",
                                                                 ("no-such-user@partner.test",))
    result = invite(workspace, env, "bounces", "--maildir",
                    write_maildir(tmp_path / "md", [bounce.data]))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:3] == [
        ("Read 1 message: 1 hard bounce, 0 soft, 0 auto-replies, 0 notices, "
         "0 already seen, 0 unmatched, 0 not understood."),
        "Marked bounced, no further mail goes to them (1 person):",
        f"  no-such-user@partner.test: {reading.reason}"]
    assert reading.reason == 'unknown user: "no-such-user"'

