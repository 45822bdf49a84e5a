"""The background sender: a real `invite serve`, a real relay, and rounds against the lock."""

from __future__ import annotations

import csv
import io
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from mailer.cli import app
from mailer.cli.catcher import CaughtMail, free_port
from mailer.delivery.background import BackgroundSender
from mailer.delivery.outbox import Outbox
from rsvp.config import EventConfig
from rsvp.i18n import catalogue
from rsvp.nominations import nominate
from rsvp.settings import Settings, load_settings
from rsvp.store import Store
from tests.conftest import AUTOMATIC_NOMINATIONS, TEST_KEY, make_workspace, person
from tests.relay import ScriptedRelay, running_relay

LINK = re.compile(r"http://127\.0\.0\.1:\d+/r/[A-Za-z0-9_.\-]+")
PEOPLE = "email;first_name;last_name;salutation;language;role\n" \
         "anna@example.org;Anna;Schmidt;Frau;de;network_manager\n"
NOMINEE = {"nominee_name": "Jean Dupont", "nominee_email": "jean.dupont@example.fr",
           "nominee_organisation": "Dupont SARL", "nominee_role": "company"}


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """Nominations let through at once: these tests are about what follows a nomination."""
    return make_workspace(tmp_path, AUTOMATIC_NOMINATIONS)


@pytest.fixture
def relay() -> Iterator[tuple[ScriptedRelay, int]]:
    with running_relay() as running:
        yield running


def environment(smtp_port: int, base: str = "https://rsvp.example.org") -> dict[str, str]:
    return {"INVITE_SECRET_KEY": TEST_KEY, "INVITE_SMTP_HOST": "127.0.0.1",
            "INVITE_SMTP_PORT": str(smtp_port), "INVITE_BASE_URL": base}


def invite(workspace: Path, env: dict[str, str], *args: str) -> Any:
    result = CliRunner().invoke(app, [*args, "-w", str(workspace)], env=env,
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def wait_for(check: Callable[[], Any], what: str, seconds: float = 15.0) -> Any:
    """Poll `check` until it returns something true, failing after `seconds`."""
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return found


def text_of(mail: CaughtMail) -> str:
    body = mail.parsed().get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def answer_link(mail: CaughtMail) -> str:
    found = LINK.search(text_of(mail))
    assert found is not None
    return found.group(0)


@dataclass
class Served:
    base: str
    output: str = ""
    returncode: int | None = None


@contextmanager
def serving(workspace: Path, env: dict[str, str], port: int, *args: str) -> Iterator[Served]:
    """Run the real `invite serve` in its own process until the block ends."""
    process = subprocess.Popen(
        [sys.executable, "-m", "mailer", "serve", "--port", str(port), "-w", str(workspace),
         *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, **env})
    served = Served(f"http://127.0.0.1:{port}")

    def healthy() -> bool:
        assert process.poll() is None, process.communicate()[0]
        try:
            return httpx.get(f"{served.base}/healthz").status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(healthy, "invite serve to start", 30)
        yield served
    finally:
        process.terminate()
        served.output = process.communicate(timeout=30)[0]
        served.returncode = process.returncode


def rows(workspace: Path, env: dict[str, str], what: str) -> list[dict[str, str]]:
    exported = invite(workspace, env, "export", "--what", what)
    return list(csv.DictReader(io.StringIO(exported.stdout.lstrip("\ufeff"))))


def test_a_nominee_gets_their_own_invitation_within_seconds(
        workspace: Path, relay: tuple[ScriptedRelay, int], tmp_path: Path) -> None:
    catcher, smtp_port = relay
    port = free_port()
    env = environment(smtp_port, f"http://127.0.0.1:{port}")
    (tmp_path / "people.csv").write_text(PEOPLE, encoding="utf-8")
    invite(workspace, env, "import", str(tmp_path / "people.csv"))
    invite(workspace, env, "send", "--yes")
    anna_link = answer_link(catcher.to("anna@example.org")[0])
    with serving(workspace, env, port) as served, httpx.Client() as client:
        assert client.get(anna_link).status_code == 200
        page = client.post(anna_link, data={"attendance": "yes", **NOMINEE})
        assert page.status_code == 200
        assert "Wir senden Jean Dupont (jean.dupont@example.fr) eine Einladung." in page.text
        [mail] = wait_for(lambda: catcher.to("jean.dupont@example.fr"), "the invitation")
        jean_link = answer_link(mail)
        assert jean_link != anna_link
        assert "Guten Tag Jean Dupont," in text_of(mail)
        own = client.get(jean_link)
        assert own.status_code == 200
        assert '<html lang="de">' in own.text and "Dupont" in own.text
        assert client.post(jean_link, data={"attendance": "maybe"}).status_code == 200
    assert served.returncode == 0, served.output
    assert "background sender on" in served.output
    assert "sent 1 invitation to people put forward" in served.output
    assert len(catcher.snapshot()) == 2
    people = {row["email"]: row for row in rows(workspace, env, "responses")}
    assert people["jean.dupont@example.fr"]["nominated_by"] == "anna@example.org"
    assert people["jean.dupont@example.fr"]["attendance"] == "maybe"
    assert people["anna@example.org"]["nominated_by"] == ""
    assert {(r["email"], r["state"]) for r in rows(workspace, env, "outbox")} == {
        ("anna@example.org", "sent"), ("jean.dupont@example.fr", "sent")}


def test_without_the_sender_invite_send_invites_the_nominee(
        workspace: Path, relay: tuple[ScriptedRelay, int], tmp_path: Path) -> None:
    catcher, smtp_port = relay
    port = free_port()
    env = environment(smtp_port, f"http://127.0.0.1:{port}")
    (tmp_path / "people.csv").write_text(PEOPLE, encoding="utf-8")
    invite(workspace, env, "import", str(tmp_path / "people.csv"))
    invite(workspace, env, "send", "--yes")
    anna_link = answer_link(catcher.to("anna@example.org")[0])
    with serving(workspace, env, port, "--no-sender", "--send-interval", "0.1") as served:
        assert httpx.post(anna_link, data={"attendance": "no", **NOMINEE}).status_code == 200
        assert [r["email"] for r in rows(workspace, env, "outbox")] == ["anna@example.org"]
        sent = invite(workspace, env, "send", "--yes")
        assert "sent" in sent.output
        assert len(catcher.to("jean.dupont@example.fr")) == 1
    assert "background sender off" in served.output
    assert "invitation to people put forward" not in served.output
    assert len(catcher.snapshot()) == 2


# single rounds, in this process


def relay_settings(workspace: Path, smtp_port: int) -> Settings:
    return load_settings(workspace, environment(smtp_port))


def put_forward(store: Store, event: EventConfig, nominator: str, email: str) -> None:
    nominate(store, event, store.find_recipient(nominator).id, "Jean Dupont", email, "",
             "company", "de")


def test_a_round_skips_while_invite_send_holds_the_lock(
        workspace: Path, store: Store, event: EventConfig,
        relay: tuple[ScriptedRelay, int]) -> None:
    catcher, smtp_port = relay
    store.add_recipients([person("anna@example.org", last_name="Schmidt")])
    catcher.delay = 1.0
    sending = subprocess.Popen([sys.executable, "-m", "mailer", "send", "--yes",
                                "-w", str(workspace)], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, **environment(smtp_port)})
    background = BackgroundSender(relay_settings(workspace, smtp_port), event)
    try:
        wait_for(lambda: catcher.in_flight, "`invite send` to be sending")
        put_forward(store, event, "anna@example.org", "jean@example.fr")
        assert background.run_round().outcome == "busy"
        output = sending.communicate(timeout=30)[0]
        assert sending.returncode == 0, output
        assert [m.recipients for m in catcher.snapshot()] == [("anna@example.org",)]
        catcher.delay = 0
        done = background.run_round()
        assert (done.outcome, done.queued) == ("sent", 1)
        assert done.report is not None and done.report.sent == 1
        assert [m.recipients for m in catcher.snapshot()][-1] == ("jean@example.fr",)
        assert background.run_round().outcome == "idle"
    finally:
        background.stop()
        if sending.poll() is None:
            sending.kill()
            sending.communicate()


