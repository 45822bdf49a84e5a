"""Collect the answer itself: the form page people fill in, and its JSON twin for scripts.

A test link (from `invite send --test-to`) gets the same pages and checks, never the
person's recorded answer, and nothing it sends is stored: the answer it would have
given is shown back under the banner that says so.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.datastructures import FormData

from rsvp.admission import DECISIONS, FIRST_COME, apply_first_come
from rsvp.answers import AnswerInvalidError, printable
from rsvp.config import EventConfig
from rsvp.forgotten import ForgottenAddresses
from rsvp.i18n import catalogue
from rsvp.nomination_gate import Gate, RecentCount, gate_for
from rsvp.nominations import (
    check_submission,
    nominate,
    nomination_form,
    nominee_from_form,
    nominees,
)
from rsvp.store import AnswerView, Recipient, Store
from rsvp.store import Response as Answer
from rsvp.tokens import ANSWER, LinkClaim
from rsvp.web.access import LinkAccess, root_path
from rsvp.web.agenda import agenda_rows
from rsvp.web.database import Database
from rsvp.web.pages import FormView, Pages, field_values, greeting
from rsvp.web.stores import RequestStore, busy_in

# A form has one field per question plus attendance; anything far beyond is not a person.
MAX_FORM_FIELDS = 1000


def standing(event: EventConfig, store: Store, recipient: Recipient, attendance: str | None,
             admission: str | None, lang: str) -> str:
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


def add_answer_routes(app: FastAPI, access: LinkAccess, pages: Pages,
                      database: Database, keys: Sequence[str]) -> None:
    """Add GET/POST /r/{token} (the form) and GET/PUT /api/responses/{token} to `app`.

    A request checks the link's signature and reads its body on the event loop, then
    hands its database work and render to a thread of `database` in one hop. `keys`
    (the workspace's secret keys) recognise addresses forgotten on request, which a
    nomination must not bring back."""
    def forgotten_in(store: Store) -> Callable[[str], bool]:
        return ForgottenAddresses(store, keys).contains

    recent = RecentCount()
    # Bound once: the form's GET and POST are the hot paths.
    event, now, read, write = access.event, access.now, database.read, database.write
    claim_for, answerer_for, language, paced, is_open = (
        access.claim_for, access.answerer_for, access.language, access.paced, access.is_open)
    recipient_for, writer_for, tried_by = access.recipient_for, access.writer_for, access.tried_by

    def form_page(store: Store, request: Request, person: AnswerView, lang: str,
                  status: int = 200,
                  attendance: str | None = None, values: dict[str, Any] | None = None,
                  errors: dict[str, str] | None = None,
                  typed: Mapping[str, str] | None = None, test: bool = False) -> HTMLResponse:
        """The form for `person`; with `test` (a test link, forwarded for a look) it reads
        nothing of theirs from the store: no answer, nominees, quota used, meetings or
        standing, and the nomination fieldset shows as it does to someone imported."""
        recipient, current = person.recipient, person.response
        if values is None:
            attendance = current.attendance if current else None
            values = field_values(event, current.answers if current else {})
        recorded = current.attendance if current else None
        per_recipient = event.rsvp.nominations_per_recipient
        if test:
            gate = Gate.OPEN if per_recipient > 0 else Gate.NONE
            view = FormView(greeting=greeting(lang, recipient), attendance=attendance,
                            values=values, errors=errors, typed=typed, gate=gate, test=True)
        else:
            gate = gate_for(store, event.nominations, per_recipient, recipient, now(), recent)
            view = FormView(
                greeting=greeting(lang, recipient), attendance=attendance, values=values,
                answer=current,
                nominees=nominees(store, recipient.id) if person.has_nominees else [],
                standing=standing(event, store, recipient, recorded, recipient.admission, lang),
                errors=errors, typed=typed, gate=gate,
                agenda=agenda_rows(event, store, recipient.id, lang))
        nominator = None if test else recipient.id
        html = pages.form(lang, root_path(request), not is_open(), view,
                          lambda: nomination_form(store, event, nominator, lang, typed, gate))
        return HTMLResponse(html, status)

    def submit_form(store: RequestStore, request: Request, claim: LinkClaim,
                    form: FormData) -> Response:
        person = as_shown(answerer_for(store, claim), claim)
        recipient = person.recipient
        paced(request, recipient, claim.test)
        lang = language(request, recipient)
        if not is_open():
            return form_page(store, request, person, lang, status=409, test=claim.test)
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
            if claim.test:
                return tried(request, recipient, lang, clean_attendance, answers, bool(nominee))
            # One transaction: the nomination, the answer with its history and the place
            # it gets are written together, or (lock not had in time) not at all.
            with busy_in(lang), store.write():
                nomination = (nominate(store, event, recipient.id, *nominee, lang=lang,
                                       now=now(), forgotten=forgotten_in(store))
                              if nominee else None)
                recorded = store.record_answer(recipient.id, clean_attendance, answers,
                                               source="web", now=now())
                decision = apply_first_come(store, event, recipient.id, now=now())
        except AnswerInvalidError as invalid:
            return form_page(store, request, person, lang, status=422, attendance=chosen,
                             values=field_values(event, raw), errors=invalid.errors, typed=typed,
                             test=claim.test)
        admission = decision.recipient.admission if decision else recipient.admission
        html = pages.recorded(lang, root_path(request), recorded,
                              nomination=nomination.message if nomination else "",
                              standing=standing(event, store, recipient, recorded.attendance,
                                                admission, lang))
        return HTMLResponse(html)

    def tried(request: Request, recipient: Recipient, lang: str, attendance: str,
              answers: dict[str, Any], nominated: bool) -> HTMLResponse:
        """The recorded page for a test link's valid answer, which was not stored."""
        shown = Answer(recipient.id, attendance, answers, "test", "", "")
        texts = catalogue(lang)
        return HTMLResponse(pages.recorded(
            lang, root_path(request), shown, test=True,
            nomination=texts.t("page.test_nomination") if nominated else ""))

    def show_form(store: RequestStore, request: Request, claim: LinkClaim) -> Response:
        person = as_shown(answerer_for(store, claim), claim)
        return form_page(store, request, person, language(request, person.recipient),
                         test=claim.test)

    async def answer_page(request: Request) -> Response:
        """Show the form (GET, HEAD) or record an answer (POST). A plain Starlette route:
        FastAPI's parameter solving would add a fifth to the form's time in process."""
        claim = claim_for(ANSWER, request.path_params["token"])
        if request.method == "POST":
            form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
            return await write(lambda store: submit_form(store, request, claim, form))
        return await read(lambda store: show_form(store, request, claim))

    app.add_route("/r/{token}", answer_page, methods=["GET", "POST"])

    def api_state(store: Store, recipient: Recipient, test: bool = False) -> dict[str, Any]:
        if test:  # a test link shows nothing the person recorded
            return {"attendance": None, "answers": {}, "deadline": event.rsvp.deadline.isoformat(),
                    "editable": is_open(), "nominees": [], "test": True}
        current = store.response(recipient.id)
        return {"attendance": current.attendance if current else None,
                "answers": current.answers if current else {},
                "deadline": event.rsvp.deadline.isoformat(), "editable": is_open(),
                "nominees": nominees(store, recipient.id)}

    @app.get("/api/responses/{token}")
    async def read_response(request: Request, token: str) -> Response:
        claim = claim_for(ANSWER, token)
        return await read(lambda store: JSONResponse(
            api_state(store, recipient_for(store, ANSWER, claim), claim.test)))

    @app.put("/api/responses/{token}")
    async def put_response(request: Request, token: str) -> Response:
        claim = claim_for(ANSWER, token)
        content = await request.body()
        return await write(lambda store: put_answer(store, request, claim, content))

    def put_answer(store: RequestStore, request: Request, claim: LinkClaim,
                   content: bytes) -> Response:
        recipient = (tried_by(store, request, ANSWER, claim) if claim.test
                     else writer_for(store, request, ANSWER, claim))
        texts = catalogue(language(request, recipient))
        if not is_open():
            return JSONResponse({"detail": pages.error_text("deadline")}, 409)
        try:
            body = json.loads(content)
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
            if claim.test:
                return JSONResponse({"test": True, "recorded": False,
                                     "detail": texts.t("page.test_link"),
                                     "attendance": clean_attendance, "answers": clean_answers})
            with busy_in(texts.lang), store.write():  # all or nothing, as on the form
                nomination = (nominate(store, event, recipient.id, *nominee, lang=texts.lang,
                                       now=now(), forgotten=forgotten_in(store))
                              if nominee else None)
                store.record_answer(recipient.id, clean_attendance, clean_answers,
                                    source="api", now=now())
                apply_first_come(store, event, recipient.id, now=now())
        except AnswerInvalidError as invalid:
            return JSONResponse({"detail": invalid.errors}, 422)
        state = api_state(store, recipient)
        if nomination:
            state["nomination"] = {
                "status": ("pending_approval" if nomination.pending
                           else "invited" if nomination.created else "already_invited"),
                "email": nomination.email, "message": nomination.message}
        return JSONResponse(state)


def as_shown(person: AnswerView, claim: LinkClaim) -> AnswerView:
    """The person as their link may see them: a test link sees the form before any answer
    (test mails are forwarded for a look; the person's answers must not go with them)."""
    return AnswerView(person.recipient, None, False) if claim.test else person
