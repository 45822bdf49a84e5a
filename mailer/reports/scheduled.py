"""The scheduled sends as the organiser reads them, for `invite schedule` and `invite status`."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from mailer.delivery.jobs import SendOptions
from mailer.delivery.outbox import Outbox
from mailer.delivery.schedule import SCHEDULED, SENT, Schedule, ScheduledSend, show_time
from mailer.delivery.scheduled_run import to_send
from rsvp.store import Store, utcnow


def scheduled_sends(store: Store, zone: tzinfo, everything: bool = False) -> list[dict[str, Any]]:
    """One plain row per send still to go (every send with `everything`): for one that has
    not started, `people` is how many it would mail now; for one that has, how many it
    queued."""
    now = utcnow()
    rows = []
    for send in Schedule(store).listing(everything):
        if send.state == SCHEDULED:
            outbox = Outbox(store, send.selection)
            mailing = outbox.current_mailing(send.mailing)
            people = sum(1 for _ in to_send(outbox, SendOptions(mailing=mailing)))
        else:
            people = send.queued
        rows.append({"id": send.id, "time": show_time(send.send_at, zone),
                     "send_at": send.send_at.isoformat(), "mailing": send.mailing.key,
                     "selection": send.selection.describe(), "people": people,
                     "state": _state(send, now)})
    return rows


def _state(send: ScheduledSend, now: Any) -> str:
    state = send.state
    if state == SCHEDULED and send.send_at <= now:
        state = "overdue"
    elif state == SENT and send.late:
        state = "sent late"
    return f"{state} ({send.note})" if send.note else state
