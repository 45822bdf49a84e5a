"""`invite demo`: the whole loop on one machine, with a mail catcher and a page of caught mails.

Someone trying the tool runs this first, so its failures must read as sentences: a port
in use is replaced by a free one (or, when the person chose it, named with the flag that
changes it), and a temporary workspace is removed however the demo ends (an error,
Ctrl-C, SIGTERM). The web socket is bound before anything else and handed to uvicorn, so
the port checked is the port served.
"""

from __future__ import annotations

import errno
import shutil
import signal
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import uvicorn
from fastapi import FastAPI
from rich.console import Console

from mailer.cli.campaign import run_send
from mailer.cli.catcher import MailCatcher, free_port, start_catcher
from mailer.cli.demo_outbox import add_outbox_routes
from mailer.delivery.background import BackgroundSender
from mailer.delivery.sender import SendOptions
from mailer.people.importer import import_recipients
from mailer.people.workspace import Workspace, init_workspace
from rsvp.config import load_event
from rsvp.errors import InviteError
from rsvp.settings import load_settings
from rsvp.store import open_store
from rsvp.web.app import create_app

HOST = "127.0.0.1"
WEB_PORT, SMTP_PORT = 8000, 8025


def demo_app(ws: Workspace, catcher: MailCatcher, smtp: str) -> FastAPI:
    """The RSVP app plus / and the /outbox pages listing what the catcher received."""
    app = create_app(ws.settings, ws.event, ws.store)
    add_outbox_routes(app, catcher, smtp, str(ws.settings.workspace), ws.settings.base_url)
    return app


def run_demo(port: int | None, smtp_port: int | None, folder: Path | None,
             console: Console) -> None:
    """Create the example workspace, send its invitations into the catcher, serve the app.

    `port` and `smtp_port` None mean "8000 and 8025, or free ones if those are taken";
    a port given and taken is an error. Without `folder` the workspace is temporary.
    """
    with _workspace(folder) as where, _stopped_by_sigterm():
        web = _listen(port, "web app", "--port", console)
        try:
            smtp_port = _smtp_port(smtp_port, console)
            _serve(web, smtp_port, where, folder is None, console)
        except KeyboardInterrupt:
            console.print("Demo stopped.")
        finally:
            web.close()


def _serve(web: socket.socket, smtp_port: int, folder: Path, temporary: bool,
           console: Console) -> None:
    init_workspace(folder)
    base_url = f"http://{HOST}:{web.getsockname()[1]}"
    # Everything stays on this machine: links to it, and the catcher takes mail in clear
    # text without a login (`invite send` would refuse the unset address).
    settings = load_settings(folder, {"INVITE_SMTP_HOST": HOST,
                                      "INVITE_SMTP_PORT": str(smtp_port),
                                      "INVITE_SMTP_TLS": "none",
                                      "INVITE_BASE_URL": base_url})
    event = load_event(settings.event_file)
    ws = Workspace(settings=settings, event=event, store=open_store(settings.database))
    try:
        report = import_recipients(ws.store, folder / "recipients.csv", event)
        console.print(f"Workspace: {folder} ({report.added} sample recipients"
                      f"{'; removed when the demo stops, --folder DIR keeps one' if temporary else ''})")
        catcher = MailCatcher()
        try:
            controller = start_catcher(catcher, host=HOST, port=smtp_port)
        except OSError as error:
            raise _taken(smtp_port, "mail catcher", "--smtp-port") from error
        # As under `invite serve`: people put forward on the form get their invitation at once.
        background = BackgroundSender(settings, event)
        try:
            run_send(ws, SendOptions(), console, console)
            background.start()
            console.print(f"\nOpen {base_url}/outbox to read the mails and answer as a recipient.")
            console.print(f"Then: invite status -w {folder}   (Ctrl-C stops the demo)\n")
            config = uvicorn.Config(demo_app(ws, catcher, f"{HOST}:{smtp_port}"),
                                    access_log=False, log_level="warning", server_header=False)
            uvicorn.Server(config).run(sockets=[web])
        finally:
            background.stop()
            controller.stop()
    finally:
        ws.close()


@contextmanager
def _workspace(folder: Path | None) -> Iterator[Path]:
    """The folder given, or a temporary one that is removed on every way out."""
    if folder is not None:
        yield folder
        return
    made = Path(tempfile.mkdtemp(prefix="invite-demo-"))
    try:
        yield made
    finally:
        shutil.rmtree(made, ignore_errors=True)


@contextmanager
def _stopped_by_sigterm() -> Iterator[None]:
    """Let SIGTERM end the demo through its clean-up, as Ctrl-C does.

    uvicorn handles the signal while it serves and raises it again once it has stopped;
    the default action would then end the process before the `finally` blocks ran.
    """
    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _listen(port: int | None, what: str, flag: str, console: Console) -> socket.socket:
    """A listening socket on `port`, or on 8000 or a free port when none was asked for."""
    for candidate in ([port] if port is not None else [WEB_PORT, 0]):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, candidate))
        except OSError as error:
            sock.close()
            if error.errno != errno.EADDRINUSE:
                raise
            if port is not None:
                raise _taken(port, what, flag) from None
            continue
        sock.listen(128)
        if port is None and candidate == 0:
            console.print(f"Port {WEB_PORT} is taken: the {what} uses {sock.getsockname()[1]} "
                          f"({flag} chooses one).")
        return sock
    raise AssertionError("port 0 always binds")


def _smtp_port(port: int | None, console: Console) -> int:
    """The catcher's port: the one asked for, else 8025 if free, else any free port.

    aiosmtpd binds the port itself, so this only checks; a port taken in between is
    reported when the catcher starts.
    """
    wanted = port if port is not None else SMTP_PORT
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, wanted))
            return wanted
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise
            if port is not None:
                raise _taken(port, "mail catcher", "--smtp-port") from None
    chosen = free_port(HOST)
    console.print(f"Port {SMTP_PORT} is taken: the mail catcher uses {chosen} "
                  "(--smtp-port chooses one).")
    return chosen


def _taken(port: int, what: str, flag: str) -> InviteError:
    return InviteError(f"port {port} for the {what} is taken by another program",
                       hint=f"Pass {flag} with a free port, or leave {flag} out and the demo "
                            "picks one.")
