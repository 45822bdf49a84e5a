"""Run the RSVP web app under uvicorn for a workspace, with the background sender beside it."""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path
from types import FrameType

import uvicorn

from mailer.bounces.poll import BouncePoller, said
from mailer.bounces.poll import log as bounce_log
from mailer.cli.preflight import check_send
from mailer.delivery.background import DEFAULT_INTERVAL, BackgroundSender
from rsvp.config import load_event
from rsvp.errors import ConfigError
from rsvp.settings import load_settings
from rsvp.web.database import wait_from_env

log = logging.getLogger("invite.sender")


def run_server(workspace: Path, host: str, port: int, workers: int = 1,
               send_interval: float | None = DEFAULT_INTERVAL,
               forwarded_allow_ips: str | None = None,
               bounces_every: float | None = None) -> None:
    """Serve `rsvp.web.app` for `workspace`; access logs stay off because URLs hold tokens.

    The background sender runs in this process only, beside uvicorn (or its supervisor
    with several workers); `send_interval` None turns it off. X-Forwarded-For and
    X-Forwarded-Proto count only from the proxies in `forwarded_allow_ips` (a comma
    list of addresses or networks, "*" for any): otherwise the rate limits would count
    whatever address a client writes there, and uvicorn's default trusts 127.0.0.1.
    `bounces_every` (seconds) turns on the poll of the IMAP bounce folder, in this
    process too (mailer.bounces.poll).
    """
    wait_from_env(os.environ)  # a wrong INVITE_DB_WAIT stops here, not in each worker
    os.environ["INVITE_WORKSPACE"] = str(workspace)
    _show_sender_log()
    poller = _bounce_poller(workspace, bounces_every)  # a setting to fix stops us here
    background = None
    if send_interval is None:
        log.info("background sender off: invitations to people put forward, first-come "
                 "decisions and scheduled sends wait for the next `invite send`")
    elif not (settings := load_settings(workspace)).base_url_given:
        log.warning("background sender off: INVITE_BASE_URL is not set, so its mails would "
                    "link to %s on this machine; set it to the answer page's public address",
                    settings.base_url)
    else:
        for line in check_send(settings):
            log.warning("%s", line.removeprefix("Warning: "))
        background = BackgroundSender(settings, load_event(settings.event_file),
                                      interval=send_interval)
        log.info("background sender on: invitations to people put forward (and, in "
                 "first-come events, confirmations and waiting-list notices) go out via %s, "
                 "checked every %g s", settings.relay, send_interval)
        background.start()
    # uvicorn re-raises SIGTERM once it has shut down; by default that would end the
    # process before a round in progress could record what the relay said.
    previous = signal.signal(signal.SIGTERM, _exit)
    if poller is not None:
        poller.start()
    try:
        uvicorn.run("rsvp.web.app:app_from_env", factory=True, host=host, port=port,
                    workers=workers, access_log=False, server_header=False,
                    proxy_headers=bool(forwarded_allow_ips),
                    forwarded_allow_ips=forwarded_allow_ips or None, log_level="info")
    finally:
        signal.signal(signal.SIGTERM, previous)
        if background is not None:
            background.stop()
        if poller is not None:
            poller.stop()


def _bounce_poller(workspace: Path, every: float | None) -> BouncePoller | None:
    """The poll of the IMAP bounce folder `--bounces-every` asks for, once it can work."""
    if every is None:
        return None
    settings = load_settings(workspace)
    if settings.bounce_imap is None:
        raise ConfigError("--bounces-every needs the bounce mailbox, but "
                          "INVITE_BOUNCE_IMAP_HOST is not set",
                          hint="Set INVITE_BOUNCE_IMAP_HOST, _USER and _PASSWORD (README: "
                               "Bounces), or leave out --bounces-every.")
    poller = BouncePoller(settings, settings.bounce_imap,
                          load_event(settings.event_file).bounces, every)
    bounce_log.info("bounce poll on: reads %s every %s", poller.source, said(every))
    return poller


def _exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def _show_sender_log() -> None:
    """Print the sender's and the bounce poll's lines like uvicorn's own (uvicorn
    configures only its loggers)."""
    for logger in (log, bounce_log):
        if not logger.handlers:
            handler = logging.StreamHandler()
            handler.setFormatter(logging.Formatter("%(levelname)-9s %(message)s"))
            logger.addHandler(handler)
            logger.setLevel(logging.INFO)
            logger.propagate = False
