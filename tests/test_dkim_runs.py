"""Signed send runs end to end (#9): a stopped run loses no row, a run on another thread's
event loop (as `invite serve` sends) signs too, and Ctrl-C stops a signed run as it stops
an unsigned one; every mail the relay got verifies with dkimpy."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from mailer.delivery.outbox import Outbox
from rsvp.store import Store
from tests.conftest import person
from tests.faults import GRACE, fault_relay, people, wait_for
from tests.faults import environment as fault_environment
from tests.relay import ScriptedRelay, running_relay
from tests.test_dkim import SELECTOR, environment, invite, key_file, verifies


@pytest.fixture
def relay() -> Any:
    with running_relay() as running:
        yield running


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


def test_a_stopped_signed_run_loses_no_row(
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
    """`invite serve` sends from a thread of its own."""
    catcher, port = relay
    path, published = key_file(tmp_path, "rsa")
    sender = a_sender(workspace, store, port, path, 8)
    reports = []
    thread = threading.Thread(target=lambda: reports.append(asyncio.run(sender.run())))
    thread.start()
    thread.join(30)
    assert [report.sent for report in reports] == [8]
    assert all(verifies(mail.data, published) for mail in catcher.snapshot())


def test_ctrl_c_in_the_terminal_stops_a_signed_run_as_an_unsigned_one(
        workspace: Path, store: Store, tmp_path: Path) -> None:
    """The terminal sends SIGINT to the whole foreground process group: the sender
    finishes the mails in flight, and the next run sends the rest, all signed."""
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
