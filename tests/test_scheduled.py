"""Scheduled sends (#12): `invite send --at`, `invite schedule`, and the mails going out at
their time from a real `invite serve`, or late from the next `invite serve` or `invite
send` when nothing ran at that time; a real aiosmtpd relay receives them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from typer.testing import CliRunner

from mailer.cli import app
from mailer.cli.catcher import free_port
from tests.conftest import AUTOMATIC_NOMINATIONS, TEST_KEY
from tests.relay import ScriptedRelay, running_relay

PARIS = ZoneInfo("Europe/Paris")  # the test event's time zone
HEADER = "email,first_name,last_name,organisation,role,language\n"
NETWORKS = HEADER + ("anna@example.org,Anna,Schmidt,Cluster Nord,network_manager,de\n"
                     "bernd@example.org,Bernd,Huber,Cluster Süd,network_manager,de\n")
COMPANIES = HEADER + ("chloe@example.fr,Chloé,Martin,Martin SA,company,fr\n"
                      "dieter@example.org,Dieter,Vogel,Vogel GmbH,company,de\n")


def environment(smtp_port: int, base: str = "https://rsvp.example.org") -> dict[str, str]:
    return {"INVITE_SECRET_KEY": TEST_KEY, "INVITE_SMTP_HOST": "127.0.0.1",
            "INVITE_SMTP_PORT": str(smtp_port), "INVITE_BASE_URL": base}


def invite(workspace: Path, port: int, *args: str) -> Any:
    return CliRunner().invoke(app, [*args, "-w", str(workspace)], env=environment(port),
                              catch_exceptions=False)


def wait_for(check: Any, what: str, seconds: float = 20.0) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return found


@contextmanager
def serving(workspace: Path, smtp_port: int) -> Iterator[list[str]]:
    """The real `invite serve`, its background sender looking every 0.2 s; its output
    is in the list once the block ends."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mailer", "serve", "--port", str(port), "--send-interval",
         "0.2", "-w", str(workspace)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, env={**os.environ, **environment(smtp_port)})
    output: list[str] = []

    def healthy() -> bool:
        assert process.poll() is None, process.communicate()[0]
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(healthy, "invite serve to start", 30)
        yield output
    finally:
        process.terminate()
        output.append(process.communicate(timeout=30)[0])


@pytest.fixture
def relay() -> Any:
    with running_relay() as running:
        yield running


@pytest.fixture
def people(workspace: Path, tmp_path: Path) -> Path:
    for name, text in (("networks.csv", NETWORKS), ("companies.csv", COMPANIES)):
        (tmp_path / name).write_text(text, encoding="utf-8")
        assert invite(workspace, 0, "import", str(tmp_path / name)).exit_code == 0
    return workspace


def received(catcher: ScriptedRelay) -> list[str]:
    return sorted(mail.recipients[0] for mail in catcher.snapshot())


def soon(seconds: float) -> datetime:
    """A moment `seconds` ahead, to the second, in the event's time zone."""
    return (datetime.now(UTC) + timedelta(seconds=seconds)).astimezone(PARIS).replace(
        microsecond=0)


def test_a_send_at_a_time_is_listed_shown_in_status_and_can_be_cancelled(
        people: Path, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    result = invite(people, port, "send", "--yes", "--batch", "companies",
                    "--at", "2030-03-01 09:00")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        ("Scheduled send 1: invitations (batch companies) at 2030-03-01 09:00 CET; 2 people "
         "would get it now."),
        ("It goes out from `invite serve` (with INVITE_BASE_URL set) at that time; if nothing "
         "runs then, from the next `invite serve` or `invite send`. `invite schedule` lists "
         "it, `invite schedule --cancel 1` cancels it.")]
    offset = invite(people, port, "send", "--yes", "--mailing", "reminder", "--where",
                    "role=network_manager", "--at", "2030-03-08T08:30:00+00:00")
    assert offset.exit_code == 0, offset.output
    listed = invite(people, port, "schedule")
    assert listed.output.splitlines() == [
        "id  time                  mailing     selection             people  state",
        "--  --------------------  ----------  --------------------  ------  ---------",
        "1   2030-03-01 09:00 CET  invitation  batch companies       2       scheduled",
        "2   2030-03-08 09:30 CET  reminder    role=network_manager  0       scheduled"]
    status = json.loads(invite(people, port, "status", "--json").stdout)
    assert [(s["id"], s["mailing"], s["people"], s["state"]) for s in status["scheduled"]] == [
        (1, "invitation", 2, "scheduled"), (2, "reminder", 0, "scheduled")]
    assert "Scheduled send 1: invitation (batch companies) at 2030-03-01 09:00 CET, 2 people, " \
           "scheduled (invite schedule)" in invite(people, port, "status").output
    cancelled = invite(people, port, "schedule", "--cancel", "1")
    assert cancelled.output == ("Cancelled scheduled send 1 (invitations; batch companies) "
                                "of 2030-03-01 09:00 CET.\n")
    again = invite(people, port, "schedule", "--cancel", "1")
    assert again.exit_code == 1
    assert again.output.splitlines() == [
        "Error: scheduled send 1 is cancelled; only one that has not started can be cancelled",
        "Hint: Its mails are in the outbox: `invite status` shows them."]
    assert [line.split()[0] for line in invite(people, port, "schedule").output.splitlines()
            [2:]] == ["2"]
    assert "cancelled" in invite(people, port, "schedule", "--all").output
    assert catcher.snapshot() == []


