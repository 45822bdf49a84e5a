"""The signing child process of a send run (#9): it signs in order what dkimpy verifies,
reports what it cannot sign, ends with the run, and a child that dies ends the run with
a clear error; with one core the sender signs in its own process, verified the same way."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from mailer.delivery.dkim import DkimKey
from mailer.delivery.dkim_process import SigningProcess
from mailer.delivery.dkim_sign import Signer, ending_crlf
from mailer.delivery.outbox import Outbox
from rsvp.errors import SendError
from rsvp.store import Store
from tests.conftest import person
from tests.faults import GRACE, fault_relay, people, wait_for
from tests.faults import environment as fault_environment
from tests.relay import ScriptedRelay, running_relay
from tests.test_dkim import SELECTOR, environment, invite, key_file, verifies
from tests.test_dkim_sign import BODIES, HEAD, key_of, record

MODULE = b"mailer.delivery.dkim_process"


@pytest.fixture
def relay() -> Any:
    with running_relay() as running:
        yield running


def children() -> list[int]:
    """The signing processes this test process started and that still run."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == os.getpid() and MODULE in cmdline:
            found.append(int(entry.name))
    return found


@pytest.mark.parametrize("kind", ["rsa", "ed25519"])
def test_the_child_signs_in_order_what_dkimpy_verifies(kind: str) -> None:
    messages = [ending_crlf(HEAD.replace(b"<1.2@", f"<{index}@".encode()) + b"\r\n" + body)
                for index, body in enumerate(BODIES.values())]

    async def run() -> list[bytes]:
        signing = await SigningProcess.start(Signer(key_of(kind), SELECTOR, "example.org"))
        try:
            [pid] = children()
            assert os.getsid(pid) != os.getsid(0)  # Ctrl-C in a terminal does not reach it
            signing.send(messages[:4])
            signing.send(messages[4:])
            return await signing.receive(4) + await signing.receive(len(messages) - 4)
        finally:
            await signing.close()

    fields = asyncio.run(run())
    assert len(fields) == len(messages)
    for field, message in zip(fields, messages, strict=True):
        assert field.startswith(b"DKIM-Signature: v=1; a=") and field.endswith(b"\r\n")
        assert verifies(field + message, record(key_of(kind)))
    # in order: each signature verifies its own message only
    assert not verifies(fields[0] + messages[1], record(key_of(kind)))
    assert children() == []


def test_a_message_the_child_cannot_sign_ends_the_run_with_the_reason() -> None:
    async def run() -> None:
        signing = await SigningProcess.start(Signer(key_of("ed25519"), SELECTOR, "example.org"))
        try:
            signing.send([b"To: anna@example.org\r\n\r\nno sender\r\n"])
            await signing.receive(1)
        finally:
            await signing.close()

    with pytest.raises(SendError) as raised:
        asyncio.run(run())
    assert raised.value.message == ("a message could not be signed with DKIM: a message "
                                    "without a From header cannot be signed")


def test_a_child_that_dies_ends_the_run_with_a_clear_error() -> None:
    async def run() -> None:
        signing = await SigningProcess.start(Signer(key_of("ed25519"), SELECTOR, "example.org"))
        try:
            [pid] = children()
            os.kill(pid, signal.SIGKILL)
            signing.send([ending_crlf(HEAD + b"\r\n" + BODIES["plain"])])
            await signing.receive(1)
        finally:
            await signing.close()

    with pytest.raises(SendError) as raised:
        asyncio.run(run())
    assert raised.value.message.startswith(
        "the DKIM signing process ended early (exit code -9")
    assert children() == []


def test_a_child_that_cannot_start_says_why() -> None:
    signer = Signer(key_of("ed25519"), SELECTOR, "example.org")
    signer.key = DkimKey("ed25519", b"not a DER key")  # what the child gets to read

    with pytest.raises(SendError) as raised:
        asyncio.run(SigningProcess.start(signer))
    assert re.match(r"the DKIM signing process ended early \(exit code 1: ValueError: .+\)$",
                    raised.value.message), raised.value.message
    assert children() == []


@pytest.mark.parametrize("cores", [1, 2], ids=["one core: signed in the sender",
                                              "two cores: the child signs once started"])
