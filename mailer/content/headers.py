"""Encode header values so that no text can ever add or break a header line, and fold them.

We never hand personal text to the email package's folder: this Python
(3.11.7) predates the fix for CVE-2024-6923, where an encoded word such as
`=?UTF-8?Q?=0A?=` decoded into a raw newline on output. Every value is
flattened to one line; anything that is not plain ASCII, or that merely looks
like an encoded word, is emitted as base64 encoded words built here.

Folding (RFC 5322 2.1.1 and 2.2.3): a value is cut into pieces that must stay whole
(words, encoded words, `<address>`, parameters), and a line break (CRLF and one space)
goes before a piece that would take the line past 78 characters. Unfolding removes
just the CRLF, so the value a reader sees is the one we meant: a space between plain
words stays one space, and the whitespace between encoded words is not part of the
text (RFC 2047 6.2). The first piece always stays on the field name's line: a value
that began with folding whitespace would read with a leading space. A line is longer
than 78 only where one piece is: a long URL in List-Unsubscribe, say.
"""

from __future__ import annotations

import base64
import functools
import re
import unicodedata
from collections.abc import Iterable

# Used with fullmatch only: `$` would let a trailing newline through.
_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
_PLAIN = re.compile(r"[\x20-\x7e]*")
_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")
_ATOM_PHRASE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*")
_SPACES = re.compile(r" {2,}")
LINE = 78  # RFC 5322 2.1.1: a line SHOULD have no more than 78 characters
_WRAPPER = len("=?utf-8?b??=")
_MOST_WORD_BYTES = 45  # 45 bytes -> 60 base64 chars: 72 in all, under RFC 2047's 75


def one_line(value: str) -> str:
    """Collapse every kind of line break and control character to single spaces."""
    if value.isprintable():  # no control, line or paragraph separator characters
        return _SPACES.sub(" ", value).strip(" ")
    cleaned = "".join(" " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch
                      for ch in value)
    return _SPACES.sub(" ", cleaned).strip(" ")


def folded(name: str, pieces: Iterable[str]) -> str:
    """The header field `name: piece piece ...`, folded before any piece (but the
    first) that would take its line past LINE characters; no CRLF at the end."""
    parts = [name, ":"]
    column = len(name) + 1
    first = True
    for piece in pieces:
        if not first and column + 1 + len(piece) > LINE:
            parts.append("\r\n ")
            column = 1
        else:
            parts.append(" ")
            column += 1
        parts.append(piece)
        column += len(piece)
        first = False
    return "".join(parts)


def word_bytes(name: str) -> int:
    """How many UTF-8 bytes one encoded word may carry so that `name: ` and the word
    fit in LINE characters (base64 turns each 3 bytes into 4 characters)."""
    room = LINE - len(name) - 2 - _WRAPPER
    return max(3, min(_MOST_WORD_BYTES, room // 4 * 3))


def encoded_words(value: str, most_bytes: int = _MOST_WORD_BYTES) -> list[str]:
    """RFC 2047 base64 encoded words of at most `most_bytes` UTF-8 bytes each, split on
    character boundaries (after a space where possible, as some decoders add one
    between words)."""
    words: list[str] = []
    chunk = ""
    for ch in value:
        if len((chunk + ch).encode("utf-8")) > most_bytes:
            cut = chunk.rfind(" ") + 1
            if cut <= 0 or cut == len(chunk):
                cut = len(chunk)
            words.append(chunk[:cut])
            chunk = chunk[cut:]
        chunk += ch
    if chunk or not words:
        words.append(chunk)
    return ["=?utf-8?b?" + base64.b64encode(w.encode("utf-8")).decode("ascii") + "?="
            for w in words]


def needs_encoding(value: str) -> bool:
    return not _PLAIN.fullmatch(value) or "=?" in value or len(value) > 900


@functools.lru_cache(maxsize=256)
def text_pieces(value: str, name: str = "Subject") -> tuple[str, ...]:
    """An unstructured value (Subject) in pieces to fold: its words if it is plain,
    else encoded words sized for the header `name`. Cached: most mails of a mailing
    share their subject."""
    flat = one_line(value)
    if needs_encoding(flat):
        return tuple(encoded_words(flat, word_bytes(name)))
    return tuple(flat.split(" ")) if flat else ("",)


@functools.lru_cache(maxsize=256)
def text_header(name: str, value: str) -> str:
    """The folded unstructured header `name: value` (Subject), cached like its pieces."""
    return folded(name, text_pieces(value, name))


def header_text(value: str) -> str:
    """An unstructured header value (Subject) on one line: plain if safe, else encoded words."""
    return " ".join(text_pieces(value))


def check_address(address: str) -> str:
    """Return `address` if it is a plain ASCII mailbox, else raise ValueError."""
    if not _ADDRESS.fullmatch(address) or ".." in address:
        raise ValueError(f"{address!r} cannot be used as a mail address in a header")
    return address


def phrase_pieces(value: str, name: str) -> list[str]:
    """A display name (or a List-Id phrase) in pieces to fold: atoms as they are, other
    ASCII quoted (folded only between words, which RFC 5322 allows inside quotes), and
    with other text, its plain words as atoms and each run of the others as encoded
    words sized for the header `name`.

    Why not encode the whole name: RFC 2047 6.2 says the space between two encoded words
    is not text, but Python's address parser (3.11) keeps it, so a name split over
    encoded words would read "von  Hohenzollern" there. Between a word and an encoded
    word both agree that the space is text.
    """
    flat = one_line(value)
    if not flat:
        return []
    if not needs_encoding(flat):
        if _ATOM_PHRASE.fullmatch(flat):
            return flat.split(" ")
        return ('"' + flat.replace("\\", "\\\\").replace('"', '\\"') + '"').split(" ")
    most = word_bytes(name)
    pieces: list[str] = []
    run: list[str] = []
    for word in flat.split(" "):
        if _ATOM.fullmatch(word) and "=?" not in word and len(word) < LINE - len(name) - 2:
            if run:
                pieces += encoded_words(" ".join(run), most)
                run = []
            pieces.append(word)
        else:
            run.append(word)
    if run:
        pieces += encoded_words(" ".join(run), most)
    return pieces


def mailbox_pieces(display: str, address: str, name: str) -> list[str]:
    """A To/From value in pieces: the display name quoted or encoded, then <address>."""
    check_address(address)
    phrase = phrase_pieces(display, name)
    return [*phrase, f"<{address}>"] if phrase else [address]


def mailbox(display: str, address: str) -> str:
    """A To/From value on one line, the display name never inside the <address>."""
    return " ".join(mailbox_pieces(display, address, "To"))


def mailbox_header(name: str, display: str, address: str) -> str:
    """The folded header `name: display <address>` (From, To, Reply-To)."""
    return folded(name, mailbox_pieces(display, address, name))
