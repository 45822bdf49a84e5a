"""Let people stop the mails with their unsubscribe link: from its page or in one click."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from rsvp.store import Recipient
from rsvp.tokens import ANSWER, UNSUBSCRIBE
from rsvp.web.access import LinkAccess, root_path
from rsvp.web.pages import Pages, greeting


def add_unsubscribe_routes(app: FastAPI, access: LinkAccess, pages: Pages) -> None:
    """Add GET /u/{token} (the page asking) and POST /u/{token} (unsubscribe) to `app`."""
    store, signer, now = access.store, access.signer, access.now
    recipient_for, writer_for, language = (access.recipient_for, access.writer_for,
                                           access.language)

    def unsubscribed_page(request: Request, recipient: Recipient, lang: str) -> HTMLResponse:
        answer_token = signer.sign(ANSWER, recipient.id, store.event_id, recipient.token_version)
        return HTMLResponse(pages.render("unsubscribed.html.j2", lang, root_path(request),
                                         answer_token=answer_token))

    @app.get("/u/{token}", response_class=HTMLResponse)
    async def ask_unsubscribe(request: Request, token: str) -> Response:
        recipient = recipient_for(UNSUBSCRIBE, token)
        lang = language(request, recipient)
        if recipient.unsubscribed_at is not None:
            return unsubscribed_page(request, recipient, lang)
        return HTMLResponse(pages.render("unsubscribe.html.j2", lang, root_path(request),
                                         greeting=greeting(lang, recipient)))

    @app.post("/u/{token}", response_class=HTMLResponse)
    async def unsubscribe(request: Request, token: str) -> Response:
        """Unsubscribe on any POST: the page's button and RFC 8058 one-click alike."""
        recipient = writer_for(request, UNSUBSCRIBE, token)
        store.unsubscribe(recipient.id, now=now())
        return unsubscribed_page(request, recipient, language(request, recipient))
