"""Check a host name we announce to a relay (EHLO): fully qualified, never localhost."""

from __future__ import annotations

import re

_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
# Names that only mean something on this machine or network: a relay that checks the
# EHLO name, and every spam filter that reads it from the Received line, distrusts them.
_LOCAL = ("localhost", "localdomain", "local", "internal", "lan", "home", "invalid", "corp",
          "intranet")
_LOCAL_ZONES = (".home.arpa",)  # RFC 8375: home networks


def helo_problem(name: str) -> str | None:
    """Why `name` cannot be our EHLO name (RFC 5321 4.1.1.1 wants the client's fully
    qualified domain name), or None if it can."""
    labels = name.split(".")
    if not name or len(name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        return "not a host name"
    if len(labels) < 2:
        return "not a fully qualified host name (it has no dot)"
    if labels[-1].isdigit():
        return "an IP address, not a host name"
    if labels[-1].lower() in _LOCAL or labels[0].lower() == "localhost" \
            or f".{name.lower()}".endswith(_LOCAL_ZONES):
        return "a name that only means something on this machine or network"
    return None
