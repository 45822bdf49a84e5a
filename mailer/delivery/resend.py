"""Sending a mailing again to named people on purpose (`invite send --to EMAIL --again`,
`invite revoke EMAIL --send`).

The outbox holds one row per person and mailing, and that row is what makes "everyone
gets each mailing once" true. A deliberate second copy therefore re-queues that same
row (its attempts kept, a note in `last_reply`) instead of adding another: the ordinary
send then picks it up like any queued row, through the same checks (unsubscribed,
still due) and the same locking. The caller holds the send lock, so no sender is
handing that row out meanwhile; only rows that settled (sent, failed, cancelled) of
people the mailing still applies to are re-queued: one whose fate is unknown waits for
`--resend-unknown`, and one no longer due would be cancelled by the run.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mailer.content.mailings import INVITATION, ROUNDS, Mailing
from mailer.delivery.eligibility import still_due
from rsvp.errors import InviteError
from rsvp.store import Store, stamp, utcnow

AGAIN_NOTE = "queued again on purpose"
_SETTLED = "('sent', 'failed', 'cancelled')"


def check_again(mailing: Mailing, to: Sequence[int]) -> None:
    """Refuse a re-send that names nobody, or a mailing sent in numbered rounds."""
    if not to:
        raise InviteError("--again sends a mailing once more only to people named with --to",
                          hint="E.g. invite send --mailing invitation --to anna@example.org "
                               "--again")
    if mailing.kind in ROUNDS and not mailing.round:
        raise InviteError(f"--again does not work for the {mailing.kind} mailing, which goes "
                          "out in numbered rounds",
                          hint="`invite revoke EMAIL --send` sends a person their last mail "
                               "again, whatever it was.")


# A row as it was before `requeue_again`: (outbox id, state, last reply).
Prior = tuple[int, str, str]
# Why a named person is no longer due for a mailing, if they have not unsubscribed.
_WHY_NOT = {"reminder": "they answered", "confirmation": "their decision changed",
            "regret": "their decision changed", "waitlist": "their decision changed",
            "update": "their decision changed", "withdrawal": "their decision changed"}


@dataclass(frozen=True)
class Again:
    """What `requeue_again` did: the rows it queued as they were, and the people it left
    out because the mailing no longer applies to them (each a line for the organiser)."""

    prior: list[Prior] = field(default_factory=list)
    not_due: list[str] = field(default_factory=list)


def requeue_again(store: Store, mailing: Mailing, ids: Sequence[int],
                  now: datetime | None = None) -> Again:
    """Queue the settled rows of `mailing` for these people again, if it still applies to
    them: a row queued for someone no longer due would be cancelled by the run, and the
    record that it went out lost (a confirmation others build on)."""
    with store.write():
        rows = store.conn.execute(
            "SELECT o.id, o.state, o.last_reply, r.email, r.unsubscribed_at, r.bounced_at, "
            "r.bounce_reason, "
            f"({still_due(mailing)}) AS due FROM outbox o JOIN recipients r "
            f"ON r.id = o.recipient_id WHERE o.mailing = ? AND o.state IN {_SETTLED} "
            "AND o.recipient_id IN (SELECT value FROM json_each(?)) ORDER BY o.id",
            (mailing.key, json.dumps(list(ids)))).fetchall()
        prior = [(int(row["id"]), row["state"], row["last_reply"]) for row in rows
                 if row["due"]]
        store.conn.executemany(
            "UPDATE outbox SET state = 'queued', last_reply = ?, handed_at = NULL, "
            "updated_at = ? WHERE id = ?",
            [(AGAIN_NOTE, stamp(now or utcnow()), row_id) for row_id, _, _ in prior])
    return Again(prior, [_not_due(mailing, row) for row in rows if not row["due"]])


def _not_due(mailing: Mailing, row: Any) -> str:
    if row["bounced_at"]:
        why = f"their address bounced: {row['bounce_reason'] or 'no reason kept'}"
    elif row["unsubscribed_at"]:
        why = "they unsubscribed"
    else:
        why = _WHY_NOT.get(mailing.kind, "it no longer applies to them")
    return f"{row['email']}: no longer due for the {mailing.kind} ({why}); not sent again"


def restore_unsent(store: Store, prior: Sequence[Prior]) -> None:
    """Put back the rows a re-send queued that did not go out (the organiser said no at
    the question, the run stopped, the relay refused, or the run cancelled them), as they
    were: left queued, the next plain `invite send` would send them again without being
    asked to, and left cancelled, a mail that went out would no longer count as sent."""
    with store.write():
        store.conn.executemany(
            "UPDATE outbox SET state = ?, last_reply = ? WHERE id = ? "
            "AND state IN ('queued', 'deferred', 'cancelled', 'failed')",
            [(state, reply, row_id) for row_id, state, reply in prior])


def already_got(store: Store, mailing: Mailing, ids: Sequence[int]) -> list[str]:
    """The addresses among `ids` that `mailing` already went to (or may have)."""
    return [row["email"] for row in store.conn.execute(
        "SELECT r.email FROM outbox o JOIN recipients r ON r.id = o.recipient_id "
        "WHERE o.mailing = ? AND (o.state = 'sent' OR o.handed_at IS NOT NULL) "
        "AND r.id IN (SELECT value FROM json_each(?)) ORDER BY r.id",
        (mailing.key, json.dumps(list(ids))))]


def last_mailing(store: Store, recipient_id: int) -> Mailing | None:
    """The latest mailing sent to the person that would still go to them now (a reminder
    to someone who has answered since would not): the one to send again with a new
    link. Else the invitation, if they ever got it; None if nothing was ever sent."""
    rows = store.conn.execute(
        "SELECT mailing FROM outbox WHERE recipient_id = ? AND state = 'sent' "
        "ORDER BY sent_at DESC, id DESC", (recipient_id,)).fetchall()
    for row in rows:
        mailing = Mailing.of(row["mailing"])
        due = store.conn.execute(
            f"SELECT EXISTS (SELECT 1 FROM recipients r WHERE r.id = ? AND {still_due(mailing)}) "
            "AS due", (recipient_id,)).fetchone()["due"]
        if due:
            return mailing
    if any(Mailing.of(row["mailing"]) == INVITATION for row in rows):
        return INVITATION
    return None
