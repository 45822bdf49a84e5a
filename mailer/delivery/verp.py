"""The envelope sender that names its outbox row (VERP), and reading it back from a bounce.

With INVITE_BOUNCE_ADDRESS=bounces@example.org each mail goes out with the envelope
sender `bounces+<id>@example.org`; a bounce comes back to that address, so it names
the mail even when the report itself is vague. The id is the outbox row's number and an
HMAC of it under the workspace's secret key (the newest key signs, every key verifies:
keys rotate as for links, rsvp.tokens), truncated to 80 bits: nobody who has not seen
the address can make one up, so a forged bounce cannot mark a person as bounced.

Both parts are written in lowercase base32 without padding: some MTAs lowercase local
parts, and base32 survives that (base64 would not). The whole id is 18 to 29 characters,
so the local part stays within RFC 5321's 64 for any sensible mailbox name.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterator, Sequence

from rsvp.settings import Settings

SALT = b"invite.verp\x00"
MAC_BYTES = 10  # 80 bits: guessing one takes 2**79 tries on average
# The longest id: an 8-byte row number plus the MAC, in base32 (5 bits a character);
# rsvp.settings keeps INVITE_BOUNCE_ADDRESS short enough to carry it.
LONGEST_ID = -(-(8 + MAC_BYTES) * 8 // 5)
DELIMITER = "+"
# A VERP address anywhere in a header: `<mailbox>+<id>@domain`, in any case.
_FOUND = re.compile(r"(?<=[\w.-])\+([a-z2-7]{18," + str(LONGEST_ID) + r"})@(?=[\w-])",
                    re.IGNORECASE)


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()


def _unb32(text: str) -> bytes:
    return base64.b32decode(text.upper() + "=" * (-len(text) % 8))


def _mac(key: str, payload: bytes) -> bytes:
    return hmac.new(key.encode("utf-8"), SALT + payload, hashlib.sha256).digest()[:MAC_BYTES]


def encode(bounce_address: str, row_id: int, keys: Sequence[str]) -> str:
    """The envelope sender for outbox row `row_id`: `local+<id>@domain`."""
    if not keys:
        raise ValueError("a VERP id needs the workspace's secret key")
    payload = row_id.to_bytes(max(1, (row_id.bit_length() + 7) // 8), "big")
    local, _, domain = bounce_address.rpartition("@")
    return f"{local}{DELIMITER}{_b32(payload + _mac(keys[-1], payload))}@{domain}"


def envelope_sender(settings: Settings, from_address: str, row_id: int) -> str:
    """MAIL FROM for outbox row `row_id`: the From address, or with INVITE_BOUNCE_ADDRESS
    the VERP address naming the row."""
    if not settings.bounce_address:
        return from_address
    return encode(settings.bounce_address, row_id, settings.secret_keys)


def decode(address: str, keys: Sequence[str]) -> int | None:
    """The outbox row a VERP address names; None for a forged, foreign or garbled one."""
    local = address.strip().strip("<>").rpartition("@")[0]
    token = local.rpartition(DELIMITER)[2] if DELIMITER in local else ""
    return _read_id(token, keys)


def _read_id(token: str, keys: Sequence[str]) -> int | None:
    try:
        raw = _unb32(token)
    except ValueError:  # binascii.Error: not base32
        return None
    payload, mac = raw[:-MAC_BYTES], raw[-MAC_BYTES:]
    if not payload or len(payload) > 8 or _b32(raw) != token.lower():
        return None
    if not any(hmac.compare_digest(mac, _mac(key, payload)) for key in keys):
        return None
    return int.from_bytes(payload, "big")


def ids_in(text: str, keys: Sequence[str]) -> Iterator[int]:
    """The outbox rows named by valid VERP addresses in `text`, in order (lazily: a bounce
    quotes the address several times, and the first one usually settles it)."""
    for match in _FOUND.finditer(text):
        row_id = _read_id(match.group(1), keys)
        if row_id is not None:
            yield row_id


def find_ids(text: str, keys: Sequence[str]) -> list[int]:
    """Every outbox row named by a valid VERP address in `text`, first seen first."""
    return list(dict.fromkeys(ids_in(text, keys)))
