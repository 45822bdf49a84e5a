"""Who should get each mailing, as SQL conditions on `recipients r`: derived from the
recipients, their answers and earlier mail, so the web app and the sender agree without
calling each other.

These conditions are the last word on who may be mailed: an organiser's choice of
recipients (mailer.delivery.selection: `--batch`, `--where`, `--to`) is only ANDed to
them, so the unsubscribed, the forgotten and the bounced (#9: their address is dead,
rsvp.bounces) stay out whatever is selected.
"""

from __future__ import annotations

from mailer.content.mailings import UPDATE, WITHDRAWAL, Mailing
from rsvp.withdrawals import WITHDRAWN

# Someone the organiser imported, or put forward on the web and approved: a nomination
# still pending (or rejected) gets no mail at all. A company's brokerage contact (a
# host, #11) is no invitee either: this one condition keeps every invitation, reminder,
# decision and update away from hosts, who get their timetable only.
APPROVED = "r.host_of IS NULL AND coalesce(r.nomination, 'approved') = 'approved'"
# Whose address bounced (rsvp.bounces) gets nothing more: mailing a dead address again
# only hurts the sender's standing with the large providers.
LIVE = "r.unsubscribed_at IS NULL AND r.bounced_at IS NULL"
REACHABLE = f"{LIVE} AND r.forgotten_at IS NULL AND {APPROVED}"
# Whoever got their confirmation: only they are told of a later change (update, withdrawal).
CONFIRMED = ("EXISTS (SELECT 1 FROM outbox c WHERE c.recipient_id = r.id "
             "AND c.mailing = 'confirmation' AND c.state = 'sent')")
# Whoever was ever told of a place, even if a withdrawal took that confirmation back since
# (mailer.delivery.outbox `finish`): the withdrawal goes to them, and may be re-sent.
WAS_CONFIRMED = ("EXISTS (SELECT 1 FROM outbox c WHERE c.recipient_id = r.id "
                 "AND c.mailing = 'confirmation' AND c.sent_at IS NOT NULL)")
_NOT_ANSWERED = "NOT EXISTS (SELECT 1 FROM responses s WHERE s.recipient_id = r.id)"
_INVITED = ("EXISTS (SELECT 1 FROM outbox i WHERE i.recipient_id = r.id "
            "AND i.mailing = 'invitation' AND i.state = 'sent')")
ELIGIBLE = {
    "invitation": f"{LIVE} AND {APPROVED}",
    "reminder": f"{LIVE} AND {APPROVED} AND {_NOT_ANSWERED} AND {_INVITED}",
    "confirmation": f"{REACHABLE} AND r.admission = 'admitted'",
    "regret": f"{REACHABLE} AND r.admission = 'declined'",
    "waitlist": f"{REACHABLE} AND r.admission = 'waitlisted'",
    "update": f"{REACHABLE} AND r.admission = 'admitted' AND {CONFIRMED}",
    # Someone admitted and told who then said no (rsvp.admission): acknowledged once, and
    # not if they said yes again before it went out.
    WITHDRAWAL: (
        f"{REACHABLE} AND r.admission = '{WITHDRAWN}' "
        f"AND {WAS_CONFIRMED} AND EXISTS (SELECT 1 FROM responses s WHERE s.recipient_id = r.id "
        "AND s.attendance = 'no')"
    ),
    # Still due once queued by `invite meetings publish` (mailer.delivery.publication),
    # which alone decides who is told: `queue` adds nobody to these.
    "agenda": REACHABLE,
    "timetable": f"r.host_of IS NOT NULL AND {LIVE} AND r.forgotten_at IS NULL",
}
# Why a pending row of these mailings is cancelled once the person no longer qualifies.
NO_LONGER_DUE = {"reminder": "answered", "confirmation": "decision changed",
                 "regret": "decision changed", "waitlist": "decision changed",
                 UPDATE: "decision changed", WITHDRAWAL: "decision changed"}
# `invite send --mailing reminder --include-maybe`: the undecided are reminded too.
REMINDER_WITH_MAYBE = (
    f"{LIVE} AND {APPROVED} AND {_INVITED} AND NOT EXISTS (SELECT 1 "
    "FROM responses s WHERE s.recipient_id = r.id AND s.attendance != 'maybe')")
# People put forward on the web who can still be mailed (the background sender's share).
NOMINATED = ("r.nominated_by IS NOT NULL AND r.nomination = 'approved' "
             f"AND {LIVE} AND r.forgotten_at IS NULL")
# A decision row that settled the matter: sent, failed for good, left in `sending` by a
# crash (fate unknown), or cancelled for a reason that still holds.
TOLD = ("o.state IN ('sent', 'sending', 'failed') OR (o.state = 'cancelled' "
        "AND o.last_reply != 'decision changed')")


def still_due(mailing: Mailing) -> str:
    """The condition a pending row of `mailing` must still meet to go out."""
    return REMINDER_WITH_MAYBE if mailing.also_maybe else ELIGIBLE[mailing.kind]


def eligible(mailing: Mailing) -> str:
    """The condition for queueing `mailing`; an update needs its round."""
    if mailing.tells_plan:
        return "0"  # queued by the publisher alone, in the transaction that marks the plan told
    if mailing.kind != UPDATE:
        return still_due(mailing)
    if not mailing.round:
        raise ValueError("queue an update under its numbered round, not 'update'")
    # An update goes out as one batch: to those who are due when it is first queued.
    return (f"{ELIGIBLE[UPDATE]} AND NOT EXISTS "
            f"(SELECT 1 FROM outbox u WHERE u.mailing = '{UPDATE}-{mailing.round:d}')")
