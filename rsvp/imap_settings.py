"""Read the bounce mailbox's INVITE_BOUNCE_IMAP_* settings (#9) into one frozen value.

Kept apart from `rsvp.settings` so that the IMAP settings, their checks and their
hints stay in one place. Only encrypted lines are offered: the mailbox's password
never goes out in clear text, so there is no "none" mode as there is for the relay.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rsvp.errors import ConfigError
from rsvp.setting_values import ca_file, port_problem

# "tls": TLS from the first byte (port 993); "starttls": plain IMAP upgraded before login.
IMAP_TLS_MODES = ("tls", "starttls")
IMAP_PORTS = {"tls": 993, "starttls": 143}


@dataclass(frozen=True)
class BounceMailbox:
    """Where `invite bounces --imap` and `invite serve --bounces-every` read bounces."""

    host: str
    user: str
    password: str = field(default="", repr=False)
    port: int = 993
    folder: str = "INBOX"
    tls: str = "tls"
    ca_file: Path | None = None
    # Empty: a handled message is flagged where it is ($InviteHandled, or \\Seen on a server
    # without keywords). A folder name: it is moved there.
    move_to: str = ""

    @property
    def address(self) -> str:
        """host:port, as messages name the server."""
        return f"{self.host}:{self.port}"


def load_bounce_mailbox(env: Mapping[str, str]) -> BounceMailbox | None:
    """The bounce mailbox from `env`, or None while INVITE_BOUNCE_IMAP_HOST is unset."""
    host = env.get("INVITE_BOUNCE_IMAP_HOST", "").strip()
    if not host:
        return None
    tls = env.get("INVITE_BOUNCE_IMAP_TLS", "").strip().lower() or "tls"
    if tls not in IMAP_TLS_MODES:
        raise ConfigError(f"INVITE_BOUNCE_IMAP_TLS is {tls!r}; use tls (port 993) or "
                          "starttls (port 143)",
                          hint="The mailbox's password never goes over a line in clear text.")
    port_text = env.get("INVITE_BOUNCE_IMAP_PORT", "").strip()
    try:
        port = int(port_text) if port_text else IMAP_PORTS[tls]
    except ValueError:
        raise ConfigError(f"INVITE_BOUNCE_IMAP_PORT is {port_text!r}, not a port number") \
            from None
    if (problem := port_problem(port)) is not None:
        raise ConfigError(f"INVITE_BOUNCE_IMAP_PORT {problem}")
    user = env.get("INVITE_BOUNCE_IMAP_USER", "").strip()
    password = env.get("INVITE_BOUNCE_IMAP_PASSWORD", "")
    if not user or not password:
        raise ConfigError("INVITE_BOUNCE_IMAP_HOST is set but INVITE_BOUNCE_IMAP_USER or "
                          "INVITE_BOUNCE_IMAP_PASSWORD is not",
                          hint="Set the bounce mailbox's login and password.")
    folder = env.get("INVITE_BOUNCE_IMAP_FOLDER", "").strip() or "INBOX"
    move_to = env.get("INVITE_BOUNCE_IMAP_MOVE_TO", "").strip()
    for name, value in (("FOLDER", folder), ("MOVE_TO", move_to)):
        if any(ord(char) < 32 or char in '"\\' for char in value):
            raise ConfigError(f"INVITE_BOUNCE_IMAP_{name} is {value!r}, which holds a quote, "
                              "a backslash or a control character",
                              hint="Give the folder's name as your mail program shows it.")
    if move_to and move_to == folder:
        raise ConfigError(f"INVITE_BOUNCE_IMAP_MOVE_TO is the folder bounces are read from "
                          f"({folder!r})", hint="Use another folder, e.g. invite-processed.")
    extra = ca_file("INVITE_BOUNCE_IMAP_CA_FILE", env.get("INVITE_BOUNCE_IMAP_CA_FILE", ""),
                    "Point it at the IMAP server's certificate or its CA's, in PEM form.")
    return BounceMailbox(host=host, user=user, password=password, port=port, folder=folder,
                         tls=tls, ca_file=extra, move_to=move_to)
