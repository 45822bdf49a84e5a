"""Talk to the relay: open connections, hand over one message, sort failures.

`deliver` speaks MAIL, RCPT and DATA itself instead of aiosmtplib's `sendmail`
for two reasons. It knows the moment the whole message has been handed over,
after which a lost connection leaves the mail's fate unknown (the relay may
have taken it) rather than retryable. And our messages are CRLF-only by
construction (`mailer.content.compose`), so the two full regular-expression passes
`sendmail` makes over every message (line endings for SIZE and again for DATA,
plus dot-stuffing) become one `bytes.replace`: a third of the CPU per mail.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable

import aiosmtplib

from mailer.delivery.relay_hints import login_hint, reach_hint
from mailer.delivery.tls import CERTIFICATE_HINT, RelayClient, untrusted_certificate
from rsvp.errors import SendError
from rsvp.settings import Settings

CONNECT_TIMEOUT = 30.0
# RFC 5321 4.5.3.2.6: a relay may take ten minutes to confirm a whole message (it may
# scan it first); giving up sooner would leave many mails in an unknown state.
FINAL_REPLY_TIMEOUT = 600.0
DISCONNECTS = (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError,
                asyncio.TimeoutError, ConnectionError, OSError)


class TryLaterError(SendError):
    """The relay greeted us with 421: it takes no mail now, but may later (nothing failed).
    A command it ends exits with sysexits' EX_TEMPFAIL."""

    exit_code = 75


class FateUnknownError(Exception):
    """The connection went away after the whole message was sent but before the
    relay confirmed it: the mail may or may not have been taken."""


def make_client(settings: Settings, timeout: float = CONNECT_TIMEOUT) -> aiosmtplib.SMTP:
    """A client for the relay that encrypts and logs in as `mailer.delivery.tls` says."""
    return RelayClient(settings, timeout)


async def connect(settings: Settings, timeout: float = CONNECT_TIMEOUT) -> aiosmtplib.SMTP:
    """Connect (and log in); raise SendError saying what the person can fix."""
    client = make_client(settings, timeout)
    try:
        await greet(client)
    except aiosmtplib.SMTPAuthenticationError as error:
        raise SendError(f"{settings.relay} refused the login for {settings.smtp_user!r}: "
                        f"{error.code} {error.message}",
                        hint=login_hint(settings)) from None
    except aiosmtplib.SMTPResponseException as error:
        if error.code == 421:
            raise TryLaterError(f"{settings.relay} asks to try later: {error.code} "
                                f"{error.message}", hint="Nothing was sent to it.") from None
        raise SendError(f"{settings.relay} refused the connection: {error.code} {error.message}") from None
    except (TimeoutError, aiosmtplib.SMTPException, OSError, ssl.SSLError) as error:
        refused = untrusted_certificate(error)
        if refused is not None:
            raise SendError(f"the certificate of {settings.relay} is not trusted: "
                            f"{refused.verify_message}", hint=CERTIFICATE_HINT) from None
        raise SendError(f"cannot reach the mail relay {settings.relay}: {error}",
                        hint=reach_hint(settings)) from None
    return client


async def greet(client: aiosmtplib.SMTP) -> None:
    """(Re)connect and greet at once (aiosmtplib would wait until the first mail) to
    learn what the relay offers: 8BITMIME above all, and SIZE."""
    await client.connect()
    if not client.esmtp_extensions:
        await client.ehlo()


END_OF_DATA = b".\r\n"


def stuffed(message: bytes) -> bytes:
    """A CRLF-only message as DATA carries it before its end: dot-stuffed, ending in CRLF."""
    if not message.endswith(b"\r\n"):
        message += b"\r\n"
    if message.startswith(b"."):
        message = b"." + message
    return message.replace(b"\r\n.", b"\r\n..")


def wire_form(message: bytes) -> bytes:
    """The DATA payload of a CRLF-only message: dot-stuffed and terminated."""
    return stuffed(message) + END_OF_DATA


async def deliver(client: aiosmtplib.SMTP, sender: str, recipient: str, message: bytes,
                  mail_options: list[str],
                  on_handover: Callable[[], None] | None = None) -> str:
    """Send one CRLF-only message to one recipient on a greeted connection and return
    the relay's reply. `on_handover` is called right before the end of data is written:
    until then the relay cannot take the mail, so a crash before it is harmless. Raise
    aiosmtplib's errors for refusals and for connections lost before the message was
    complete, FateUnknownError for one lost after that."""
    options = [f"SIZE={len(message)}", *mail_options] if client.supports_extension("size") \
        else mail_options
    try:
        await client.mail(sender, options=options)
        await client.rcpt(recipient)
        reply = await client.execute_command(b"DATA")
        if reply.code != 354:
            raise aiosmtplib.SMTPDataError(reply.code, reply.message)
    except aiosmtplib.SMTPResponseException:
        await _reset(client)
        raise
    protocol = client.protocol
    if protocol is None:
        raise aiosmtplib.SMTPServerDisconnected("Connection lost")
    protocol.write(stuffed(message))  # raises if the line is already gone: nothing sent
    if not protocol.is_connected:  # the write found the line gone: the end never goes out
        raise aiosmtplib.SMTPServerDisconnected("Connection lost")
    if on_handover is not None:
        try:
            on_handover()
        except Exception as error:  # e.g. the database stayed locked: the end must not go
            client.close()  # a relay discards a message whose end never came
            raise aiosmtplib.SMTPServerDisconnected(
                f"not sent: the hand-over could not be recorded ({error})") from error
    protocol.write(END_OF_DATA)
    try:
        reply = await protocol.read_response(timeout=max(client.timeout or 0, FINAL_REPLY_TIMEOUT))
    except DISCONNECTS as error:
        raise FateUnknownError(f"the connection was lost after the whole message was sent "
                               f"and before the relay confirmed it ({error})") from error
    except Exception as error:  # e.g. a garbled reply: no clear yes or no
        raise FateUnknownError(f"the relay's reply to the whole message could not be read "
                               f"({error})") from error
    if reply.code == 250:
        return reply.message
    if 400 <= reply.code <= 599:  # a clear refusal: the relay did not take the mail
        raise aiosmtplib.SMTPDataError(reply.code, reply.message)
    raise FateUnknownError(f"the relay answered the whole message with an unexpected "
                           f"{reply.code} {reply.message}")


async def _reset(client: aiosmtplib.SMTP) -> None:
    """End a refused transaction so the connection can carry the next mail."""
    try:
        await client.rset()
    except (aiosmtplib.SMTPException, *DISCONNECTS):
        client.close()


def classify(error: BaseException) -> tuple[bool, str]:
    """Return (permanent, reply text) for a failed send; anything that is not the
    relay speaking is permanent, so that a fault on our side is never retried blind."""
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
    return True, f"could not send ({type(error).__name__}: {error})"
