"""Read the messages out of an imaplib FETCH answer, whatever order the server chose.

A module of its own so that mailer.bounces.imap, which talks to the server, stays short.
"""

from __future__ import annotations

import re

_UID = re.compile(rb"\bUID (\d+)")


def fetched_bodies(data: list[object]) -> list[tuple[int, bytes]]:
    """(UID, bytes) of each message in an imaplib FETCH answer. A literal comes as
    (head, bytes); RFC 3501 does not fix the order of the items, so the UID is looked for
    in the head and else in the bytes item after the literal (`UID 5)`)."""
    found: list[tuple[int, bytes]] = []
    for index, item in enumerate(data):
        if not (isinstance(item, tuple) and isinstance(item[0], bytes)):
            continue
        after = data[index + 1] if index + 1 < len(data) else b""
        match = _UID.search(item[0]) or (_UID.search(after) if isinstance(after, bytes)
                                         else None)
        if match:
            found.append((int(match.group(1)), bytes(item[1])))
    return found