def test_a_round_sends_only_the_nominees(workspace: Path, store: Store, event: EventConfig,
                                         relay: tuple[ScriptedRelay, int]) -> None:
    catcher, smtp_port = relay
    store.add_recipients([person("anna@example.org", last_name="Schmidt"),
                          person("bert@example.org", last_name="Berger")])
    invite(workspace, environment(smtp_port), "send", "--yes", "--limit", "1")
    put_forward(store, event, "anna@example.org", "jean@example.fr")
    background = BackgroundSender(relay_settings(workspace, smtp_port), event)
    try:
        assert background.run_round().outcome == "sent"
    finally:
        background.stop()
    assert [m.recipients for m in catcher.snapshot()] == [("anna@example.org",),
                                                          ("jean@example.fr",)]
    states = {r["email"]: r["state"] for r in Outbox(store).export_rows()}
    assert states == {"anna@example.org": "sent", "bert@example.org": "queued",
                      "jean@example.fr": "sent"}


def test_an_unreachable_relay_is_logged_and_tried_again_later(
        workspace: Path, store: Store, event: EventConfig,
        caplog: pytest.LogCaptureFixture) -> None:
    store.add_recipients([person("anna@example.org", last_name="Schmidt")])
    put_forward(store, event, "anna@example.org", "jean@example.fr")
    now = [1000.0]
    nowhere = free_port()
    background = BackgroundSender(relay_settings(workspace, nowhere), event,
                                  clock=lambda: now[0])
    try:
        with caplog.at_level(logging.INFO, logger="invite.sender"):
            assert background.run_round().outcome == "failed"
            assert background.run_round().outcome == "waiting"
            now[0] += 61
            assert background.run_round().outcome == "failed"
    finally:
        background.stop()
    messages = [r.getMessage() for r in caplog.records if r.name == "invite.sender"]
    assert messages[0].startswith(f"could not send nominees' invitations: cannot reach the "
                                  f"mail relay 127.0.0.1:{nowhere}")
    assert messages[0].endswith("; next try in 60 s (Check INVITE_SMTP_HOST, INVITE_SMTP_PORT "
                                "and INVITE_SMTP_TLS.)")
    assert "next try in 120 s" in messages[1]
    assert {r["state"] for r in Outbox(store).export_rows()} == {"queued"}


def test_the_thread_sends_and_stops(workspace: Path, store: Store, event: EventConfig,
                                    relay: tuple[ScriptedRelay, int]) -> None:
    catcher, smtp_port = relay
    store.add_recipients([person("anna@example.org", last_name="Schmidt")])
    background = BackgroundSender(relay_settings(workspace, smtp_port), event, interval=0.05)
    background.start()
    try:
        put_forward(store, event, "anna@example.org", "jean@example.fr")
        [mail] = wait_for(lambda: catcher.to("jean@example.fr"), "the invitation")
        # What a nominator typed never goes into a header (issue #8): the address alone.
        [to] = mail.parsed()["To"].addresses
        assert (to.display_name, to.addr_spec) == ("", "jean@example.fr")
        text = text_of(mail)
        assert catalogue("de").t("greeting.neutral", first_name="Jean", last_name="Dupont") in text
    finally:
        background.stop()
