"""The outbox as the background sender of `invite serve` sees it: nominees' invitations
only, and cheap looks for work (a nominee without an invitation, a decision nobody has
told, any change at all) before it takes the send lock."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from mailer.content.mailings import INVITATION, Mailing
from mailer.delivery.eligibility import ELIGIBLE, NOMINATED, TOLD
from mailer.delivery.outbox import MailingLike, Outbox, OutboxItem
from rsvp.store import recipient_from_row, stamp, utcnow


class NomineeOutbox(Outbox):
    """The outbox narrowed to nominees' invitations, so a round never sends what the
    organiser queued for a later `invite send` (the rest of an `invite send --limit`)."""

    def count_pending(self, mailing: MailingLike, resend_unknown: bool = False) -> int:
        return len(self.pending_nominees())

    def pending(self, mailing: MailingLike, resend_unknown: bool = False,
                chunk: int = 500, still_due: bool = False) -> Iterator[OutboxItem]:
        return iter(self.pending_nominees())

    def nominees_waiting(self) -> bool:
        """Say cheaply whether a nominee still needs their invitation, before taking the lock."""
        return bool(self.conn.execute(
            f"SELECT EXISTS (SELECT 1 FROM recipients r WHERE {NOMINATED} AND NOT EXISTS "
            "(SELECT 1 FROM outbox o WHERE o.recipient_id = r.id AND o.mailing = 'invitation' "
            "AND o.state NOT IN ('queued', 'deferred'))) AS waiting").fetchone()["waiting"])

    def queue_nominees(self, now: datetime | None = None) -> int:
        """Queue the invitation only for nominees who have none yet, never for anyone else."""
        when = stamp(now or utcnow())
        with self.store.write():
            cursor = self.conn.execute(
                "INSERT OR IGNORE INTO outbox (recipient_id, mailing, state, queued_at, "
                "updated_at) SELECT r.id, 'invitation', 'queued', ?, ? FROM recipients r "
                f"WHERE {NOMINATED}", (when, when))
        return int(cursor.rowcount)

    def pending_nominees(self) -> list[OutboxItem]:
        """The nominees' invitations still to send (queued or deferred), oldest first."""
        return [OutboxItem(id=row["outbox_id"], mailing=INVITATION, state=row["state"],
                           attempts=row["attempts"], recipient=recipient_from_row(row))
                for row in self.conn.execute(
                    "SELECT o.id AS outbox_id, o.mailing, o.state, o.attempts, r.* FROM outbox o "
                    f"JOIN recipients r ON r.id = o.recipient_id WHERE {NOMINATED} AND "
                    "o.mailing = 'invitation' AND o.state IN ('queued', 'deferred') ORDER BY o.id")]

    def data_version(self) -> int:
        """A number that changes whenever another connection (the web app, `invite send`)
        commits; this connection's own writes leave it as it is."""
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    def decisions_waiting(self, mailings: Sequence[Mailing]) -> bool:
        """Say cheaply whether one of the decision `mailings` has something to do: a person
        whose decision nobody has told, or a pending row whose decision no longer holds."""
        checks = []
        args: list[str] = []
        for mailing in mailings:
            if not mailing.tells_decision:
                raise ValueError(f"{mailing} is not a decision mailing")
            eligible = ELIGIBLE[mailing.kind]
            checks.append(
                f"EXISTS (SELECT 1 FROM recipients r WHERE {eligible} AND NOT EXISTS "
                "(SELECT 1 FROM outbox o WHERE o.recipient_id = r.id AND o.mailing = ? "
                f"AND ({TOLD})))")
            checks.append(
                "EXISTS (SELECT 1 FROM outbox o WHERE o.mailing = ? AND o.state IN "
                "('queued', 'deferred') AND NOT EXISTS (SELECT 1 FROM recipients r "
                f"WHERE r.id = o.recipient_id AND {eligible}))")
            args += [mailing.key, mailing.key]
        if not checks:
            return False
        return bool(self.conn.execute(f"SELECT ({' OR '.join(checks)}) AS waiting",
                                      args).fetchone()["waiting"])
