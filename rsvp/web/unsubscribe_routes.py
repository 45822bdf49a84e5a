"""Let people stop the mails with their unsubscribe link, and undo that until the event.

A page reached with the unsubscribe link shows no other link of the person: whoever
holds that link (a mail gateway, a link scanner, anyone a mail was forwarded to) must
not get the answer link from it. Any POST unsubscribes, the page's button and RFC 8058
one-click alike; only an explicit `action=resubscribe` (the button on the unsubscribed
page, offered until the event starts) undoes it. A test link (`invite send --test-to`)
shows the same pages under a banner and changes nothing.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from rsvp.i18n import catalogue
from rsvp.store import Recipient
from rsvp.tokens import UNSUBSCRIBE, LinkClaim
from rsvp.web.access import LinkAccess, root_path
from rsvp.web.database import Database
from rsvp.web.pages import Pages, greeting
from rsvp.web.stores import RequestStore, busy_in

RESUBSCRIBE = ("action", "resubscribe")
ONE_CLICK = ("List-Unsubscribe", "One-Click")
FORM_TYPE = "application/x-www-form-urlencoded"
# The page's forms send one field; a mail client's one-click POST one more.
MAX_FIELDS = 10


def asks_to_resubscribe(content_type: str, body: bytes) -> bool:
    """Tell whether a POST is the "subscribe again" button: a form with action=resubscribe
    and without RFC 8058's one-click field (which always unsubscribes)."""
    if content_type.split(";", 1)[0].strip().lower() != FORM_TYPE:
        return False
    try:
        fields = parse_qsl(body.decode("utf-8", "replace"), max_num_fields=MAX_FIELDS)
    except ValueError:
        return False
    return RESUBSCRIBE in fields and ONE_CLICK not in fields


def add_unsubscribe_routes(app: FastAPI, access: LinkAccess, pages: Pages,
                           database: Database) -> None:
    """Add GET /u/{token} (the page asking, or saying it is done) and POST /u/{token}
    (unsubscribe, or subscribe again) to `app`."""
    event, now, claim_for, language = access.event, access.now, access.claim_for, access.language
    recipient_for, writer_for, tried_by = access.recipient_for, access.writer_for, access.tried_by

    def may_resubscribe() -> bool:
        return now() < event.start

    def page(request: Request, name: str, lang: str, status: int = 200,
             **context: object) -> HTMLResponse:
        return HTMLResponse(pages.render(name, lang, root_path(request), **context), status)

    def unsubscribed(request: Request, lang: str, status: int = 200,
                     notice: str = "") -> HTMLResponse:
        return page(request, "unsubscribed.html.j2", lang, status,
                    resubscribe=may_resubscribe(), notice=notice)

    def asking(request: Request, recipient: Recipient, lang: str) -> HTMLResponse:
        return page(request, "unsubscribe.html.j2", lang, greeting=greeting(lang, recipient))

    def show(store: RequestStore, request: Request, claim: LinkClaim) -> Response:
        recipient = recipient_for(store, UNSUBSCRIBE, claim)
        lang = language(request, recipient)
        if claim.test:  # the page before, whatever the person did: a test shows no state
            return page(request, "unsubscribe.html.j2", lang, greeting=greeting(lang, recipient),
                        test_link=True)
        if recipient.unsubscribed_at is not None:
            return unsubscribed(request, lang)
        return asking(request, recipient, lang)

    def change(store: RequestStore, request: Request, claim: LinkClaim,
               resubscribe: bool) -> Response:
        if claim.test:
            lang = language(request, tried_by(store, request, UNSUBSCRIBE, claim))
            return page(request, "unsubscribed.html.j2", lang, resubscribe=False, test_link=True,
                        notice=catalogue(lang).t("page.test_unsubscribed"))
        recipient = writer_for(store, request, UNSUBSCRIBE, claim)
        lang = language(request, recipient)
        if not resubscribe:
            with busy_in(lang):
                store.unsubscribe(recipient.id, now=now())
            return unsubscribed(request, lang)
        if recipient.unsubscribed_at is None:
            return asking(request, recipient, lang)
        if not may_resubscribe():
            return unsubscribed(request, lang, 409, catalogue(lang).t("page.resubscribe_closed"))
        with busy_in(lang):
            store.resubscribe(recipient.id)
        return page(request, "resubscribed.html.j2", lang)

    @app.get("/u/{token}", response_class=HTMLResponse)
    async def ask_unsubscribe(request: Request, token: str) -> Response:
        claim = claim_for(UNSUBSCRIBE, token)
        return await database.read(lambda store: show(store, request, claim))

    @app.post("/u/{token}", response_class=HTMLResponse)
    async def unsubscribe(request: Request, token: str) -> Response:
        """Unsubscribe on any POST but the "subscribe again" button's."""
        claim = claim_for(UNSUBSCRIBE, token)
        resubscribe = asks_to_resubscribe(request.headers.get("content-type", ""),
                                          await request.body())
        return await database.write(lambda store: change(store, request, claim, resubscribe))
