"""Read the list of relays and their limits: INVITE_SMTP_URL or `[[relays]]` in event.toml.

One URL per relay, whitespace- or comma-separated:

    smtp+starttls://office@smtp.example.org:587?per_minute=30&per_day=500&connections=2

Schemes: `smtp` (STARTTLS when offered), `smtp+starttls`, `smtps` (TLS from the first
byte), `smtp+plain` (never encrypted). The password of relay N (counted from 1) comes
from the URL (percent-encoded), else INVITE_SMTP_PASSWORD_<N>; INVITE_SMTP_PASSWORD only
when the URL names a single relay: with several, a forgotten INVITE_SMTP_PASSWORD_2 would
send relay 1's password to another provider, so it is an error instead.
In event.toml a relay names the variable holding its password (`password_env`): the
file is shared and copied, so a password never lives in it. Errors name the relay by
its place and host, never with its password.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from rsvp.errors import ConfigError
from rsvp.setting_values import port_problem
from rsvp.toml_table import TomlTable

SCHEMES = {"smtp": "auto", "smtp+starttls": "starttls", "smtps": "tls", "smtp+plain": "none"}
TLS_MODES = ("auto", "none", "starttls", "tls")
DEFAULT_PORTS = {"auto": 25, "none": 25, "starttls": 587, "tls": 465}
LIMITS = ("per_minute", "per_day", "connections")
URL_HINT = ("Write one URL per relay, e.g. "
            "smtp+starttls://user@smtp.example.org:587?per_minute=30&per_day=500")
TOML_KEYS = ("host", "port", "tls", "user", "password_env", *LIMITS)


@dataclass(frozen=True)
class Relay:
    """One relay: where, how encrypted, who logs in, and how much it takes.

    `per_minute` and `per_day` None mean no limit of that kind; `connections` None means
    as many as the run's --concurrency."""
    host: str
    port: int
    tls: str = "auto"
    user: str = ""
    password: str = field(default="", repr=False)
    per_minute: float | None = None
    per_day: int | None = None
    connections: int | None = None
    # Where the organiser configured it, for hints: "INVITE_SMTP_URL relay 2",
    # "event.toml [[relays]] 2", or the one relay of INVITE_SMTP_*.
    source: str = field(default="INVITE_SMTP_*", compare=False)

    @property
    def name(self) -> str:
        """How messages name the relay; also the key of its daily count in the database."""
        where = f"{self.host}:{self.port}"
        return f"{self.user}@{where}" if self.user else where


def parse_urls(text: str, env: Mapping[str, str]) -> tuple[Relay, ...]:
    """The relays of INVITE_SMTP_URL; ConfigError naming the relay and its bad part."""
    urls = text.replace(",", " ").split()
    relays = tuple(_parse_url(url, index, env, len(urls) == 1)
                   for index, url in enumerate(urls, start=1))
    _distinct(relays, "INVITE_SMTP_URL")
    return relays


def _parse_url(url: str, index: int, env: Mapping[str, str], single: bool) -> Relay:
    source = where = f"INVITE_SMTP_URL relay {index}"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ConfigError(f"{where} has a bad port or address", hint=URL_HINT) from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise ConfigError(f"{where} has the scheme {scheme or '(none)'!r}; use one of "
                          f"{', '.join(SCHEMES)}", hint=URL_HINT)
    host = parts.hostname or ""
    where = f"{where} ({host or 'no host'})"
    if not host:
        raise ConfigError(f"{where} names no host", hint=URL_HINT)
    if parts.path not in ("", "/") or parts.fragment:
        raise ConfigError(f"{where} has a path or fragment; a relay URL ends after the port "
                          "and its ?limits", hint=URL_HINT)
    tls = SCHEMES[scheme]
    port = DEFAULT_PORTS[tls] if port is None else port  # `:0` is no "default"
    if (problem := port_problem(port)) is not None:
        raise ConfigError(f"{where}: the port {problem}", hint=URL_HINT)
    user = unquote(parts.username or "")
    password = unquote(parts.password or "") or env.get(f"INVITE_SMTP_PASSWORD_{index}", "")
    if not password and user:
        if not single:
            raise ConfigError(f"{where} logs in as {user!r} but has no password of its own "
                              "(INVITE_SMTP_PASSWORD is used only with a single relay, so "
                              "that no relay gets another's password)",
                              hint=f"Set INVITE_SMTP_PASSWORD_{index} or put it in the URL "
                              "(percent-encoded).")
        password = env.get("INVITE_SMTP_PASSWORD", "")
    limits: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key not in LIMITS:
            raise ConfigError(f"{where}: {key!r} is not a known limit; use "
                              f"{', '.join(LIMITS)}", hint=URL_HINT)
        limits[key] = value
    return Relay(host=host.lower(), port=port, tls=tls, user=user,
                 password=password, source=source, **_limits(limits, where))


