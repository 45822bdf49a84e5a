"""`invite send` and the send lock (issue #8): it waits for a round of `invite serve`'s
background sender, but not for another `invite send`; the lock survives its holder."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mailer.delivery.background import BackgroundSender, Round
from mailer.delivery.lock import BACKGROUND, SEND, Holder, sender_lock
from mailer.delivery.outbox import Outbox
from rsvp.config import load_event
from rsvp.errors import BusyError
from rsvp.settings import load_settings
from rsvp.store import Store
from tests.conftest import person
from tests.faults import environment, fault_relay, people, send, start_send, wait_for

ADA, BOB = "ada@example.org", "bob@example.org"


def first_come(workspace: Path) -> None:
    path = workspace / "event.toml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        'admission = "selection"', 'admission = "first-come"'), encoding="utf-8")


def test_invite_send_waits_for_a_background_round_then_sends(
        workspace: Path, store: Store) -> None:
    first_come(workspace)
    store.add_recipients([person(ADA, last_name="Lovelace", role="company"),
                          person(BOB, last_name="Baker", role="company")])
    with fault_relay(delay=0.0) as (relay, port):
        admitted = subprocess.run(
            [sys.executable, "-m", "mailer", "admit", ADA, "-w", str(workspace)],
            capture_output=True, text=True, env=environment(port), check=False)
        assert admitted.returncode == 0, admitted.stdout + admitted.stderr
        settings = load_settings(workspace, environment(port))
        background = BackgroundSender(settings, load_event(settings.event_file))
        relay.slow[ADA] = 2.0  # the round's confirmation to Ada: its reply takes 2 s
        rounds: list[Round] = []
        runner = threading.Thread(target=lambda: rounds.append(background.run_round()))
        try:
            runner.start()
            wait_for(lambda: relay.received() == [ADA], "the round's confirmation")
            result = send(workspace, port)
            runner.join(10)
        finally:
            background.stop()
        output = result.stdout + result.stderr
        assert result.returncode == 0, output
        assert "Waiting for invite serve's background sender to finish its round ..." in output
        [done] = rounds
        assert (done.outcome, done.sent) == ("sent", {"confirmation": 1})
        assert sorted(relay.received()) == [ADA, ADA, BOB]  # a confirmation, two invitations
    rows = {(row["email"], row["mailing"]): row["state"] for row in Outbox(store).export_rows()}
    assert rows == {(ADA, "confirmation"): "sent", (ADA, "invitation"): "sent",
                    (BOB, "invitation"): "sent"}


def test_another_invite_send_is_not_waited_for(workspace: Path, store: Store) -> None:
    store.add_recipients(people(8))
    with fault_relay(delay=1.0) as (relay, port):
        first = start_send(workspace, port)
        try:
            wait_for(relay.received, "the first run to be sending")
            started = time.monotonic()
            second = send(workspace, port)
            assert time.monotonic() - started < 5
        finally:
            output = first.communicate(timeout=20)[0]
        assert first.returncode == 0, output
    assert second.returncode == 1
    assert second.stderr.splitlines() == [
        f"Error: another `invite send` (pid {first.pid}) is sending for this workspace",
        "Hint: Wait for it to finish, or stop it first."]
    assert second.stdout == ""


def test_the_wait_for_the_background_sender_is_bounded(workspace: Path) -> None:
    told: list[Holder] = []
    with sender_lock(workspace, BACKGROUND):
        started = time.monotonic()
        with pytest.raises(BusyError) as busy, sender_lock(workspace, SEND, wait=0.5,
                                                           on_wait=told.append):
            pass
    assert 0.5 <= time.monotonic() - started < 2
    assert busy.value.message == (f"invite serve's background sender (pid {os.getpid()}) "
                                  "still holds the workspace after 0.5 s")
    assert told == [Holder(os.getpid(), BACKGROUND)]


HOLD = """
import sys, time
from pathlib import Path
from mailer.delivery.lock import sender_lock
with sender_lock(Path(sys.argv[1]), "send"):
    print("held", flush=True)
    time.sleep(60)
"""


def test_the_lock_is_free_again_when_its_holder_is_killed(workspace: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(workspace)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(BusyError, match=rf"another `invite send` \(pid {holder.pid}\)"), \
                sender_lock(workspace):
            pass
    finally:
        holder.kill()
        holder.communicate()
    with sender_lock(workspace, SEND, wait=0):
        pass