@pytest.mark.parametrize(("at", "lines"), [
    ("next monday", ["Error: --at 'next monday' is not a date and time",
                     ("Hint: Write it like \"2027-03-01 09:00\" (the event's time zone) or "
                      "\"2027-03-01 09:00+01:00\".")]),
    ("2020-01-01 10:00", ["Error: 2020-01-01 10:00 CET has passed",
                          "Hint: Give a time to come, or send now without --at."]),
])
def test_a_time_that_cannot_be_used_is_refused(people: Path, at: str, lines: list[str]) -> None:
    result = invite(people, 0, "send", "--yes", "--at", at)
    assert result.exit_code == 1
    assert result.output.splitlines() == lines
    assert "No scheduled sends." in invite(people, 0, "schedule").output


def test_a_scheduled_send_goes_out_from_a_running_invite_serve_at_its_time(
        people: Path, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    with serving(people, port) as output:
        at = soon(4)
        scheduled = invite(people, port, "send", "--yes", "--batch", "companies",
                           "--at", at.strftime("%Y-%m-%d %H:%M:%S"))
        assert scheduled.exit_code == 0, scheduled.output
        time.sleep(1.5)
        assert catcher.snapshot() == []  # not before its time
        wait_for(lambda: len(catcher.snapshot()) == 2, "the scheduled invitations")
        arrived = time.time()
        assert arrived >= at.timestamp()
        time.sleep(0.5)
    assert received(catcher) == ["chloe@example.fr", "dieter@example.org"]
    assert "scheduled send 1 (invitations; batch companies): sending 2 invitations" in output[0]
    assert "while nothing was running" not in output[0]
    listed = invite(people, port, "schedule", "--all").output.splitlines()
    assert listed[2].split()[-2:] == ["2", "sent"]
    # The rest of the invitations, later: nobody gets theirs twice.
    assert invite(people, port, "send", "--yes").exit_code == 0
    assert received(catcher) == ["anna@example.org", "bernd@example.org", "chloe@example.fr",
                                 "dieter@example.org"]


def test_a_send_missed_while_nothing_ran_goes_out_when_invite_serve_starts(
        people: Path, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    at = soon(2)
    assert invite(people, port, "send", "--yes", "--where", "language=fr", "--at",
                  at.isoformat()).exit_code == 0
    time.sleep(max(0.0, at.timestamp() - time.time()) + 0.5)
    assert catcher.snapshot() == []
    with serving(people, port) as output:
        wait_for(lambda: catcher.snapshot(), "the missed invitation")
        time.sleep(0.5)
    assert received(catcher) == ["chloe@example.fr"]
    assert (f"scheduled send 1 (invitations; language=fr) was due at "
            f"{at.strftime('%Y-%m-%d %H:%M %Z')}, while nothing was running: sending it now"
            ) in output[0]
    listed = invite(people, port, "schedule", "--all").output.splitlines()
    assert listed[2].split()[-3:] == ["1", "sent", "late"]


def test_a_send_missed_while_nothing_ran_goes_out_with_the_next_invite_send(
        people: Path, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    at = soon(2)
    assert invite(people, port, "send", "--yes", "--batch", "companies", "--at",
                  at.isoformat()).exit_code == 0
    time.sleep(max(0.0, at.timestamp() - time.time()) + 0.5)
    result = invite(people, port, "send", "--yes", "--to", "anna@example.org")
    assert result.exit_code == 0, result.output
    assert (f"Scheduled send 1 (invitations; batch companies) was due at "
            f"{at.strftime('%Y-%m-%d %H:%M %Z')} and did not go out: nothing was running "
            "then. Sending it now.") in result.output
    assert received(catcher) == ["anna@example.org", "chloe@example.fr", "dieter@example.org"]
    assert invite(people, port, "schedule").output == (
        "No scheduled sends. `invite send --at TIME` schedules one.\n")
    listed = invite(people, port, "schedule", "--all").output.splitlines()
    assert listed[2].split()[-3:] == ["2", "sent", "late"]


def test_a_send_cancelled_while_a_round_is_busy_does_not_go_out(
        people: Path, relay: tuple[ScriptedRelay, int]) -> None:
    """The round reads the due sends before it sends the nominee's invitation; the
    organiser cancels meanwhile: the round's stale copy must not send."""
    from mailer.delivery.background import BackgroundSender
    from rsvp.config import load_event
    from rsvp.nominations import nominate
    from rsvp.settings import load_settings
    from rsvp.store import open_store
    catcher, port = relay
    at = soon(2)
    assert invite(people, port, "send", "--yes", "--batch", "companies", "--at",
                  at.isoformat()).exit_code == 0
    time.sleep(max(0.0, at.timestamp() - time.time()) + 0.2)
    with (people / "event.toml").open("a", encoding="utf-8") as toml:
        toml.write(AUTOMATIC_NOMINATIONS)
    settings = load_settings(people, environment(port))
    event = load_event(settings.event_file)
    store = open_store(settings.database)
    nominate(store, event, store.find_recipient("anna@example.org").id, "Jean Dupont",
             "jean@example.fr", "", "company", "de")
    catcher.delay = 1.0
    background = BackgroundSender(settings, event)
    outcome: list[Any] = []
    thread = threading.Thread(target=lambda: outcome.append(background.run_round()))
    thread.start()
    try:
        wait_for(lambda: catcher.in_flight, "the nominee's invitation to be sending")
        cancelled = invite(people, port, "schedule", "--cancel", "1")
        assert cancelled.output.startswith("Cancelled scheduled send 1"), cancelled.output
        thread.join(30)
    finally:
        background.stop()
        store.close()
    assert outcome[0].sent == {"invitation": 1}
    assert received(catcher) == ["jean@example.fr"]
    listed = invite(people, port, "schedule", "--all").output.splitlines()
    assert listed[2].split()[-1] == "cancelled"
