"""Our DKIM signer (#9) against dkimpy, an independent implementation: its canonical forms
equal dkimpy's, and dkimpy verifies what we sign, for RSA and Ed25519, on the edge cases
of relaxed canonicalisation; a changed body or header does not verify."""

from __future__ import annotations

import random
import re

import dkim
import pytest
from dkim.canonicalization import Relaxed

from mailer.delivery.dkim import DkimKey, new_key, record_strings
from mailer.delivery.dkim_sign import (
    LINE_LIMIT,
    Signer,
    canonical_body,
    canonical_header,
    header_fields,
    split_message,
)
from tests.test_dkim import SELECTOR, verifies

KINDS = ("rsa", "ed25519")
SIGNED_AT = 1_700_000_000  # 2023-11-14: dkimpy refuses a t= in the future
HEAD = (b"From: =?utf-8?q?Programmb=C3=BCro?= <office@example.org>\r\n"
        b"To: anna@example.org\r\n"
        b"Subject: Einladung\r\n"
        b"Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
        b"Message-ID: <1.2@example.org>\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n")
BODIES = {
    "plain": b"Hallo Anna,\r\n\r\nbis bald.\r\n",
    "trailing whitespace": b"line one   \r\nline two\t\r\nthree \t \r\n",
    "whitespace runs and tabs": b"a \t b\t\tc  d\r\n\tindented\r\n  two spaces\r\n",
    "empty lines at the end": b"text\r\n\r\n\r\n\r\n",
    "whitespace-only lines at the end": b"text\r\n   \r\n\t\r\n\r\n",
    "empty body": b"",
    "only empty lines": b"\r\n\r\n\r\n",
    "no CRLF at the end": b"the last line has no line end",
    "long lines": b"x" * 998 + b"\r\n" + b"word " * 190 + b"\r\n",
    "non-ASCII 8bit": "Grüße aus Limoges, Hélène — 東京  ✓\t\r\n".encode(),
    "dot at line start": b"a\r\n.\r\n..b\r\n",
}
_KEYS: dict[str, DkimKey] = {}


def key_of(kind: str) -> DkimKey:
    """One key per type for the module: RSA keys take a while to make."""
    if kind not in _KEYS:
        _KEYS[kind] = new_key(kind)[1]
    return _KEYS[kind]


def record(key: DkimKey) -> str:
    return "".join(record_strings(key))


def sign(kind: str, message: bytes) -> bytes:
    return Signer(key_of(kind), SELECTOR, "example.org", clock=lambda: SIGNED_AT).sign(message)


def signature_field(signed: bytes) -> bytes:
    found = re.match(rb"DKIM-Signature:.*?\r\n(?=\S)", signed, re.DOTALL)
    assert found is not None
    return found.group(0)


def test_canonical_body_equals_dkimpys_on_random_bodies() -> None:
    pieces = [b"a", b"b", b" ", b"  ", b"\t", b"\r\n", b"\r\n\r\n", "é".encode(), b"."]
    rng = random.Random(9)
    for _ in range(3000):
        body = b"".join(rng.choice(pieces) for _ in range(rng.randrange(0, 40)))
        body = body if rng.random() < 0.2 else body + b"\r\n"
        assert canonical_body(body) == Relaxed.canonicalize_body(body), body


@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
def test_canonical_body_equals_dkimpys_on_the_edge_cases(body: bytes) -> None:
    assert canonical_body(body) == Relaxed.canonicalize_body(body)


def test_canonical_headers_equal_dkimpys_for_folds_odd_case_and_whitespace() -> None:
    head = (b"FROM: Office\t <office@example.org>  \r\n"
            b"sUbJeCt:  a long\r\n subject,\r\n\tfolded   twice \t\r\n"
            b"to:anna@example.org\r\n"
            b"X-Empty:\r\n"
            b"Date: \t Tue, 14 Nov 2023\r\n")
    ours = [canonical_header(name, value) for name, value in header_fields(head)]
    parsed = dkim.rfc822_parse(head + b"\r\n")[0]
    assert ours == [name + b":" + value for name, value in Relaxed.canonicalize_headers(parsed)]
    assert ours[1] == b"subject:a long subject, folded twice\r\n"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
def test_dkimpy_verifies_what_we_sign(kind: str, body: bytes) -> None:
    signed = sign(kind, HEAD + b"\r\n" + body)
    assert verifies(signed, record(key_of(kind)))
    field = signature_field(signed)
    assert f"a={kind}-sha256;".encode() in field and b" t=1700000000;" in field
    assert all(len(line) <= LINE_LIMIT for line in field.split(b"\r\n"))
    # the message itself is unchanged below the signature (a CRLF added where it lacked one)
    assert signed[len(field):] in (HEAD + b"\r\n" + body, HEAD + b"\r\n" + body + b"\r\n")


@pytest.mark.parametrize("kind", KINDS)
def test_folded_headers_in_odd_case_sign_and_verify(kind: str) -> None:
    head = (b"from: Office <office@example.org>\r\n"
            b"TO: anna@example.org,\r\n\tbob@example.org\r\n"
            b"SUBJECT:   Einladung  zum\r\n    Treffen \t\r\n"
            b"Content-type: text/plain;\r\n charset=utf-8\r\n"
            b"LIST-UNSUBSCRIBE: <https://rsvp.example.org/u/x>\r\n"
            b"list-unsubscribe-post: List-Unsubscribe=One-Click\r\n")
    signed = sign(kind, head + b"\r\n" + BODIES["plain"])
    assert verifies(signed, record(key_of(kind)))
    tags = re.sub(rb"\s", b"", signature_field(signed)).decode()
    names = re.search(r"h=([^;]*);", tags)
    assert names is not None
    assert names.group(1) == ("from:from:to:subject:subject:content-type:list-unsubscribe:"
                              "list-unsubscribe-post")


@pytest.mark.parametrize("kind", KINDS)
def test_a_changed_body_or_header_does_not_verify(kind: str) -> None:
    key = record(key_of(kind))
    signed = sign(kind, HEAD + b"\r\n" + BODIES["non-ASCII 8bit"])
    assert verifies(signed, key)
    head, body = split_message(signed)
    assert not verifies(head + b"\r\n" + body.replace(b"Limoges", b"Lyon"), key)
    assert not verifies(head + b"\r\n" + body + b"one more line\r\n", key)
    assert not verifies(signed.replace(b"Subject: Einladung", b"Subject: Rechnung"), key)
    assert not verifies(signed.replace(b"To: anna@", b"To: bob@"), key)
    # over-signing: a second From or Subject, wherever it is put, breaks the signature
    for added in (b"From: mallory@example.net\r\n", b"Subject: Urgent\r\n"):
        assert not verifies(signed.replace(b"Date: ", added + b"Date: ", 1), key)
    # relaxed: whitespace a relay may change, and fields not signed, do not matter
    assert verifies(signed.replace("Grüße".encode(), "Grüße  \t".encode()), key)
    assert verifies(signed.replace(b"Date: ", b"Received: by relay\r\nDate: ", 1), key)
    assert verifies(signed + b"\r\n\r\n", key)


def test_a_signature_from_another_key_does_not_verify() -> None:
    signed = sign("ed25519", HEAD + b"\r\n" + BODIES["plain"])
    assert not verifies(signed, record(new_key("ed25519")[1]))


def test_a_message_without_from_is_refused() -> None:
    with pytest.raises(ValueError, match="without a From header"):
        sign("ed25519", b"To: anna@example.org\r\nSubject: x\r\n\r\nbody\r\n")