def _limits(given: Mapping[str, object], where: str) -> dict[str, Any]:
    """per_minute (a positive number), per_day and connections (positive whole numbers);
    None where not given."""
    found: dict[str, Any] = {}
    for key in LIMITS:
        value = given.get(key)
        if value is None:
            found[key] = None
            continue
        try:
            number = float(str(value)) if key == "per_minute" else int(str(value))
        except ValueError:
            number = 0
        if isinstance(value, bool) or not 0 < number < float("inf"):
            whole = "a positive number" if key == "per_minute" else "a positive whole number"
            raise ConfigError(f"{where}: {key} is {value!r}; it must be {whole}", hint=URL_HINT)
        found[key] = number
    return found


def read_toml(path: Path, env: Mapping[str, str]) -> tuple[Relay, ...]:
    """The `[[relays]]` tables of event.toml, if the file has any (other keys are read by
    rsvp.config; a file that is no valid TOML is reported there)."""
    import tomllib
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return ()
    if "relays" not in text:  # most workspaces: skip parsing the file a second time
        return ()
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return ()
    top = TomlTable(raw, "", path)
    relays = tuple(_read_table(table, env)
                   for table in top.entries("relays", "a table ([[relays]])"))
    _distinct(relays, str(path))
    return relays


def _read_table(table: TomlTable, env: Mapping[str, str]) -> Relay:
    if "password" in table.data:
        raise table.fail("password", "must not be in the file: name the variable that holds "
                         "it with password_env = \"INVITE_SMTP_PASSWORD_OFFICE\"")
    host = table.get("host", str).strip().lower()  # the daily count's key: one spelling
    if not host:
        raise table.fail("host", "is empty; name the relay, e.g. \"smtp.example.org\"")
    tls = table.get("tls", str, False, "auto")
    if tls not in TLS_MODES:
        raise table.fail("tls", f"is {tls!r}; use one of {', '.join(TLS_MODES)}")
    port = table.get("port", int, False, DEFAULT_PORTS[tls])
    if (problem := port_problem(port)) is not None:
        raise table.fail("port", problem)
    user = table.get("user", str, False, "")
    password_env = table.get("password_env", str, False, "")
    if user and not password_env:  # as a URL's user without a password of its own
        raise table.fail("password_env", f"is missing: the relay logs in as {user!r}, so "
                         "name the variable that holds its password")
    password = ""
    if password_env:
        password = env.get(password_env, "")
        if not password:
            raise table.fail("password_env", f"names {password_env}, which is not set")
    limits = {key: table.get(key, (int, float) if key == "per_minute" else int, False)
              for key in LIMITS}
    table.done()
    number = table.where.rsplit("[", 1)[-1].rstrip("]")
    return Relay(host=host, port=port, tls=tls, user=user, password=password,
                 source=f"{table.path.name} [[relays]] {number}",
                 **_limits(limits, f"{table.path}: '{table.where}' ({host})"))


def _distinct(relays: tuple[Relay, ...], source: str) -> None:
    """Two entries for one relay and login would count its daily cap twice."""
    seen: set[str] = set()
    for relay in relays:
        if relay.name in seen:
            raise ConfigError(f"{source} lists the relay {relay.name} twice",
                              hint="Give each relay once, with its connections= limit.")
        seen.add(relay.name)
