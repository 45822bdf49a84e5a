"""Fault suite: `invite send` killed with SIGKILL mid-run, against a real relay (issue #8).

Some mails stall at the relay after their whole message arrived (no reply), so the
kill leaves rows of both kinds in `sending`: handed to the relay (unknown) and only
claimed (never reached it). The next run may call unknown only the first kind,
queues the second kind again, and never sends anything twice.
"""

from __future__ import annotations

import signal
from pathlib import Path

from mailer.delivery.outbox import Outbox
from rsvp.store import Store
from tests.faults import fault_relay, people, send, start_send, states, twice, wait_for

COUNT = 300
STALLED = {f"p{i:04d}@example.org" for i in range(10, COUNT, 25)}


def test_after_a_kill_only_mails_the_relay_received_are_unknown(
        workspace: Path, store: Store) -> None:
    store.add_recipients(people(COUNT))
    with fault_relay(delay=0.02, stall=STALLED) as (relay, port):
        process = start_send(workspace, port)
        wait_for(lambda: len(relay.received()) >= 80
                 and len(STALLED & set(relay.received())) >= 2, "stalled mails at the relay")
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=10)
        received = set(relay.received())
        outbox = Outbox(store)
        unknown = set(outbox.unknown("invitation"))
        claimed = {email for email, state in states(store).items() if state == "sending"}
        assert STALLED & received <= unknown, "a stalled mail was not marked as handed over"
        assert unknown <= received, "a mail the relay never received is called unknown"
        assert claimed - unknown, "the kill left no claimed-only row: the test proves nothing"

        relay.stall.clear()
        rest = send(workspace, port)
        output = rest.stdout + rest.stderr
        assert rest.returncode == 0, output
        were = "invitation was" if len(unknown) == 1 else "invitations were"
        assert (f"Warning: {len(unknown)} {were} being sent when an earlier run "
                "stopped; whether they arrived is unknown") in output
        assert set(outbox.unknown("invitation")) == unknown
        assert twice(relay.received()) == []
        assert set(relay.received()) == set(states(store))
    rows = states(store)
    assert {email for email, state in rows.items() if state != "sent"} == unknown
    # The claimed rows the relay never saw went out on the next run, their attempt not
    # counted twice.
    attempts = {row["email"]: row["attempts"] for row in outbox.export_rows()}
    assert {attempts[email] for email in claimed - unknown} == {1}
