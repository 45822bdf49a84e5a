"""Checks shared by the settings read from INVITE_* variables and event.toml: a port
number and an extra certificate file, read the same way wherever they are given."""

from __future__ import annotations

from pathlib import Path

from rsvp.errors import ConfigError


def port_problem(port: object) -> str | None:
    """What is wrong with `port` ("is 0; use a port from 1 to 65535"), None if it is one."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        return f"is {port!r}; use a port from 1 to 65535"
    return None


def ca_file(variable: str, text: str, hint: str) -> Path | None:
    """The extra certificate (PEM) to trust, e.g. a company's own CA, named by
    `variable` (`text` its value; `hint` says what to point it at)."""
    if not text.strip():
        return None
    path = Path(text.strip()).expanduser()
    if not path.is_file():
        raise ConfigError(f"{variable} is {text.strip()!r}, which is not a file", hint=hint)
    return path
