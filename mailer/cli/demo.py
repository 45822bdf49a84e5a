"""`invite demo`: the whole loop on one machine, with a mail catcher and a page of caught mails."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import jinja2
import uvicorn
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from rich.console import Console

from mailer.cli.campaign import run_send
from mailer.cli.catcher import CaughtMail, MailCatcher, start_catcher
from mailer.content.render import shipped_templates
from mailer.delivery.background import BackgroundSender
from mailer.delivery.sender import SendOptions
from mailer.people.importer import import_recipients
from mailer.people.workspace import Workspace, init_workspace
from rsvp.config import load_event
from rsvp.settings import load_settings
from rsvp.store import open_store
from rsvp.web.app import create_app

# The mail's own inline styles must apply when it is shown; nothing else may load.
MAIL_VIEW_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"


def demo_app(ws: Workspace, catcher: MailCatcher, smtp: str) -> FastAPI:
    """The RSVP app plus /outbox pages listing what the catcher received."""
    app = create_app(ws.settings, ws.event, ws.store)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(shipped_templates())),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    link = re.compile(re.escape(ws.settings.base_url) + r"/r/[A-Za-z0-9_.\-]+")

    def row(mail: CaughtMail) -> dict[str, str]:
        message = mail.parsed()
        body = message.get_body(("plain",))
        text = body.get_content() if body is not None else ""
        found = link.search(text)
        return {"to": str(message["To"]), "subject": str(message["Subject"]),
                "link": found.group(0) if found else ""}

    def pick(number: int) -> CaughtMail | None:
        mails = catcher.snapshot()
        return mails[number - 1] if 0 < number <= len(mails) else None

    @app.get("/outbox", response_class=HTMLResponse, include_in_schema=False)
    async def outbox() -> HTMLResponse:
        page = env.get_template("demo/outbox.html.j2").render(
            mails=[row(m) for m in catcher.snapshot()], smtp=smtp,
            workspace=str(ws.settings.workspace))
        return HTMLResponse(page)

    @app.get("/outbox/{number}/{part}", include_in_schema=False)
    async def one_mail(number: int, part: str) -> Response:
        mail = pick(number)
        if mail is None or part not in ("html", "text", "eml"):
            return PlainTextResponse("No such mail.", status_code=404)
        if part == "eml":
            return Response(mail.data, media_type="message/rfc822")
        body = mail.parsed().get_body((part if part == "html" else "plain",))
        content = body.get_content() if body is not None else ""
        if part == "html":
            return HTMLResponse(content, headers={"Content-Security-Policy": MAIL_VIEW_CSP})
        return PlainTextResponse(content)

    return app


def run_demo(port: int, smtp_port: int, folder: Path | None, console: Console) -> None:
    """Create the example workspace, send its invitations into the catcher, serve the app."""
    folder = folder or Path(tempfile.mkdtemp(prefix="invite-demo-"))
    init_workspace(folder)
    base_url = f"http://127.0.0.1:{port}"
    # Everything stays on this machine: links to it, and the catcher takes mail in clear
    # text without a login (`invite send` would refuse the unset address).
    settings = load_settings(folder, {"INVITE_SMTP_HOST": "127.0.0.1",
                                      "INVITE_SMTP_PORT": str(smtp_port),
                                      "INVITE_SMTP_TLS": "none",
                                      "INVITE_BASE_URL": base_url})
    event = load_event(settings.event_file)
    ws = Workspace(settings=settings, event=event, store=open_store(settings.database))
    report = import_recipients(ws.store, folder / "recipients.csv", event)
    console.print(f"Workspace: {folder} ({report.added} sample recipients)")
    catcher = MailCatcher()
    controller = start_catcher(catcher, port=smtp_port)
    # As under `invite serve`: people put forward on the form get their invitation at once.
    background = BackgroundSender(settings, event)
    try:
        run_send(ws, SendOptions(), console, console)
        background.start()
        console.print(f"\nOpen {base_url}/outbox to read the mails and answer as a recipient.")
        console.print(f"Then: invite status -w {folder}   (Ctrl-C stops the demo)\n")
        uvicorn.run(demo_app(ws, catcher, f"127.0.0.1:{smtp_port}"), host="127.0.0.1",
                    port=port, access_log=False, log_level="warning")
    finally:
        background.stop()
        controller.stop()
        ws.close()
