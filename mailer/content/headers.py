"""Encode header values so that no text can ever add or break a header line.

We never hand personal text to the email package's folder: this Python
(3.11.7) predates the fix for CVE-2024-6923, where an encoded word such as
`=?UTF-8?Q?=0A?=` decoded into a raw newline on output. Every value is
flattened to one line; anything that is not plain ASCII, or that merely looks
like an encoded word, is emitted as base64 encoded words built here.
"""

from __future__ import annotations

import base64
import functools
import re
import unicodedata

# Used with fullmatch only: `$` would let a trailing newline through.
_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
_PLAIN = re.compile(r"[\x20-\x7e]*")
_ATOM_PHRASE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*")
_SPACES = re.compile(r" {2,}")
_WORD_BYTES = 45  # 45 bytes -> 60 base64 chars; with the 12-char wrapper under 75


def one_line(value: str) -> str:
    """Collapse every kind of line break and control character to single spaces."""
    if value.isprintable():  # no control, line or paragraph separator characters
        return _SPACES.sub(" ", value).strip(" ")
    cleaned = "".join(" " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch
                      for ch in value)
    return _SPACES.sub(" ", cleaned).strip(" ")


def encoded_words(value: str) -> str:
    """RFC 2047 base64 encoded words, split on character boundaries (after a space
    where possible, as some decoders add one between words), folded."""
    words: list[str] = []
    chunk = ""
    for ch in value:
        if len((chunk + ch).encode("utf-8")) > _WORD_BYTES:
            cut = chunk.rfind(" ") + 1
            if cut <= 0 or cut == len(chunk):
                cut = len(chunk)
            words.append(chunk[:cut])
            chunk = chunk[cut:]
        chunk += ch
    if chunk or not words:
        words.append(chunk)
    return "\r\n ".join(
        "=?utf-8?b?" + base64.b64encode(w.encode("utf-8")).decode("ascii") + "?=" for w in words)


def needs_encoding(value: str) -> bool:
    return not _PLAIN.fullmatch(value) or "=?" in value or len(value) > 900


@functools.lru_cache(maxsize=256)
def header_text(value: str) -> str:
    """An unstructured header value (Subject): plain if safe, else encoded words.
    Cached: most mails of a mailing share their subject."""
    flat = one_line(value)
    return encoded_words(flat) if needs_encoding(flat) else flat


def check_address(address: str) -> str:
    """Return `address` if it is a plain ASCII mailbox, else raise ValueError."""
    if not _ADDRESS.fullmatch(address) or ".." in address:
        raise ValueError(f"{address!r} cannot be used as a mail address in a header")
    return address


def mailbox(name: str, address: str) -> str:
    """A To/From value: the display name quoted or encoded, never inside the <address>."""
    check_address(address)
    flat = one_line(name)
    if not flat:
        return address
    if needs_encoding(flat):
        phrase = encoded_words(flat)
    elif _ATOM_PHRASE.fullmatch(flat):
        phrase = flat
    else:
        phrase = '"' + flat.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{phrase} <{address}>"
