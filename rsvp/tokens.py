"""Sign and read the personal links; one salt per purpose, ids only in the payload.

A test link (`invite send --test-to`) names a person like a real one but is signed with
a salt of its own, carries the marker "test" in its payload and starts with `test.`,
which no real token can (a real one starts with the base64 of "[" or with "."): a real
token can never read as a test one, and neither can be made from the other without the
key. The web app shows the real pages for it and records nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from itsdangerous import (
    BadData,
    SignatureExpired,
    Signer,
    TimestampSigner,
    URLSafeTimedSerializer,
)

from rsvp.errors import ExpiredLinkError, LinkError

ANSWER = "invite.answer"
UNSUBSCRIBE = "invite.unsubscribe"
PURPOSES = (ANSWER, UNSUBSCRIBE)
TEST_PREFIX = "test."
TEST_MARK = "test"
# Links stay usable for a year: past the deadline they still show the answer read-only.
MAX_AGE_SECONDS = 366 * 24 * 3600


@dataclass(frozen=True)
class LinkClaim:
    """What a valid link says: whose it is, for which event, which version."""

    recipient_id: int
    event_id: str
    version: int
    test: bool = False  # a test link: show everything, record nothing


class _Serializer(URLSafeTimedSerializer):
    """A serializer whose clock can be injected, so tests can move time."""

    def __init__(self, keys: list[str], salt: str, clock: Callable[[], int] | None) -> None:
        # hashlib's own sha1 (itsdangerous' default wraps it in a Python function) lets
        # hmac use OpenSSL's HMAC instead of its pure-Python one: same signatures, faster.
        super().__init__(keys, salt=salt, signer_kwargs={"digest_method": hashlib.sha1})
        self._clock = clock

    def make_signer(self, salt: str | bytes | None = None) -> Signer:
        signer = super().make_signer(salt)
        if self._clock is not None and isinstance(signer, TimestampSigner):
            signer.get_timestamp = self._clock  # type: ignore[method-assign]
        return signer


def _timed(signer: Signer) -> TimestampSigner:
    if not isinstance(signer, TimestampSigner):
        raise TypeError("links need a timestamp signer")
    return signer


class LinkSigner:
    """Signs with the last key and verifies with all, so keys can be rotated."""

    def __init__(self, keys: tuple[str, ...], clock: Callable[[], int] | None = None,
                 max_age: int = MAX_AGE_SECONDS) -> None:
        if not keys:
            raise ValueError("at least one secret key is needed")
        self._serializers = {p: _Serializer(list(keys), p, clock)
                             for p in (*PURPOSES, *map(_test_salt, PURPOSES))}
        # One signer per purpose, made once: it verifies with every key (rotation), and
        # making it anew for each link, as `loads` does, costs a third of a check.
        self._unsigners = {p: _timed(s.make_signer(p)) for p, s in self._serializers.items()}
        self._max_age = max_age

    def sign(self, purpose: str, recipient_id: int, event_id: str, version: int) -> str:
        """Return a URL-safe token for `purpose` carrying only ids."""
        token = self._serializers[purpose].dumps([recipient_id, event_id, version])
        return str(token)

    def sign_test(self, purpose: str, recipient_id: int, event_id: str, version: int) -> str:
        """Return a test token for `purpose`: the same person, nothing is ever recorded."""
        payload = [recipient_id, event_id, version, TEST_MARK]
        return TEST_PREFIX + str(self._serializers[_test_salt(purpose)].dumps(payload))

    def read(self, purpose: str, token: str) -> LinkClaim:
        """Return the claim in `token` (a real or a test link), or raise LinkError /
        ExpiredLinkError."""
        if token.startswith(TEST_PREFIX):
            return _claim(self._payload(_test_salt(purpose), token[len(TEST_PREFIX):]), True)
        return _claim(self._payload(purpose, token), False)

    def _payload(self, salt: str, token: str) -> list[object]:
        """The verified payload of `token` signed with `salt`, a list, or raise LinkError."""
        unsigner = self._unsigners[salt]
        try:
            signed = unsigner.unsign(token, max_age=self._max_age)
            payload = self._serializers[salt].load_payload(signed)
        except SignatureExpired:
            raise ExpiredLinkError("this link has expired") from None
        except BadData:  # a bad signature, or (only with a key) a payload that is not ours
            raise LinkError("this link is not valid") from None
        if not isinstance(payload, list):
            raise LinkError("this link is not valid")
        return payload


def _test_salt(purpose: str) -> str:
    return f"{purpose}.test"


def _claim(payload: list[object], test: bool) -> LinkClaim:
    """The claim of a verified payload: [recipient id, event id, version], plus the
    marker for a test link; LinkError for any other shape."""
    if len(payload) != (4 if test else 3) or (test and payload[3] != TEST_MARK):
        raise LinkError("this link is not valid")
    recipient_id, event_id, version = payload[:3]
    if (not isinstance(recipient_id, int) or not isinstance(event_id, str)
            or not isinstance(version, int)):
        raise LinkError("this link is not valid")
    return LinkClaim(recipient_id, event_id, version, test)
