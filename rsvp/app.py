"""The recipient's web app: the RSVP form, its JSON twin, unsubscribe, and plain error pages."""

from __future__ import annotations

import gc
import json
import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from rsvp.admission import DECISIONS, FIRST_COME, apply_first_come
from rsvp.answers import AnswerInvalidError, printable
from rsvp.config import EventConfig, load_event
from rsvp.errors import ExpiredLinkError, LinkError
from rsvp.guard import GuardMiddleware
from rsvp.i18n import catalogue
from rsvp.nominations import (
    check_submission,
    nominate,
    nomination_form,
    nominee_from_form,
    nominees,
)
from rsvp.pages import FormView, Pages, field_values, greeting
from rsvp.ratelimit import RateLimitedError, RateLimiter, limits_from_env, refusal
from rsvp.settings import Settings, load_settings
from rsvp.store import AnswerView, Recipient, Store, open_store
from rsvp.tokens import ANSWER, UNSUBSCRIBE, LinkClaim, LinkSigner

log = logging.getLogger("invite.web")

# Status and error-page key for each HTTP error the app itself does not raise.
_HTTP_ERRORS = {404: "not_found", 405: "method", 413: "too_large"}
# A form has one field per question plus attendance; anything far beyond is not a person.
MAX_FORM_FIELDS = 1000


def _utcnow() -> datetime:
    return datetime.now(UTC)


