"""Build the bytes of one mail fast: static parts once per mailing, personal parts per mail."""

from __future__ import annotations

import base64
import binascii
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parseaddr

from mailer.content.headers import (
    check_address,
    folded,
    header_text,
    mailbox,
    mailbox_header,
    one_line,
    text_header,
)
from mailer.content.list_headers import AUTO_REPLY_SUPPRESS, ListIdentity
from mailer.content.render import RenderedMail
from rsvp.config import Sender
from rsvp.errors import ConfigError


@dataclass(frozen=True)
class Envelope:
    """What the relay is told: the bounce address and the one recipient."""

    sender: str
    recipient: str


def parse_sender(sender: Sender, source: str) -> tuple[str, str, str]:
    """Return (display name, From address, Reply-To address) from [sender], checked."""
    name, address = parseaddr(sender.from_)
    try:
        check_address(address)
    except ValueError:
        raise ConfigError(f"{source}: 'sender.from' is {sender.from_!r}, not 'Name <address>'") from None
    reply_to = ""
    if sender.reply_to:
        reply_to = parseaddr(sender.reply_to)[1]
        try:
            check_address(reply_to)
        except ValueError:
            raise ConfigError(f"{source}: 'sender.reply_to' is {sender.reply_to!r}, not an address") from None
    return name, address, reply_to


def reply_name(sender: Sender) -> str:
    """The display name given with `reply_to` in [sender] ("Anna <anna@...>"), if any."""
    return parseaddr(sender.reply_to)[0] if sender.reply_to else ""


def reply_person(sender: Sender, from_name: str, from_address: str,
                 reply_to: str) -> tuple[str, str]:
    """(name, address) of the person answers go to, the calendar's ORGANIZER: the
    Reply-To address (else From), named as given there, else `organiser`, else as From."""
    name = one_line(reply_name(sender) or sender.organiser or from_name)
    return name, reply_to or from_address


MAX_LINE = 998  # RFC 5322: longer lines must be encoded
ICS_NAME = "invite.ics"


def _qp(data: bytes) -> bytes:
    return binascii.b2a_qp(data, istext=True).replace(b"\n", b"\r\n")


def _part(text: str, eight_bit: bool, pack: bool = False) -> tuple[bool, bytes]:
    """Return (is_8bit, body): raw UTF-8 when the relay takes 8BITMIME and every
    line is short enough, else quoted-printable (which costs ten times more).
    With `pack` (HTML whose line breaks are mere whitespace) an 8bit body goes out
    with its short lines joined."""
    if "\r" in text:  # CRLF-only output is what mailer.smtp.deliver relies on
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    data = text.encode("utf-8")
    if eight_bit:
        lines = data.split(b"\n")
        if pack:
            lines = _packed(lines)
        if max(map(len, lines)) <= MAX_LINE:
            return True, b"\r\n".join(lines)
    return False, _qp(data)


PACKED_LINE = 900  # well under the 998 octets a line may have


def _packed(lines: list[bytes]) -> list[bytes]:
    """Join short HTML lines with spaces into lines of up to PACKED_LINE octets. Mail
    software (relays, scanners, the receiving server) handles a message line by line:
    an invitation's HTML goes from 224 lines to about 20, and a relay like aiosmtpd
    spends a third less CPU on the whole mail."""
    packed: list[bytes] = []
    pieces: list[bytes] = []
    size = -1
    for line in lines:
        if pieces and size + 1 + len(line) > PACKED_LINE:
            packed.append(b" ".join(pieces))
            pieces, size = [], -1
        pieces.append(line)
        size += 1 + len(line)
    packed.append(b" ".join(pieces))
    return packed