def test_mail_the_relay_got_verifies_either_way(
        workspace: Path, store: Store, relay: tuple[ScriptedRelay, int], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, cores: int) -> None:
    monkeypatch.setattr("mailer.delivery.feeder.beside", lambda: cores > 1)
    at_child: list[int] = []
    send = SigningProcess.send

    def counted(self: SigningProcess, messages: list[bytes]) -> None:
        at_child.append(len(messages))
        send(self, messages)
    monkeypatch.setattr(SigningProcess, "send", counted)
    catcher, port = relay
    catcher.delay = 0.15  # 12 mails over 2 connections: about 0.9 s, the child starts in 0.1
    path, published = key_file(tmp_path, "rsa")
    store.add_recipients([person(f"p{index}@example.org", "en") for index in range(12)])
    result = invite(workspace, environment(port, path), "send", "--yes", "--concurrency", "2")
    assert result.exit_code == 0, result.output
    mails = catcher.snapshot()
    assert len(mails) == 12
    assert all(verifies(mail.data, published) for mail in mails)
    assert (0 < sum(at_child) < 12) if cores > 1 else at_child == []
    assert children() == []


def a_sender(workspace: Path, store: Store, port: int, key: Path, count: int) -> Any:
    """A Sender of `count` invitations, signed with the key in `key`."""
    from mailer.content.composer import Composer
    from mailer.delivery.outbox import Outbox
    from mailer.delivery.sender import Sender, SendOptions
    from rsvp.config import load_event
    from rsvp.settings import load_settings
    store.add_recipients([person(f"p{index}@example.org", "en") for index in range(count)])
    settings = load_settings(workspace, environment(port, key))
    outbox = Outbox(store)
    outbox.queue("invitation")
    return Sender(settings, outbox, Composer(settings, load_event(settings.event_file), store),
                  SendOptions(concurrency=2))


def test_a_stopped_run_ends_the_child_and_loses_no_row(
        workspace: Path, store: Store, relay: tuple[ScriptedRelay, int],
        tmp_path: Path) -> None:
    catcher, port = relay
    catcher.delay = 0.2
    path, published = key_file(tmp_path, "ed25519")
    sender = a_sender(workspace, store, port, path, 12)

    async def stop_after_the_first() -> None:
        running = asyncio.create_task(sender.run())
        while not catcher.snapshot():
            await asyncio.sleep(0.01)
        sender.stop()
        await running

    asyncio.run(stop_after_the_first())
    assert children() == []
    got = catcher.snapshot()
    states = sorted(row["state"] for row in Outbox(store).export_rows())
    assert states == ["queued"] * (12 - len(got)) + ["sent"] * len(got)
    assert 0 < len(got) < 12
    catcher.delay = 0
    assert invite(workspace, environment(port, path), "send", "--yes").exit_code == 0
    mails = catcher.snapshot()
    assert sorted(m.recipients[0] for m in mails) == sorted(f"p{i}@example.org" for i in range(12))
    assert all(verifies(mail.data, published) for mail in mails)


def test_a_run_on_another_threads_loop_signs_too(
        workspace: Path, store: Store, relay: tuple[ScriptedRelay, int],
        tmp_path: Path) -> None:
    """`invite serve` sends from a thread of its own: the child is started from there."""
    catcher, port = relay
    catcher.delay = 0.1  # long enough for the child to start and sign some
    path, published = key_file(tmp_path, "rsa")
    sender = a_sender(workspace, store, port, path, 8)
    reports = []
    thread = threading.Thread(target=lambda: reports.append(asyncio.run(sender.run())))
    thread.start()
    thread.join(30)
    assert [report.sent for report in reports] == [8]
    assert all(verifies(mail.data, published) for mail in catcher.snapshot())
    assert children() == []


def test_ctrl_c_in_the_terminal_stops_a_signed_run_as_an_unsigned_one(
        workspace: Path, store: Store, tmp_path: Path) -> None:
    """The terminal sends SIGINT to the whole foreground process group: the signing child
    is not in it, so the sender stops cleanly instead of losing its child mid-batch."""
    count = 200
    store.add_recipients(people(count))
    path, published = key_file(tmp_path, "ed25519")
    env = {**fault_environment(0), "INVITE_DKIM_KEY_FILE": str(path),
           "INVITE_DKIM_SELECTOR": SELECTOR}
    with fault_relay(delay=0.02) as (relay, port):
        env["INVITE_SMTP_PORT"] = str(port)
        command = [sys.executable, "-m", "mailer", "send", "--yes", "-w", str(workspace)]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, env=env, start_new_session=True)
        wait_for(lambda: len(relay.received()) >= 60, "60 mails at the relay")
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        output, _ = process.communicate(timeout=GRACE + 5)
        assert process.returncode == 130, output
        assert "Stopping: finishing " in output and "DKIM" not in output, output
        rest = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60,
                              check=False)
        assert rest.returncode == 0, rest.stdout + rest.stderr
        mails = relay.snapshot()
    assert sorted(mail.recipients[0] for mail in mails) == sorted(
        f"p{index:04d}@example.org" for index in range(count))
    assert all(verifies(mail.data, published) for mail in mails)
