"""Read what a stranger sent without letting it cost more than a report needs.

Anyone can write to the bounce address, so each step here is bounded: a message with
more MIME parts or deeper nesting than any report carries is refused before it is parsed
(the standard library's parser and walk recurse once per level), text is decoded with a
fallback when the declared charset is unknown, and where the VERP id or our Message-ID
may stand is looked for in the report's headers, the returned message's headers and the
first PROOF_BYTES of the message only, never in a copy of the whole of it.
"""

from __future__ import annotations

import codecs
import re
from email.message import Message

MAX_PARTS = 200  # a report has 2-4, its returned original a few more
MAX_CONTAINERS = 32  # multipart/* and message/* parts: how deep it could nest
PROOF_BYTES = 64 * 1024  # the report and the returned headers come first
TEXT_BYTES = 64 * 1024  # of each text part read for a status code or a reason
_CONTENT_TYPE = re.compile(rb"^content-type:", re.IGNORECASE | re.MULTILINE)
_CONTAINER = re.compile(rb"^content-type:[ \t]*(?:\r?\n[ \t]+)?(?:multipart|message)/",
                        re.IGNORECASE | re.MULTILINE)
_HEADS = ("Delivered-To", "X-Original-To", "Envelope-To", "To", "Return-Path")


class Unreadable(ValueError):
    """A message this reader refuses to take apart; its text says why, in one line."""


def check_shape(raw: bytes) -> None:
    """Refuse, before parsing, a message with more parts or nesting than a report has."""
    parts = len(_CONTENT_TYPE.findall(raw))
    if parts > MAX_PARTS:
        raise Unreadable(f"{parts} MIME parts (a report has a few; at most {MAX_PARTS} are read)")
    containers = len(_CONTAINER.findall(raw))
    if containers > MAX_CONTAINERS:
        raise Unreadable(f"{containers} nested MIME containers (at most {MAX_CONTAINERS} "
                         "are read)")


def decoded(part: Message, limit: int = TEXT_BYTES) -> str:
    """The text of one part, its first `limit` bytes; UTF-8 when the declared charset is
    unknown (unknown-8bit, x-garbage)."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    return payload[:limit].decode(_charset(part.get_content_charset()), "replace")


def _charset(name: str | None) -> str:
    try:
        return codecs.lookup(name or "utf-8").name
    except (LookupError, ValueError):
        return "utf-8"


def returned_headers(message: Message) -> str:
    """The headers of the returned original: a text/rfc822-headers part, or those of a
    message/rfc822 part ("" when the report returns neither)."""
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "text/rfc822-headers":
            return decoded(part, PROOF_BYTES)
        if kind == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                return "\n".join(f"{name}: {value}" for name, value in inner[0].items())[
                    :PROOF_BYTES]
    return ""


def proof_text(message: Message, raw: bytes) -> str:
    """Where a VERP address or our Message-ID may stand: the headers naming the mailbox
    the report came to, the returned original's headers, then the message's first
    PROOF_BYTES (a plain-text report quotes the original there)."""
    heads = [str(message.get(name, "")) for name in _HEADS]
    return "\n".join([*heads, returned_headers(message),
                      raw[:PROOF_BYTES].decode("utf-8", "replace")])
