"""Build the one frozen Settings object from a workspace and INVITE_* variables."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from rsvp.errors import ConfigError
from rsvp.hostnames import helo_problem
from rsvp.imap_settings import BounceMailbox, load_bounce_mailbox
from rsvp.relays import DEFAULT_PORTS, TLS_MODES, Relay, parse_urls, read_toml
from rsvp.setting_values import ca_file

# TLS_MODES: "auto" uses STARTTLS whenever the relay offers it; "none" never encrypts and
# is the only mode that lets a password go out in clear text (mailer.delivery.tls).
SECRET_FILE = ".secret_key"
DATABASE_FILE = "invite.db"
# Where links point while INVITE_BASE_URL is unset: good for a preview on this machine,
# never for mail that leaves it (`invite send` refuses, see mailer.cli.preflight).
DEFAULT_BASE_URL = "http://127.0.0.1:8000"
# A bounce address's local part leaves room for `+` and the 29-character VERP id
# (mailer.delivery.verp) within RFC 5321's 64 characters.
BOUNCE_LOCAL_MAX = 64 - 1 - 29
# ... and only characters that mailer.delivery.verp's search finds before the `+`.
_BOUNCE_LOCAL = re.compile(r"[A-Za-z0-9._-]+")
HELO_HINT = ("Set INVITE_SMTP_HELO to the fully qualified name of this machine or of your "
             "mail domain, e.g. mail.example.org.")


@dataclass(frozen=True)
class Settings:
    workspace: Path
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_tls: str = "auto"
    smtp_ca_file: Path | None = None
    # The name we greet the relay with (EHLO); empty: the From domain (mailer.delivery.tls).
    smtp_helo: str = ""
    # The bounce mailbox read over IMAP (#9, rsvp.imap_settings); None while unset.
    bounce_imap: BounceMailbox | None = None
    secret_keys: tuple[str, ...] = field(default=(), repr=False)
    base_url: str = DEFAULT_BASE_URL
    # False while INVITE_BASE_URL is unset and `base_url` is only the local default.
    base_url_given: bool = False
    # DKIM signing (mailer.delivery.dkim): the key is read and checked where mail is sent.
    dkim_key_file: Path | None = None
    dkim_selector: str = ""
    dkim_domain: str = ""
    # VERP (#9, mailer.delivery.verp): the envelope sender becomes `local+<id>@domain`.
    bounce_address: str = ""
    # INVITE_SMTP_URL or [[relays]] (rsvp.relays); empty: the one relay of INVITE_SMTP_*.
    relays: tuple[Relay, ...] = ()
    # Where the one relay of these settings was configured (Relay.source), for hints.
    smtp_source: str = "INVITE_SMTP_*"

    @property
    def event_file(self) -> Path:
        return self.workspace / "event.toml"

    @property
    def database(self) -> Path:
        return self.workspace / DATABASE_FILE

    @property
    def template_dir(self) -> Path:
        return self.workspace / "templates"

    @property
    def relay(self) -> str:
        if self.relays:
            return ", ".join(relay.name for relay in self.relays)
        return f"{self.smtp_host}:{self.smtp_port}"

    def relay_list(self) -> tuple[Relay, ...]:
        """The relays to send over: the configured list, or the one of INVITE_SMTP_*."""
        if self.relays:
            return self.relays
        return (Relay(host=self.smtp_host, port=self.smtp_port, tls=self.smtp_tls,
                      user=self.smtp_user, password=self.smtp_password),)

    def for_relay(self, relay: Relay) -> Settings:
        """These settings with `relay` as the one relay (what a connection to it reads)."""
        return replace(self, smtp_host=relay.host, smtp_port=relay.port, smtp_tls=relay.tls,
                       smtp_user=relay.user, smtp_password=relay.password, relays=(),
                       smtp_source=relay.source)


def load_settings(workspace: Path, environ: Mapping[str, str] | None = None) -> Settings:
    """Read INVITE_* from `environ` (default os.environ); create the secret key if unset."""
    env = os.environ if environ is None else environ
    tls = env.get("INVITE_SMTP_TLS", "").strip().lower() or "auto"
    if tls not in TLS_MODES:
        raise ConfigError(f"INVITE_SMTP_TLS is {tls!r}; use one of {', '.join(TLS_MODES)}")
    port_text = env.get("INVITE_SMTP_PORT", "").strip()
    try:
        port = int(port_text) if port_text else DEFAULT_PORTS[tls]
    except ValueError:
        raise ConfigError(f"INVITE_SMTP_PORT is {port_text!r}, not a port number") from None
    keys = tuple(k.strip() for k in env.get("INVITE_SECRET_KEY", "").split(",") if k.strip())
    source = "INVITE_SECRET_KEY"
    if not keys:
        keys = (read_or_create_secret(workspace / SECRET_FILE),)
        source = str(workspace / SECRET_FILE)
    for key in keys:
        if len(key) < 16:
            raise ConfigError(f"{source} holds a key shorter than 16 characters",
                              hint="Use a long random key, e.g. from `python -c 'import secrets; print(secrets.token_urlsafe(32))'`.")
    helo_text = env.get("INVITE_SMTP_HELO", "").strip()
    helo = helo_text.rstrip(".").lower()
    if helo_text and (problem := helo_problem(helo)):
        raise ConfigError(f"INVITE_SMTP_HELO is {helo_text!r}: {problem}", hint=HELO_HINT)
    given = env.get("INVITE_BASE_URL", "").strip().rstrip("/")
    base_url = given or DEFAULT_BASE_URL
    if not base_url.startswith(("http://", "https://")):
        raise ConfigError(f"INVITE_BASE_URL is {base_url!r}; it must start with https:// (or http://)")
    return Settings(
        workspace=workspace,
        smtp_host=env.get("INVITE_SMTP_HOST", "localhost").strip() or "localhost",
        smtp_port=port,
        smtp_user=env.get("INVITE_SMTP_USER", ""),
        smtp_password=env.get("INVITE_SMTP_PASSWORD", ""),
        smtp_tls=tls,
        smtp_ca_file=ca_file("INVITE_SMTP_CA_FILE", env.get("INVITE_SMTP_CA_FILE", ""),
                             "Point it at the relay's certificate or its CA's, in PEM form."),
        smtp_helo=helo,
        bounce_imap=load_bounce_mailbox(env),
        secret_keys=keys,
        base_url=base_url,
        base_url_given=bool(given),
        dkim_key_file=_optional_path(env.get("INVITE_DKIM_KEY_FILE", "")),
        dkim_selector=env.get("INVITE_DKIM_SELECTOR", "").strip(),
        dkim_domain=env.get("INVITE_DKIM_DOMAIN", "").strip().lower().rstrip("."),
        bounce_address=_bounce_address(env.get("INVITE_BOUNCE_ADDRESS", "").strip()),
        relays=_relays(workspace, env),
    )


def _relays(workspace: Path, env: Mapping[str, str]) -> tuple[Relay, ...]:
    """INVITE_SMTP_URL wins over [[relays]] in event.toml (as variables win over files)."""
    urls = env.get("INVITE_SMTP_URL", "").strip()
    return parse_urls(urls, env) if urls else read_toml(workspace / "event.toml", env)


def _bounce_address(text: str) -> str:
    """INVITE_BOUNCE_ADDRESS with its domain lowercased, if it can carry a VERP id."""
    if not text:
        return ""
    local, at, domain = text.rpartition("@")
    if (not at or not _BOUNCE_LOCAL.fullmatch(local) or "." not in domain
            or not text.isascii() or any(char in text for char in " \t<>()[],;:\"\\")):
        raise ConfigError(f"INVITE_BOUNCE_ADDRESS is {text!r}, not a plain address like "
                          "bounces@example.org",
                          hint="Give the mailbox that receives bounces: letters, digits, "
                               "'.', '_' or '-' before the @, without '+' or a name.")
    if len(local) > BOUNCE_LOCAL_MAX:
        raise ConfigError(f"INVITE_BOUNCE_ADDRESS {text!r} has {len(local)} characters before "
                          f"the @; at most {BOUNCE_LOCAL_MAX} leave room for the bounce id",
                          hint="Use a shorter mailbox name.")
    return f"{local}@{domain.lower()}"


def _optional_path(text: str) -> Path | None:
    return Path(text.strip()).expanduser() if text.strip() else None


def read_or_create_secret(path: Path) -> str:
    """Return the workspace's signing key, creating it (mode 0600) on first use."""
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    if not path.parent.is_dir():
        raise ConfigError(f"workspace {path.parent} does not exist",
                          hint="Run `invite init DIR` first, or pass -w DIR.")
    key = secrets.token_urlsafe(32)
    # Write a private temporary file, then link it into place: a reader racing
    # us sees either no key file or a complete one, never an empty one.
    draft = path.with_name(f"{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(key + "\n")
        try:
            os.link(draft, path)
        except FileExistsError:
            return path.read_text(encoding="ascii").strip()
    finally:
        draft.unlink(missing_ok=True)
    return key