def create_app(settings: Settings, event: EventConfig, store: Store,
               clock: Callable[[], datetime] | None = None,
               limiter: RateLimiter | None = None) -> FastAPI:
    """Build the app for one event and workspace; `clock` tells the deadline, `limiter` paces."""
    now = clock or _utcnow
    pace = limiter or RateLimiter()
    signer = LinkSigner(settings.secret_keys)
    pages = Pages(event, settings.template_dir / "pages")
    stylesheet = pages.stylesheet()
    # No OpenTelemetry: request URLs hold personal links, and nothing here should leave
    # the server (it also spares a provider lookup on every request).
    app = FastAPI(title="invite", docs_url=None, redoc_url=None, openapi_url=None,
                  telemetry={"tracing": False, "metrics": False, "logs": False})

    def root(request: Request) -> str:
        return str(request.scope.get("root_path", "")).rstrip("/")

    def is_api(path: str) -> bool:
        return path.startswith("/api/")

    def error_response(key: str, status: int, path: str, root_path: str = "",
                       headers: Mapping[str, str] | None = None) -> Response:
        if is_api(path):
            return JSONResponse({"detail": pages.error_text(key)}, status, headers=headers)
        return HTMLResponse(pages.render_error(key, root_path), status, headers=headers)

    def guard_page(path: str, status: int) -> Response:
        if status == 500:
            log.exception("unexpected error on %s", path)
            return error_response("server", 500, path)
        return error_response("too_large", status, path)

    app.add_middleware(GuardMiddleware, error_page=guard_page)

    @app.exception_handler(LinkError)
    async def link_error(request: Request, error: Exception) -> Response:
        if isinstance(error, ExpiredLinkError):
            return error_response("link_expired", 410, request.url.path, root(request))
        return error_response("link_invalid", 400, request.url.path, root(request))

    @app.exception_handler(RateLimitedError)
    async def rate_limited(request: Request, error: Exception) -> Response:
        assert isinstance(error, RateLimitedError)
        return refusal(pages, error, root(request), is_api(request.url.path))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        key = _HTTP_ERRORS.get(error.status_code, "bad_request")
        status = error.status_code if error.status_code in _HTTP_ERRORS else 400
        return error_response(key, status, request.url.path, root(request), error.headers)

    def claim_for(purpose: str, token: str) -> LinkClaim:
        """Return what a genuine link of this event says, or raise LinkError (reason: log only)."""
        try:
            claim = signer.read(purpose, token)
        except LinkError as error:
            log.info("refused a %s link: %s", purpose, error)
            raise
        if claim.event_id != store.event_id:
            log.info("refused a %s link for event %s (this is %s)", purpose, claim.event_id,
                     store.event_id)
            raise LinkError("this link is not valid")
        return claim

    def holder(purpose: str, claim: LinkClaim, recipient: Recipient | None) -> Recipient:
        """Return the person the link names if it is still theirs, or raise LinkError."""
        if recipient is None:
            log.info("refused a %s link for unknown recipient %d", purpose, claim.recipient_id)
        elif recipient.token_version != claim.version:
            log.info("refused a revoked %s link of recipient %d (version %d, now %d)", purpose,
                     recipient.id, claim.version, recipient.token_version)
        else:
            return recipient
        raise LinkError("this link is not valid")

    def recipient_for(purpose: str, token: str) -> Recipient:
        """Return whose link this is, or raise LinkError; the reason goes to the log only."""
        claim = claim_for(purpose, token)
        return holder(purpose, claim, store.recipient(claim.recipient_id))

    def answerer_for(token: str) -> AnswerView:
        """Return whose answer link this is, with their answer, read in one query."""
        claim = claim_for(ANSWER, token)
        found = store.answer_view(claim.recipient_id)
        holder(ANSWER, claim, found.recipient if found else None)
        assert found is not None  # holder raised otherwise
        return found

    def language(request: Request, recipient: Recipient) -> str:
        # Most links carry no query: skip parsing an empty one (the form page's hot path).
        asked = request.query_params.get("lang", "") if request.scope["query_string"] else ""
        for lang in (asked, recipient.language):
            if lang in event.languages:
                return lang
        return event.default_language

    def writer_for(request: Request, purpose: str, token: str) -> Recipient:
        """Return whose link this is for a write, or raise RateLimitedError if it came too soon."""
        recipient = recipient_for(purpose, token)
        paced(request, recipient)
        return recipient

    def paced(request: Request, recipient: Recipient) -> None:
        """Raise RateLimitedError if this write came too soon after the last ones."""
        wait = pace.check(recipient.id, request.client.host if request.client else "")
        if wait:
            log.info("refused a write by recipient %d: over the rate limit for %d s",
                     recipient.id, wait)
            raise RateLimitedError(wait, language(request, recipient))

    def is_open() -> bool:
        return now() <= event.rsvp.deadline

    def standing(recipient: Recipient, attendance: str | None, admission: str | None,
                 lang: str) -> str:
        """Tell someone who said yes where they stand: a place, the waiting list, declined,
        or (under selection) not decided yet. Only those waiting cost another query."""
        if attendance != "yes":
            return ""
        texts = catalogue(lang)
        first_come = event.rsvp.admission == FIRST_COME
        if admission == "waitlisted" and first_come:
            position = store.waitlist_position(recipient.id)
            if position:
                return texts.t("page.standing_waitlisted_at", position=position)
        if admission in DECISIONS:
            return texts.t(f"page.standing_{admission}")
        # Under first-come every yes is admitted or waitlisted at once: nothing else to say.
        return "" if first_come else texts.t("page.standing_applied")

    def form_page(request: Request, person: AnswerView, lang: str, status: int = 200,
                  attendance: str | None = None, values: dict[str, Any] | None = None,
                  errors: dict[str, str] | None = None,
                  typed: Mapping[str, str] | None = None) -> HTMLResponse:
        recipient, current = person.recipient, person.response
        if values is None:
            attendance = current.attendance if current else None
            values = field_values(event, current.answers if current else {})
        recorded = current.attendance if current else None
        view = FormView(greeting=greeting(lang, recipient), attendance=attendance, values=values,
                        answer=current,
                        nominees=nominees(store, recipient.id) if person.has_nominees else [],
                        standing=standing(recipient, recorded, recipient.admission, lang),
                        errors=errors, typed=typed)
        html = pages.form(lang, root(request), not is_open(), view,
                          lambda: nomination_form(store, event, recipient.id, lang, typed))
        return HTMLResponse(html, status)

    async def submit_form(request: Request, token: str) -> Response:
        person = answerer_for(token)
        recipient = person.recipient
        paced(request, recipient)
        lang = language(request, recipient)
        if not is_open():
            return form_page(request, person, lang, status=409)
        form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
        attendance = form.get("attendance")
        raw: dict[str, Any] = {}
        for question in event.questions:
            if question.type == "choices":
                raw[question.id] = [v for v in form.getlist(question.id) if isinstance(v, str)]
            elif isinstance(value := form.get(question.id), str):
                raw[question.id] = value
        chosen = attendance if isinstance(attendance, str) else None
        typed = nominee_from_form(form)
        try:
            clean_attendance, answers, nominee = check_submission(event, chosen, raw, typed, lang)
            nomination = (nominate(store, event, recipient.id, *nominee, lang=lang, now=now())
                          if nominee else None)
        except AnswerInvalidError as invalid:
            return form_page(request, person, lang, status=422, attendance=chosen,
                             values=field_values(event, raw), errors=invalid.errors, typed=typed)
        recorded = store.record_answer(recipient.id, clean_attendance, answers, source="web",
                                       now=now())
        decision = apply_first_come(store, event, recipient.id, now=now())
        admission = decision.recipient.admission if decision else recipient.admission
        html = pages.recorded(lang, root(request), recorded,
                              nomination=nomination.message if nomination else "",
                              standing=standing(recipient, recorded.attendance, admission, lang))
        return HTMLResponse(html)

    async def answer_page(request: Request) -> Response:
        """Show the form (GET, HEAD) or record an answer (POST). A plain Starlette route:
        FastAPI's parameter solving would add a fifth to the form's time in process."""
        token = request.path_params["token"]
        if request.method == "POST":
            return await submit_form(request, token)
        person = answerer_for(token)
        return form_page(request, person, language(request, person.recipient))

    app.add_route("/r/{token}", answer_page, methods=["GET", "POST"])

    def api_state(recipient: Recipient) -> dict[str, Any]:
        current = store.response(recipient.id)
        return {"attendance": current.attendance if current else None,
                "answers": current.answers if current else {},
                "deadline": event.rsvp.deadline.isoformat(), "editable": is_open(),
                "nominees": nominees(store, recipient.id)}

    @app.get("/api/responses/{token}")
    async def read_response(request: Request, token: str) -> Response:
        return JSONResponse(api_state(recipient_for(ANSWER, token)))

    @app.put("/api/responses/{token}")
    async def put_response(request: Request, token: str) -> Response:
        recipient = writer_for(request, ANSWER, token)
        texts = catalogue(language(request, recipient))
        if not is_open():
            return JSONResponse({"detail": pages.error_text("deadline")}, 409)
        try:
            body = json.loads(await request.body())
        except (ValueError, RecursionError):
            body = None
        if not isinstance(body, dict):
            return JSONResponse({"detail": {"body": texts.t("errors.body")}}, 422)
        unknown = {printable(key): texts.t("errors.unknown_field")
                   for key in body if key not in ("attendance", "answers", "nominee")}
        answers = body.get("answers", {})
        if not isinstance(answers, dict):
            unknown["answers"] = texts.t("errors.answers")
        if unknown:
            return JSONResponse({"detail": unknown}, 422)
        attendance = body.get("attendance")
        try:
            clean_attendance, clean_answers, nominee = check_submission(
                event, attendance if isinstance(attendance, str) else None, answers,
                body.get("nominee"), texts.lang)
            nomination = (nominate(store, event, recipient.id, *nominee, lang=texts.lang,
                                   now=now()) if nominee else None)
        except AnswerInvalidError as invalid:
            return JSONResponse({"detail": invalid.errors}, 422)
        store.record_answer(recipient.id, clean_attendance, clean_answers, source="api", now=now())
        apply_first_come(store, event, recipient.id, now=now())
        state = api_state(recipient)
        if nomination:
            state["nomination"] = {
                "status": "invited" if nomination.created else "already_invited",
                "email": nomination.email, "message": nomination.message}
        return JSONResponse(state)

    def unsubscribed_page(request: Request, recipient: Recipient, lang: str) -> HTMLResponse:
        answer_token = signer.sign(ANSWER, recipient.id, store.event_id, recipient.token_version)
        return HTMLResponse(pages.render("unsubscribed.html.j2", lang, root(request),
                                         answer_token=answer_token))

    @app.get("/u/{token}", response_class=HTMLResponse)
    async def ask_unsubscribe(request: Request, token: str) -> Response:
        recipient = recipient_for(UNSUBSCRIBE, token)
        lang = language(request, recipient)
        if recipient.unsubscribed_at is not None:
            return unsubscribed_page(request, recipient, lang)
        return HTMLResponse(pages.render("unsubscribe.html.j2", lang, root(request),
                                         greeting=greeting(lang, recipient)))

    @app.post("/u/{token}", response_class=HTMLResponse)
    async def unsubscribe(request: Request, token: str) -> Response:
        """Unsubscribe on any POST: the page's button and RFC 8058 one-click alike."""
        recipient = writer_for(request, UNSUBSCRIBE, token)
        store.unsubscribe(recipient.id, now=now())
        return unsubscribed_page(request, recipient, language(request, recipient))

    @app.get("/static/rsvp.css")
    async def serve_stylesheet() -> Response:
        return Response(stylesheet, media_type="text/css; charset=utf-8",
                        headers={"Cache-Control": "public, max-age=3600"})

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def app_from_env() -> FastAPI:
    """Build the app for uvicorn's --factory: workspace from INVITE_WORKSPACE, else the current folder."""
    workspace = Path(os.environ.get("INVITE_WORKSPACE", ".")).resolve()
    settings = load_settings(workspace)
    event = load_event(settings.event_file)
    store = open_store(settings.database)
    app = create_app(settings, event, store, limiter=RateLimiter(limits_from_env(os.environ)))

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        # What start-up made (modules, templates, the event) lives as long as the server:
        # kept out of the collector's full passes, which would walk it on every request burst.
        gc.freeze()
        yield
        store.close()

    app.router.lifespan_context = lifespan
    return app
