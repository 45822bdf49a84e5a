"""Encrypt the line to the relay before a password goes over it, and check whom we reach.

aiosmtplib logs in wherever it is told to, also over a line in clear text, and it logs
in again on each reconnect; a relay that offered STARTTLS used to get our password in
clear text because STARTTLS was off by default. `RelayClient` therefore logs in itself,
after `connect` has encrypted the line as `INVITE_SMTP_TLS` says:

    auto      STARTTLS when the relay offers it (the default); a login over a line that
              stayed in clear text is refused
    starttls  STARTTLS, and a relay that does not offer it is refused
    tls       TLS from the first byte (port 465)
    none      never encrypted: the one mode that lets a password go out in clear text,
              so the organiser must have chosen it (the CLI warns once per run)

Certificates are checked against the system's authorities, plus the one in
`INVITE_SMTP_CA_FILE` for a relay with a certificate of its own. We greet the relay
(EHLO) with `INVITE_SMTP_HELO`, else the From domain: never `localhost`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import ssl
from pathlib import Path
from typing import Any

import aiosmtplib

from mailer.delivery.relay_hints import (
    plain_login_hint,
    starttls_hint,
    tls_asked,
    user_setting,
)
from rsvp.errors import ConfigError, SendError
from rsvp.hostnames import helo_problem
from rsvp.settings import HELO_HINT, Settings

CERTIFICATE_HINT = ("If the relay has a certificate of its own (self-signed or from your "
                    "organisation's authority), set INVITE_SMTP_CA_FILE to it (PEM).")


class RelayClient(aiosmtplib.SMTP):
    """An SMTP client that encrypts as configured and logs in only where that is safe,
    on the first connection and on every reconnect."""

    def __init__(self, settings: Settings, timeout: float) -> None:
        mode = settings.smtp_tls
        super().__init__(
            hostname=settings.smtp_host, port=settings.smtp_port, timeout=timeout,
            use_tls=mode == "tls",
            # None: upgrade when offered. For "starttls" too, so that `_check_line` can
            # say clearly what is missing instead of aiosmtplib's generic error.
            start_tls=None if mode in ("auto", "starttls") else False,
            tls_context=None if mode == "none" else tls_context(settings.smtp_ca_file),
            local_hostname=helo_name(settings),
        )
        self.settings = settings

    @property
    def encrypted(self) -> bool:
        """Whether the line to the relay is encrypted now."""
        return self.is_connected and self.get_transport_info("sslcontext") is not None

    async def connect(self, *args: Any, **kwargs: Any) -> aiosmtplib.SMTPResponse:
        """Connect, greet and encrypt (aiosmtplib), then check the line and log in."""
        response = await super().connect(*args, **kwargs)
        try:
            self._check_line()
            if self.settings.smtp_user:
                await self._log_in()
        except BaseException:
            self.close()
            raise
        return response

    def close(self) -> None:
        """Close the connection; an encrypted line is cut at once.

        Closing a TLS line politely (close_notify) takes more turns of the event loop,
        which `asyncio.run` no longer gives once a send has ended: the socket would stay
        open until the garbage collector found it. After QUIT, or after an error that
        ends the connection anyway, nothing is lost by cutting it.
        """
        transport = self.transport
        if (isinstance(transport, asyncio.Transport)
                and transport.get_extra_info("sslcontext") is not None):
            transport.abort()
        super().close()

    async def _log_in(self) -> None:
        """Log in with INVITE_SMTP_USER, on a line `_check_line` has let through."""
        if not self.esmtp_extensions:
            await self.ehlo()  # STARTTLS made aiosmtplib forget what the relay offers
        if not self.supports_extension("auth"):
            user = user_setting(self.settings)
            raise SendError(f"{self.settings.relay} offers no login (AUTH), but {user} is "
                            "set", hint=f"Leave {user} unset if the relay takes mail without "
                            "a login.")
        await self.login(self.settings.smtp_user, self.settings.smtp_password)

    def _check_line(self) -> None:
        """Refuse a line in clear text where the mode or a password needs encryption."""
        settings = self.settings
        if self.encrypted or settings.smtp_tls == "none":
            return
        if settings.smtp_tls == "starttls":
            raise SendError(f"{settings.relay} does not offer STARTTLS, which "
                            f"{tls_asked(settings, 'starttls')} asks for",
                            hint=starttls_hint(settings))
        if settings.smtp_user:
            raise SendError(f"{settings.relay} does not offer STARTTLS: logging in as "
                            f"{settings.smtp_user!r} would send the password unencrypted",
                            hint=plain_login_hint(settings))


def with_helo(settings: Settings, from_address: str) -> Settings:
    """`settings` with the EHLO name filled in: INVITE_SMTP_HELO, else the domain of
    the From address (a relay, and every filter reading its Received line, trusts a
    name that matches the mail's domain; `localhost` looks like a misconfigured bot)."""
    if settings.smtp_helo:
        return settings
    domain = from_address.rsplit("@", 1)[-1].rstrip(".").lower()
    problem = helo_problem(domain)
    if problem:
        raise ConfigError(f"the From domain {domain!r} cannot be the name we greet the relay "
                          f"with: {problem}", hint=HELO_HINT)
    return dataclasses.replace(settings, smtp_helo=domain)


def helo_name(settings: Settings) -> str:
    """The EHLO name `with_helo` settled on. Never guessed here: looking up this machine's
    own name could block the event loop, and `localhost` looks like a misconfigured bot."""
    if not settings.smtp_helo:
        raise SendError(f"no name to greet {settings.relay} with: the settings were not "
                        "given the From domain or INVITE_SMTP_HELO", hint=HELO_HINT)
    return settings.smtp_helo


@functools.lru_cache(maxsize=4)
def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """The system's trusted authorities plus `ca_file`; host names are checked.

    Made once per process: loading the system's authorities takes a while, and one
    context serves every connection.
    """
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(ca_file))
        except (ssl.SSLError, OSError) as error:
            raise SendError(f"INVITE_SMTP_CA_FILE {ca_file} holds no usable certificate "
                            f"({error})", hint="Give the certificate in PEM form "
                            "(text beginning with -----BEGIN CERTIFICATE-----).") from None
    return context


def untrusted_certificate(error: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate failure behind `error`, if a relay's certificate was refused."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None
