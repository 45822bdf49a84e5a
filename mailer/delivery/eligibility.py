"""Who should get each mailing, as SQL conditions on `recipients r`: derived from the
recipients, their answers and earlier mail, so the web app and the sender agree without
calling each other."""

from __future__ import annotations

from mailer.content.mailings import UPDATE, Mailing

# Someone the organiser imported, or put forward on the web and approved: a nomination
# still pending (or rejected) gets no mail at all.
APPROVED = "coalesce(r.nomination, 'approved') = 'approved'"
REACHABLE = f"r.unsubscribed_at IS NULL AND r.forgotten_at IS NULL AND {APPROVED}"
ELIGIBLE = {
    "invitation": f"r.unsubscribed_at IS NULL AND {APPROVED}",
    "reminder": (
        f"r.unsubscribed_at IS NULL AND {APPROVED} "
        "AND NOT EXISTS (SELECT 1 FROM responses s WHERE s.recipient_id = r.id) "
        "AND EXISTS (SELECT 1 FROM outbox i WHERE i.recipient_id = r.id "
        "AND i.mailing = 'invitation' AND i.state = 'sent')"
    ),
    "confirmation": f"{REACHABLE} AND r.admission = 'admitted'",
    "regret": f"{REACHABLE} AND r.admission = 'declined'",
    "waitlist": f"{REACHABLE} AND r.admission = 'waitlisted'",
    "update": (
        f"{REACHABLE} AND r.admission = 'admitted' "
        "AND EXISTS (SELECT 1 FROM outbox c WHERE c.recipient_id = r.id "
        "AND c.mailing = 'confirmation' AND c.state = 'sent')"
    ),
}
# Why a pending row of these mailings is cancelled once the person no longer qualifies.
NO_LONGER_DUE = {"reminder": "answered", "confirmation": "decision changed",
                 "regret": "decision changed", "waitlist": "decision changed",
                 UPDATE: "decision changed"}
# People put forward on the web who can still be mailed (the background sender's share).
NOMINATED = ("r.nominated_by IS NOT NULL AND r.nomination = 'approved' "
             "AND r.unsubscribed_at IS NULL AND r.forgotten_at IS NULL")
# A decision row that settled the matter: sent, failed for good, left in `sending` by a
# crash (fate unknown), or cancelled for a reason that still holds.
TOLD = ("o.state IN ('sent', 'sending', 'failed') OR (o.state = 'cancelled' "
        "AND o.last_reply != 'decision changed')")


def eligible(mailing: Mailing) -> str:
    """The condition for queueing `mailing`; an update needs its round."""
    if mailing.kind != UPDATE:
        return ELIGIBLE[mailing.kind]
    if not mailing.round:
        raise ValueError("queue an update under its numbered round, not 'update'")
    # An update goes out as one batch: to those who are due when it is first queued.
    return (f"{ELIGIBLE[UPDATE]} AND NOT EXISTS "
            f"(SELECT 1 FROM outbox u WHERE u.mailing = '{UPDATE}-{mailing.round:d}')")