class MessageBuilder:
    """Make RFC 5322 messages for one mailing: safe headers folded within 78 characters;
    8bit bodies when the relay takes them (`eight_bit`), quoted-printable otherwise.

    A mail with a calendar is multipart/mixed: multipart/alternative (text/plain,
    text/html, text/calendar with method=PUBLISH: see mailer.content.calendar for why
    not REQUEST), then the same calendar as an attachment `invite.ics` of the registered
    type text/calendar (RFC 5545 8.1), never application/ics: a client that does not
    take the alternative as an event (Outlook reads only REQUEST, REPLY, CANCEL and
    COUNTER inline) still offers the attachment to open and add.
    """

    def __init__(self, from_name: str, from_address: str, reply_to: str,
                 eight_bit: bool = False, *, reply_to_name: str = "",
                 listing: ListIdentity | None = None) -> None:
        self.from_address = from_address
        self.eight_bit = eight_bit
        self.domain = from_address.rsplit("@", 1)[1]
        # "=_" cannot occur in quoted-printable or base64 output; in an 8bit body the
        # 96 random bits make a clash with text a person wrote practically impossible.
        self.boundary = b = "=_invite_" + secrets.token_hex(12)
        static = [mailbox_header("From", from_name, from_address)]
        if reply_to:
            static.append(mailbox_header("Reply-To", reply_to_name, reply_to))
        static.append("MIME-Version: 1.0")
        if listing is not None:
            static.append(listing.list_id(self.domain))
        static += ["List-Unsubscribe-Post: List-Unsubscribe=One-Click", AUTO_REPLY_SUPPRESS]
        self._static = _lines(*static, _multipart("alternative", b))
        self._heads = {
            (kind, is_8bit): _lines("", f"--{b}", f"Content-Type: text/{kind}; charset=utf-8",
                                    "Content-Transfer-Encoding: "
                                    f"{'8bit' if is_8bit else 'quoted-printable'}", "")
            for kind in ("plain", "html") for is_8bit in (True, False)}
        self._tail = _lines("", f"--{b}--")
        # A mail with a calendar: mixed -> [alternative (text, html, calendar), invite.ics].
        # Base64 has no "=_" either, so both boundaries are safe.
        m = "=_invite_mixed_" + secrets.token_hex(12)
        self._static_mixed = _lines(*static, _multipart("mixed", m))
        self._mixed_open = _lines("", f"--{m}", _multipart("alternative", b))
        self._calendar_head = _lines(
            "", f"--{b}", "Content-Type: text/calendar; charset=utf-8; method=PUBLISH",
            "Content-Transfer-Encoding: base64", "")
        self._attachment_head = _lines(
            "", f"--{m}", folded("Content-Type", ["text/calendar;", "charset=utf-8;",
                                                  f'name="{ICS_NAME}"']),
            f'Content-Disposition: attachment; filename="{ICS_NAME}"',
            "Content-Transfer-Encoding: base64", "")
        self._mixed_tail = _lines("", f"--{m}--")
        self._date_second = -1
        self._date = ""

    def message_id(self) -> str:
        return f"<{time.time_ns():x}.{secrets.token_hex(8)}@{self.domain}>"

    def _now(self) -> str:
        second = int(time.time())
        if second != self._date_second:
            self._date_second = second
            self._date = format_datetime(datetime.fromtimestamp(second, UTC))
        return self._date

    def check(self, mail: RenderedMail, to_name: str, to_address: str) -> None:
        """Raise ValueError for what `build` would refuse of this person's headers."""
        mailbox(to_name, to_address)
        header_text(mail.subject)

    def build(self, mail: RenderedMail, to_name: str, to_address: str, message_id: str,
              unsubscribe_url: str, language: str, calendar: bytes | None = None) -> bytes:
        """Return the message bytes; personal values only pass through safe encoders.

        With `calendar` (an .ics file) the mail also shows it as an event and attaches it.
        """
        if not message_id.startswith("<") or one_line(message_id) != message_id:
            raise ValueError(f"bad Message-ID {message_id!r}")
        url = one_line(unsubscribe_url)
        if " " in url or ">" in url or not url.isascii():
            raise ValueError(f"bad unsubscribe URL {unsubscribe_url!r}")
        head = _lines(
            f"Date: {self._now()}",
            mailbox_header("To", to_name, to_address),
            text_header("Subject", mail.subject),
            f"Message-ID: {message_id}",
            f"Content-Language: {language if language.isascii() and language.isalpha() else 'en'}",
            f"List-Unsubscribe: <{url}>")
        text_8bit, text = _part(mail.text, self.eight_bit)
        html_8bit, html = _part(mail.html, self.eight_bit, pack=mail.packable)
        if calendar is None:
            return b"".join((head, self._static, self._heads["plain", text_8bit], text,
                             self._heads["html", html_8bit], html, self._tail))
        ics = base64.encodebytes(calendar).rstrip(b"\n").replace(b"\n", b"\r\n")
        return b"".join((head, self._static_mixed, self._mixed_open,
                         self._heads["plain", text_8bit], text, self._heads["html", html_8bit],
                         html, self._calendar_head, ics, self._tail,
                         self._attachment_head, ics, self._mixed_tail))


def _multipart(subtype: str, boundary: str) -> str:
    return folded("Content-Type", [f"multipart/{subtype};", f'boundary="{boundary}"'])


def _lines(*lines: str) -> bytes:
    """Header lines (or MIME boundary lines) as CRLF-ended ASCII bytes."""
    return "".join(line + "\r\n" for line in lines).encode("ascii")
