"""DKIM keys, their DNS records, and the signer the settings ask for.

The signature covers the exact bytes the relay gets: the sender signs after the message
is built for that relay (8bit or quoted-printable), so nothing may change them later.
Keys are read with `cryptography` (any PEM form: PKCS#1, PKCS#8, RSA or Ed25519); the
signing itself is in mailer.delivery.dkim_sign (why not dkimpy: see there). cryptography
is imported only when a key is used: a send without DKIM does not load it.
"""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mailer.delivery.dkim_sign import Signer
from rsvp.errors import ConfigError
from rsvp.settings import Settings

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

KEY_TYPES = ("rsa", "ed25519")
RSA_BITS = 2048
SETTINGS_HINT = ("Set INVITE_DKIM_KEY_FILE to a PEM private key (RSA 2048 or Ed25519) and "
                 "INVITE_DKIM_SELECTOR; `invite dkim new --selector S` makes both.")
_SELECTOR = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                       r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$")


@dataclass(frozen=True)
class DkimKey:
    """A private key, with what the DNS record publishes."""

    kind: str  # "rsa" or "ed25519"
    private: bytes = b""  # PKCS#8 DER, for the Signer
    public: str = ""  # the p= value: base64 SubjectPublicKeyInfo (RSA) or raw key (Ed25519)
    bits: int = 0

    @property
    def algorithm(self) -> bytes:
        return b"rsa-sha256" if self.kind == "rsa" else b"ed25519-sha256"

    def describe(self) -> str:
        return f"RSA {self.bits} bits" if self.kind == "rsa" else "Ed25519"


def parse_key(pem: bytes, source: str) -> DkimKey:
    """Read a PEM private key; ConfigError naming `source` if it is not RSA or Ed25519."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as error:
        raise ConfigError(f"{source} is not a PEM private key without a password ({error})",
                          hint=SETTINGS_HINT) from None
    if not isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        raise ConfigError(f"{source} holds a {type(key).__name__}; DKIM signs with RSA or "
                          "Ed25519 keys", hint=SETTINGS_HINT)
    private = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < 1024:
            raise ConfigError(f"{source} is an RSA key of {key.key_size} bits; receivers "
                              "ignore signatures under 1024 bits", hint=SETTINGS_HINT)
        public = key.public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
        return DkimKey("rsa", private, base64.b64encode(public).decode("ascii"), key.key_size)
    public = key.public_key().public_bytes(serialization.Encoding.Raw,
                                           serialization.PublicFormat.Raw)
    return DkimKey("ed25519", private, base64.b64encode(public).decode())


def read_key(path: Path) -> DkimKey:
    """Read the key file of INVITE_DKIM_KEY_FILE."""
    try:
        pem = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"INVITE_DKIM_KEY_FILE is {str(path)!r}, which cannot be read "
                          f"({error.strerror})", hint=SETTINGS_HINT) from None
    return parse_key(pem, f"INVITE_DKIM_KEY_FILE {str(path)!r}")


def new_key(kind: str) -> tuple[bytes, DkimKey]:
    """Make a key pair: (the private key as PKCS#8 PEM, the key as the Signer reads it)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
    if kind not in KEY_TYPES:
        raise ConfigError(f"key type {kind!r}; use rsa or ed25519")
    key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey = (
        rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS) if kind == "rsa"
        else ed25519.Ed25519PrivateKey.generate())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return pem, parse_key(pem, "the new key")


def write_private(path: Path, pem: bytes) -> None:
    """Write a private key readable by its owner only; never overwrite a file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)


def record_name(selector: str, domain: str) -> str:
    return f"{selector}._domainkey.{domain}"


def record_value(key: DkimKey) -> str:
    return f"v=DKIM1; k={key.kind}; p={key.public}"


def record_strings(key: DkimKey) -> list[str]:
    """The TXT value as DNS carries it: strings of at most 255 characters."""
    value = record_value(key)
    return [value[i:i + 255] for i in range(0, len(value), 255)]


def aligned(domain: str, from_domain: str) -> bool:
    """DMARC's relaxed alignment: d= is the From domain or one of its parents (a check of
    the public suffix list is left to the receiver)."""
    domain, from_domain = domain.lower().rstrip("."), from_domain.lower().rstrip(".")
    return from_domain == domain or ("." in domain and from_domain.endswith("." + domain))


def verifies_with_dkimpy(signer: Signer) -> bool:
    """Sign a sample message and verify it with dkimpy, an independent implementation,
    against the record this key asks to publish (no DNS lookup): `invite dkim check`
    shows that what `invite send` signs will verify once the record is in DNS."""
    import dkim
    sample = (b"From: <dkim-check@" + signer.domain + b">\r\nTo: <dkim-check@" + signer.domain
              + b">\r\nSubject: invite dkim check\r\nMessage-ID: <check@" + signer.domain
              + b">\r\n\r\nA sample  message\t \r\n\r\n")
    name = record_name(signer.selector.decode(), signer.domain.decode()) + "."
    value = record_value(signer.key).encode("ascii")

    def lookup(query: bytes, timeout: int = 5) -> bytes:
        return value if query.decode("ascii") == name else b""
    return bool(dkim.verify(signer.sign(sample), dnsfunc=lookup))


def load_signer(settings: Settings, from_address: str) -> Signer | None:
    """The signer the settings ask for, or None without INVITE_DKIM_KEY_FILE; ConfigError
    for a key that cannot be used or a selector or domain that is missing or malformed."""
    if settings.dkim_key_file is None:
        if settings.dkim_selector:
            raise ConfigError("INVITE_DKIM_SELECTOR is set but INVITE_DKIM_KEY_FILE is not",
                              hint=SETTINGS_HINT)
        return None
    key = read_key(settings.dkim_key_file)
    selector = settings.dkim_selector
    if not selector:
        raise ConfigError("INVITE_DKIM_KEY_FILE is set but INVITE_DKIM_SELECTOR is not",
                          hint="Set INVITE_DKIM_SELECTOR to the selector whose DNS record "
                               "holds this key's public half (`invite dkim check`).")
    domain = signing_domain(settings, from_address)
    check_names(selector, domain)
    return Signer(key, selector, domain)


def check_names(selector: str, domain: str) -> None:
    """ConfigError unless `selector` is a DNS name and `domain` a domain name."""
    if not _SELECTOR.match(selector):
        raise ConfigError(f"the DKIM selector {selector!r} is not a DNS name",
                          hint="Use letters, digits and hyphens, e.g. invite2027.")
    if not _SELECTOR.match(domain) or "." not in domain:
        raise ConfigError(f"the DKIM domain {domain!r} is not a domain name",
                          hint="Set INVITE_DKIM_DOMAIN to the domain of the From address.")


def signing_domain(settings: Settings, from_address: str) -> str:
    """INVITE_DKIM_DOMAIN, or the From address's domain."""
    return settings.dkim_domain or from_address.rsplit("@", 1)[-1].lower()
