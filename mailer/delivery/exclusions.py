"""The addresses of an exclusion file (`--exclude-file`): found in any layout, normalised
as the import normalises them, matched to people, and kept as keyed hashes.

An address in the file is compared in its Unicode and its ASCII (`xn--`) form, in any
case, so `anna@münchen.example` in the workspace is left out whether the file writes
it so or as `anna@xn--mnchen-3ya.example`. A scheduled send is evaluated when it goes
out, maybe after another import: it keeps an HMAC of each listed address under the
workspace's secret key (as rsvp.forgotten does), never the address, and leaves out
whoever matches one then.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from mailer.delivery.selection import Selection
from rsvp.forgotten import address_hash
from rsvp.store import Store

# Anything that looks like an address: a plain list, a CSV, or lines such as
# "Anna <anna@example.org>".
_ADDRESS = re.compile(r"[^\s,;:<>()\[\]\"']+@[^\s,;:<>()\[\]\"']+")
# What ends a sentence after an address ("write to anna@example.org.") is not part of it.
_TRAILING = ".!?"


@dataclass(frozen=True)
class Exclusions:
    """The people a file's addresses name now, the hashes to name them at a later time,
    and how many addresses named nobody."""

    ids: tuple[int, ...] = ()
    hashes: tuple[str, ...] = ()
    unmatched: int = 0


def addresses_in(text: str) -> list[str]:
    """The addresses in the text of an exclusion file, whatever its layout."""
    return [found.rstrip(_TRAILING) for found in _ADDRESS.findall(text)]


def address_forms(address: str) -> tuple[str, ...]:
    """The keys an address may be stored under: its normalised Unicode and ASCII forms,
    case-folded (just the address, case-folded, if it is not a valid one)."""
    from email_validator import EmailNotValidError, validate_email  # only with --exclude*
    try:
        valid = validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return (address.strip().casefold(),)
    return tuple(dict.fromkeys(form.casefold()
                               for form in (valid.normalized, valid.ascii_email or "") if form))


def match_exclusions(store: Store, addresses: Sequence[str],
                     keys: Sequence[str]) -> Exclusions:
    """Match `addresses` to the people of the workspace; hash each form under the key
    that signs (the last of `keys`; no hashes without a key)."""
    ids: list[int] = []
    hashes: list[str] = []
    unmatched = 0
    for address in dict.fromkeys(addresses):
        forms = address_forms(address)
        hashes += [address_hash(keys[-1], form) for form in forms if keys]
        marks = ", ".join("?" * len(forms))
        found = [row["id"] for row in store.conn.execute(
            f"SELECT id FROM recipients WHERE email_key IN ({marks}) "
            f"OR lower(email_ascii) IN ({marks})", (*forms, *forms))]
        ids += found
        unmatched += not found
    return Exclusions(tuple(dict.fromkeys(ids)), tuple(dict.fromkeys(hashes)), unmatched)


def with_hashed_exclusions(store: Store, selection: Selection,
                           keys: Sequence[str]) -> Selection:
    """`selection` leaving out, by id, everyone whose address matches one of its hashes
    now (under any of `keys`): people imported after it was made too."""
    if not selection.exclude_hashes:
        return selection
    wanted = set(selection.exclude_hashes)
    found = [row["id"] for row in store.conn.execute(
                 "SELECT id, email_key, email_ascii FROM recipients ORDER BY id")
             if any(address_hash(key, form) in wanted for key in keys
                    for form in {row["email_key"], str(row["email_ascii"]).casefold()})]
    return replace(selection, exclude=tuple(dict.fromkeys((*selection.exclude, *found))))
