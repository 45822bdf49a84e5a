"""Build the one frozen Settings object from a workspace and INVITE_* variables."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rsvp.errors import ConfigError

TLS_MODES = ("none", "starttls", "tls")
SECRET_FILE = ".secret_key"
DATABASE_FILE = "invite.db"


@dataclass(frozen=True)
class Settings:
    workspace: Path
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_tls: str = "none"
    secret_keys: tuple[str, ...] = field(default=(), repr=False)
    base_url: str = "http://127.0.0.1:8000"

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
        return f"{self.smtp_host}:{self.smtp_port}"


def load_settings(workspace: Path, environ: Mapping[str, str] | None = None) -> Settings:
    """Read INVITE_* from `environ` (default os.environ); create the secret key if unset."""
    env = os.environ if environ is None else environ
    tls = env.get("INVITE_SMTP_TLS", "none").strip().lower() or "none"
    if tls not in TLS_MODES:
        raise ConfigError(f"INVITE_SMTP_TLS is {tls!r}; use one of {', '.join(TLS_MODES)}")
    default_port = {"none": 25, "starttls": 587, "tls": 465}[tls]
    port_text = env.get("INVITE_SMTP_PORT", "").strip()
    try:
        port = int(port_text) if port_text else default_port
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
    base_url = env.get("INVITE_BASE_URL", "http://127.0.0.1:8000").strip().rstrip("/")
    if not base_url.startswith(("http://", "https://")):
        raise ConfigError(f"INVITE_BASE_URL is {base_url!r}; it must start with https:// (or http://)")
    return Settings(
        workspace=workspace,
        smtp_host=env.get("INVITE_SMTP_HOST", "localhost").strip() or "localhost",
        smtp_port=port,
        smtp_user=env.get("INVITE_SMTP_USER", ""),
        smtp_password=env.get("INVITE_SMTP_PASSWORD", ""),
        smtp_tls=tls,
        secret_keys=keys,
        base_url=base_url,
    )


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
