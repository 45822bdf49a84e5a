"""Run the RSVP web app under uvicorn for a workspace, with the background sender beside it."""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path
from types import FrameType

import uvicorn

from mailer.delivery.background import DEFAULT_INTERVAL, BackgroundSender
from rsvp.config import load_event
from rsvp.settings import load_settings

log = logging.getLogger("invite.sender")


def run_server(workspace: Path, host: str, port: int, workers: int = 1,
               send_interval: float | None = DEFAULT_INTERVAL) -> None:
    """Serve `rsvp.web.app` for `workspace`; access logs stay off because URLs hold tokens.

    The background sender runs in this process only, beside uvicorn (or its supervisor
    with several workers); `send_interval` None turns it off.
    """
    os.environ["INVITE_WORKSPACE"] = str(workspace)
    _show_sender_log()
    background = None
    if send_interval is None:
        log.info("background sender off: invitations to people put forward and "
                 "first-come decisions wait for the next `invite send`")
    else:
        settings = load_settings(workspace)
        background = BackgroundSender(settings, load_event(settings.event_file),
                                      interval=send_interval)
        log.info("background sender on: invitations to people put forward (and, in "
                 "first-come events, confirmations and waiting-list notices) go out via %s, "
                 "checked every %g s", settings.relay, send_interval)
        background.start()
    # uvicorn re-raises SIGTERM once it has shut down; by default that would end the
    # process before a round in progress could record what the relay said.
    previous = signal.signal(signal.SIGTERM, _exit)
    try:
        uvicorn.run("rsvp.web.app:app_from_env", factory=True, host=host, port=port,
                    workers=workers, access_log=False, server_header=False,
                    proxy_headers=True, log_level="info")
    finally:
        signal.signal(signal.SIGTERM, previous)
        if background is not None:
            background.stop()


def _exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def _show_sender_log() -> None:
    """Print the sender's lines like uvicorn's own (uvicorn configures only its loggers)."""
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)-9s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
