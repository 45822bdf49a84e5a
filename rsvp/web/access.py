"""A signed link is the only credential: every route asks here whose it is and what it may do."""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from datetime import UTC, datetime

from fastapi import Request

from rsvp.config import EventConfig
from rsvp.errors import LinkError
from rsvp.store import AnswerView, Recipient, Store
from rsvp.tokens import ANSWER, LinkClaim, LinkSigner
from rsvp.web.ratelimit import RateLimitedError, RateLimiter

log = logging.getLogger("invite.web")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def root_path(request: Request) -> str:
    """Return the prefix the app is mounted under ("" at the root), for the links in pages."""
    return str(request.scope.get("root_path", "")).rstrip("/")


class LinkAccess:
    """The checks on a link for one event and workspace, made once per app.

    Refusals raise LinkError (the reason goes to the log only) or RateLimitedError; the
    app's exception handlers turn them into pages. `now` tells the deadline. Checks that
    read the database take the calling thread's store (rsvp.web.database).
    """

    __slots__ = ("event", "event_id", "limiter", "now", "signer")

    def __init__(self, event: EventConfig, event_id: str, signer: LinkSigner,
                 clock: Callable[[], datetime] | None = None,
                 limiter: RateLimiter | None = None) -> None:
        self.event = event
        self.event_id = event_id
        self.signer = signer
        self.now: Callable[[], datetime] = clock or _utcnow
        self.limiter = limiter or RateLimiter()

    def claim_for(self, purpose: str, token: str) -> LinkClaim:
        """Return what a genuine link of this event says, or raise LinkError (reason: log only)."""
        try:
            claim = self.signer.read(purpose, token)
        except LinkError as error:
            log.info("refused a %s link: %s", purpose, error)
            raise
        if claim.event_id != self.event_id:
            log.info("refused a %s link for event %s (this is %s)", purpose, claim.event_id,
                     self.event_id)
            raise LinkError("this link is not valid")
        return claim

    def holder(self, purpose: str, claim: LinkClaim, recipient: Recipient | None) -> Recipient:
        """Return the person the link names if it is still theirs, or raise LinkError."""
        if recipient is None:
            log.info("refused a %s link for unknown recipient %d", purpose, claim.recipient_id)
        elif recipient.token_version != claim.version:
            log.info("refused a revoked %s link of recipient %d (version %d, now %d)", purpose,
                     recipient.id, claim.version, recipient.token_version)
        else:
            return recipient
        raise LinkError("this link is not valid")

    def recipient_for(self, store: Store, purpose: str, claim: LinkClaim) -> Recipient:
        """Return whose checked link this is, or raise LinkError (reason: log only)."""
        return self.holder(purpose, claim, store.recipient(claim.recipient_id))

    def answerer_for(self, store: Store, claim: LinkClaim) -> AnswerView:
        """Return whose checked answer link this is, with their answer, read in one query."""
        found = store.answer_view(claim.recipient_id)
        self.holder(ANSWER, claim, found.recipient if found else None)
        assert found is not None  # holder raised otherwise
        return found

    def writer_for(self, store: Store, request: Request, purpose: str,
                   claim: LinkClaim) -> Recipient:
        """Return whose checked link this is for a write, or raise RateLimitedError if it
        came too soon. A test link never writes: its routes take `tried_by` instead."""
        if claim.test:
            log.warning("refused a write with a test %s link of recipient %d", purpose,
                        claim.recipient_id)
            raise LinkError("a test link records nothing")
        recipient = self.recipient_for(store, purpose, claim)
        self.paced(request, recipient)
        return recipient

    def tried_by(self, store: Store, request: Request, purpose: str,
                 claim: LinkClaim) -> Recipient:
        """Return whose test link this is, paced like a write (it does the same work up to
        the point where nothing is stored)."""
        recipient = self.recipient_for(store, purpose, claim)
        self.paced(request, recipient, test=True)
        return recipient

    def paced(self, request: Request, recipient: Recipient, test: bool = False) -> None:
        """Raise RateLimitedError if this write came too soon after the last ones. A test
        link has an allowance of its own: trying it out must not use up the person's."""
        link: Hashable = ("test", recipient.id) if test else recipient.id
        wait = self.limiter.check(link, request.client.host if request.client else "")
        if wait:
            log.info("refused a write by recipient %d: over the rate limit for %d s",
                     recipient.id, wait)
            raise RateLimitedError(wait, self.language(request, recipient))

    def language(self, request: Request, recipient: Recipient) -> str:
        """Return the page's language: the link's ?lang=, else the person's, else the event's."""
        # Most links carry no query: skip parsing an empty one (the form page's hot path).
        asked = request.query_params.get("lang", "") if request.scope["query_string"] else ""
        event = self.event
        for lang in (asked, recipient.language):
            if lang in event.languages:
                return lang
        return event.default_language

    def is_open(self) -> bool:
        """Tell whether answers may still change: the deadline has not passed."""
        return self.now() <= self.event.rsvp.deadline
