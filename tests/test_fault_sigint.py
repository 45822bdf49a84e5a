"""Fault suite: Ctrl-C during a real `invite send` against a real relay (issue #8).

A first Ctrl-C lets the mails in flight finish and exits with the summary; a second
exits at once. Either way every mail the relay received is `sent` or unknown, every
other one is queued, and the next run sends each of those exactly once. Stopping
`invite serve` in a round of its background sender lets the mail in flight finish too.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from mailer.delivery.background import BackgroundSender
from mailer.delivery.outbox import Outbox
from rsvp.admission import decide
from rsvp.config import load_event
from rsvp.settings import load_settings
from rsvp.store import Store
from tests.faults import (
    GRACE,
    environment,
    fault_relay,
    interrupt,
    people,
    send,
    start_send,
    states,
    summary_figure,
    twice,
    wait_for,
)

COUNT = 300


@pytest.mark.parametrize("after", [30, 90, 160])  # three runs, stopped at different points
def test_ctrl_c_finishes_the_mails_in_flight_and_the_next_run_sends_the_rest(
        workspace: Path, store: Store, after: int) -> None:
    store.add_recipients(people(COUNT))
    with fault_relay(delay=0.02) as (relay, port):
        process = start_send(workspace, port)
        wait_for(lambda: len(relay.received()) >= after, f"{after} mails at the relay")
        seconds, output = interrupt(process)
        assert seconds < GRACE + 2, output
        assert process.returncode == 130, output
        assert ("Stopping: finishing " in output and " in flight (at most 10 s); Ctrl-C "
                "again to stop at once" in output), output
        assert "Invitations this run" in output
        received = relay.received()
        rows = states(store)
        assert twice(received) == []
        sent = {email for email, state in rows.items() if state == "sent"}
        # The mails in flight were finished: nothing is left unknown.
        assert sent == set(received)
        assert {state for email, state in rows.items() if email not in sent} == {"queued"}
        assert summary_figure(output, "sent") == len(sent)
        assert summary_figure(output, "left for the next run (stopped)") == COUNT - len(sent)
        assert "Hint: run `invite send` again to send the rest." in output

        rest = send(workspace, port)
        assert rest.returncode == 0, rest.stdout + rest.stderr
        assert "unknown" not in rest.stdout + rest.stderr
        assert twice(relay.received()) == []
        assert len(relay.received()) == COUNT
    assert set(states(store).values()) == {"sent"}


def test_a_second_ctrl_c_stops_at_once_and_loses_nothing(workspace: Path, store: Store) -> None:
    """The relay takes its time: at the second Ctrl-C mails are in flight, their whole
    message sent, no reply yet. They are unknown; everything else is queued or sent."""
    store.add_recipients(people(200))
    with fault_relay(delay=1.0) as (relay, port):
        process = start_send(workspace, port)
        wait_for(lambda: len(relay.received()) >= 20, "20 mails at the relay")
        seconds, output = interrupt(process, 0.1)
        assert seconds < 2, output
        assert process.returncode == 130, output
        assert re.search(r"Stopping: finishing [1-9]\d* mails? in flight", output), output
        assert "Stopping at once" in output
        received = set(relay.received())
        rows = states(store)
        unknown = set(Outbox(store).unknown("invitation"))
        sent = {email for email, state in rows.items() if state == "sent"}
        assert unknown, "no mail was in flight at the second Ctrl-C"
        assert unknown <= received and sent <= received
        assert received == sent | unknown  # nothing the relay got is queued again
        assert {rows[email] for email in rows.keys() - received} == {"queued"}
        assert summary_figure(output, "unknown (whole mail sent, no reply)") == len(unknown)

        relay.delay = 0.0
        rest = send(workspace, port)
        assert rest.returncode == 0, rest.stdout + rest.stderr
        were = "invitation was" if len(unknown) == 1 else "invitations were"
        assert f"Warning: {len(unknown)} {were} being sent" in rest.stderr
        assert twice(relay.received()) == []
        assert set(relay.received()) == set(rows)
    rows = states(store)
    assert {email for email, state in rows.items() if state != "sent"} == unknown


def test_stopping_the_background_sender_mid_round_finishes_the_mails_in_flight(
        workspace: Path, store: Store) -> None:
    """Six confirmations over two connections, 1.5 s each: stopped after the first two
    arrived, the round ends with those two sent and the other four queued."""
    path = workspace / "event.toml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        'admission = "selection"', 'admission = "first-come"'), encoding="utf-8")
    store.add_recipients(people(6))
    with fault_relay(delay=1.5) as (relay, port):
        settings = load_settings(workspace, environment(port))
        event = load_event(settings.event_file)
        for index in range(6):
            decide(store, event, store.find_recipient(f"p{index:04d}@example.org").id,
                   "admitted")
        background = BackgroundSender(settings, event, interval=0.05)
        background.start()
        wait_for(lambda: len(relay.received()) == 2, "two confirmations at the relay")
        started = time.monotonic()
        background.stop()
        assert time.monotonic() - started < 3
        received = relay.received()
    rows = {row["email"]: row["state"] for row in Outbox(store).export_rows()
            if row["mailing"] == "confirmation"}
    assert {email for email, state in rows.items() if state == "sent"} == set(received)
    assert sorted(state for state in rows.values() if state != "sent") == ["queued"] * 4
