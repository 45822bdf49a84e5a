"""Open SMTP connections to the relay and sort its failures into transient and permanent."""

from __future__ import annotations

import asyncio
import ssl

import aiosmtplib

from rsvp.errors import SendError
from rsvp.settings import Settings

CONNECT_TIMEOUT = 30.0


def make_client(settings: Settings, timeout: float = CONNECT_TIMEOUT) -> aiosmtplib.SMTP:
    return aiosmtplib.SMTP(
        hostname=settings.smtp_host, port=settings.smtp_port, timeout=timeout,
        use_tls=settings.smtp_tls == "tls",
        start_tls=settings.smtp_tls == "starttls",
        username=settings.smtp_user or None, password=settings.smtp_password or None,
        local_hostname="invite.localhost",
    )


async def connect(settings: Settings, timeout: float = CONNECT_TIMEOUT) -> aiosmtplib.SMTP:
    """Connect (and log in); raise SendError saying what the person can fix."""
    client = make_client(settings, timeout)
    try:
        await client.connect()
        if not client.esmtp_extensions:
            # Greet now (aiosmtplib would wait until the first mail) to learn what the
            # relay offers, 8BITMIME above all.
            await client.ehlo()
    except aiosmtplib.SMTPAuthenticationError as error:
        raise SendError(f"{settings.relay} refused the login for {settings.smtp_user!r}: "
                        f"{error.code} {error.message}",
                        hint="Check INVITE_SMTP_USER and INVITE_SMTP_PASSWORD.") from None
    except aiosmtplib.SMTPResponseException as error:
        raise SendError(f"{settings.relay} refused the connection: {error.code} {error.message}") from None
    except (TimeoutError, aiosmtplib.SMTPException, OSError, ssl.SSLError) as error:
        raise SendError(f"cannot reach the mail relay {settings.relay}: {error}",
                        hint="Check INVITE_SMTP_HOST, INVITE_SMTP_PORT and INVITE_SMTP_TLS.") from None
    return client


def classify(error: BaseException) -> tuple[bool, str]:
    """Return (permanent, reply text) for a failed send."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        first = error.recipients[0] if error.recipients else None
        if first is None:
            return False, "recipient refused"
        return first.code >= 500, f"{first.code} {first.message}"
    if isinstance(error, aiosmtplib.SMTPResponseException):
        return error.code >= 500, f"{error.code} {error.message}"
    if isinstance(error, (aiosmtplib.SMTPTimeoutError, asyncio.TimeoutError)):
        return False, "the relay did not answer in time"
    if isinstance(error, (aiosmtplib.SMTPServerDisconnected, ConnectionError, OSError)):
        return False, f"connection lost: {error}"
    if isinstance(error, aiosmtplib.SMTPException):
        return False, str(error)
    raise error
