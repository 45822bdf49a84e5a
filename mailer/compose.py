"""Build the bytes of one mail fast: static parts once per mailing, personal parts per mail."""

from __future__ import annotations

import binascii
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parseaddr

from mailer.headers import check_address, header_text, mailbox, one_line
from mailer.render import RenderedMail
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


def _qp(text: str) -> bytes:
    data = text.replace("\r\n", "\n").encode("utf-8")
    return binascii.b2a_qp(data, istext=True).replace(b"\n", b"\r\n")


class MessageBuilder:
    """Make RFC 5322 messages for one mailing; safe headers, quoted-printable bodies."""

    def __init__(self, from_name: str, from_address: str, reply_to: str) -> None:
        self.from_address = from_address
        self.domain = from_address.rsplit("@", 1)[1]
        # "=_" cannot occur in quoted-printable output, so the boundary never clashes.
        self.boundary = "=_invite_" + secrets.token_hex(12)
        static = [f"From: {mailbox(from_name, from_address)}"]
        if reply_to:
            static.append(f"Reply-To: {mailbox('', reply_to)}")
        static += ["MIME-Version: 1.0",
                   "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
                   f'Content-Type: multipart/alternative; boundary="{self.boundary}"']
        self._static = ("\r\n".join(static) + "\r\n").encode("ascii")
        b = self.boundary
        self._text_head = (f"\r\n--{b}\r\nContent-Type: text/plain; charset=utf-8\r\n"
                           "Content-Transfer-Encoding: quoted-printable\r\n\r\n").encode("ascii")
        self._html_head = (f"\r\n--{b}\r\nContent-Type: text/html; charset=utf-8\r\n"
                           "Content-Transfer-Encoding: quoted-printable\r\n\r\n").encode("ascii")
        self._tail = f"\r\n--{b}--\r\n".encode("ascii")
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

    def build(self, mail: RenderedMail, to_name: str, to_address: str, message_id: str,
              unsubscribe_url: str, language: str) -> bytes:
        """Return the message bytes; personal values only pass through safe encoders."""
        if not message_id.startswith("<") or one_line(message_id) != message_id:
            raise ValueError(f"bad Message-ID {message_id!r}")
        url = one_line(unsubscribe_url)
        if " " in url or ">" in url or not url.isascii():
            raise ValueError(f"bad unsubscribe URL {unsubscribe_url!r}")
        head = (
            f"Date: {self._now()}\r\n"
            f"To: {mailbox(to_name, to_address)}\r\n"
            f"Subject: {header_text(mail.subject)}\r\n"
            f"Message-ID: {message_id}\r\n"
            f"Content-Language: {language if language.isalpha() else 'en'}\r\n"
            f"List-Unsubscribe: <{url}>\r\n"
        ).encode("ascii")
        return b"".join((head, self._static, self._text_head, _qp(mail.text),
                         self._html_head, _qp(mail.html), self._tail))
