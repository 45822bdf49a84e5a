"""The demo's pages of caught mails: a list, and each mail as its recipient would see it.

The app's strict Content-Security-Policy (rsvp.web.guard) stays on every page, and it
forbids the inline styles that every HTML mail carries. So a mail's HTML is served as a
document of its own, with a policy that lets its inline styles (and images written into
it) apply and nothing else: no script, no request to anywhere, no form. The mail page
shows that document in a sandboxed frame (no scripts, an opaque origin), beside the
text part, the headers and the attachments to download.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage

import jinja2
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mailer.cli.catcher import CaughtMail, MailCatcher
from mailer.content.render import shipped_templates

# What a caught mail's HTML may do: its inline styles apply, images written into it
# (data: URLs) show, nothing is fetched and no script runs. frame-ancestors lets the
# demo's own mail page frame it, where the app's policy says 'none'.
MAIL_FRAME_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                  "form-action 'none'; frame-ancestors 'self'")
_MAIL_DOCUMENT = re.compile(r"^/outbox/\d+/html$")
# Links in the framed mail open in a new tab, as a mail client hands them to the browser:
# inside the frame the answer page would refuse to be framed.
_BASE = '<base target="_blank">'
_HEAD = re.compile(r"<head[^>]*>", re.IGNORECASE)
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Attachment:
    name: str
    content_type: str
    data: bytes


class MailFramePolicy:
    """Give the mail documents their own Content-Security-Policy.

    It must sit outside the guard middleware, which sets the app's policy on every
    response (replacing any the route chose): this replaces it again, on those paths only.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _MAIL_DOCUMENT.match(scope["path"]):
            await self.app(scope, receive, send)
            return

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(name, value) for name, value in message.get("headers", [])
                           if name.lower() != b"content-security-policy"]
                message["headers"] = [*headers,
                                      (b"content-security-policy", MAIL_FRAME_CSP.encode())]
            await send(message)

        await self.app(scope, receive, send_with_policy)


def add_outbox_routes(app: FastAPI, catcher: MailCatcher, smtp: str, workspace: str,
                      base_url: str) -> None:
    """Add `/` (to the outbox), `/outbox`, `/outbox/N` and the parts of mail N to `app`."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(shipped_templates())),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    link = re.compile(re.escape(base_url) + r"/r/[A-Za-z0-9_.\-]+")
    stylesheet = (shipped_templates() / "demo" / "demo.css").read_text(encoding="utf-8")
    app.add_middleware(MailFramePolicy)

    def pick(number: int) -> CaughtMail | None:
        mails = catcher.snapshot()
        return mails[number - 1] if 0 < number <= len(mails) else None

    def summary(number: int, mail: CaughtMail) -> dict[str, object]:
        message = mail.parsed()
        found = link.search(text_part(message))
        return {"number": number, "to": str(message["To"]), "subject": str(message["Subject"]),
                "link": found.group(0) if found else "",
                "attachments": [a.name for a in attachments(message)]}

    def page(name: str, **values: object) -> HTMLResponse:
        return HTMLResponse(env.get_template(f"demo/{name}.html.j2").render(
            smtp=smtp, workspace=workspace, **values))

    @app.get("/", include_in_schema=False)
    async def home() -> Response:
        return RedirectResponse("/outbox", status_code=303)

    @app.get("/outbox/demo.css", include_in_schema=False)
    async def demo_css() -> Response:
        return Response(stylesheet, media_type="text/css; charset=utf-8")

    @app.get("/outbox", response_class=HTMLResponse, include_in_schema=False)
    async def outbox() -> HTMLResponse:
        mails = catcher.snapshot()
        return page("outbox", mails=[summary(n, m) for n, m in enumerate(mails, start=1)])

    @app.get("/outbox/{number}", include_in_schema=False)
    async def one_mail(number: int) -> Response:
        mail = pick(number)
        if mail is None:
            return PlainTextResponse("No such mail.", status_code=404)
        message = mail.parsed()
        return page("mail", mail=summary(number, mail), text=text_part(message),
                    headers=[(name, str(value)) for name, value in message.items()],
                    has_html=message.get_body(("html",)) is not None)

    @app.get("/outbox/{number}/{part}", include_in_schema=False)
    async def mail_part(number: int, part: str) -> Response:
        mail = pick(number)
        if mail is None or part not in ("html", "text", "eml"):
            return PlainTextResponse("No such mail.", status_code=404)
        if part == "eml":
            return Response(mail.data, media_type="message/rfc822", headers=_download(
                f"mail-{number}.eml"))
        message = mail.parsed()
        if part == "text":
            return PlainTextResponse(text_part(message))
        body = message.get_body(("html",))
        return HTMLResponse(with_base(body.get_content() if body is not None else ""))

    @app.get("/outbox/{number}/attachments/{index}", include_in_schema=False)
    async def attachment(number: int, index: int) -> Response:
        mail = pick(number)
        found = attachments(mail.parsed()) if mail is not None else []
        if not 0 < index <= len(found):
            return PlainTextResponse("No such attachment.", status_code=404)
        item = found[index - 1]
        return Response(item.data, media_type=item.content_type, headers=_download(item.name))


def text_part(message: EmailMessage) -> str:
    """The plain-text body, or nothing for a mail without one."""
    body = message.get_body(("plain",))
    return str(body.get_content()) if body is not None else ""


def attachments(message: EmailMessage) -> list[Attachment]:
    """The files attached to the mail (the calendar entry `invite.ics` among them)."""
    found: list[Attachment] = []
    for part in message.iter_attachments():
        data = part.get_payload(decode=True)
        if not isinstance(part, EmailMessage) or not isinstance(data, bytes):
            continue
        name = _SAFE_NAME.sub("_", part.get_filename() or "") or f"attachment-{len(found) + 1}"
        # An .ics is a calendar, whatever type the sender gave it, so that a click adds it.
        kind = "text/calendar" if name.endswith(".ics") else part.get_content_type()
        found.append(Attachment(name, kind, data))
    return found


def with_base(html: str) -> str:
    """The mail's HTML with links set to open outside the frame."""
    head = _HEAD.search(html)
    if head is None:
        return _BASE + html
    return html[:head.end()] + _BASE + html[head.end():]


def _download(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}
