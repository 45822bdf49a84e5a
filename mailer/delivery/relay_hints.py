"""Name a relay's settings the way the organiser wrote them, in errors and hints.

A relay comes from the five INVITE_SMTP_* variables, from INVITE_SMTP_URL ("relay 2"),
or from a `[[relays]]` table of event.toml: a hint that says "check INVITE_SMTP_PASSWORD"
about the second URL's relay sends the organiser to the wrong place (`Relay.source`).
"""

from __future__ import annotations

from rsvp.settings import Settings

ENV = "INVITE_SMTP_*"


def _url_index(source: str) -> str | None:
    """N of "INVITE_SMTP_URL relay N", else None."""
    prefix = "INVITE_SMTP_URL relay "
    return source.removeprefix(prefix) if source.startswith(prefix) else None


def login_hint(settings: Settings) -> str:
    """What to check when the relay refuses the login."""
    source = settings.smtp_source
    if source == ENV:
        return "Check INVITE_SMTP_USER and INVITE_SMTP_PASSWORD."
    index = _url_index(source)
    if index is not None:
        return (f"Check the user of {source} and its password (in the URL, else "
                f"INVITE_SMTP_PASSWORD_{index}).")
    return f"Check user of {source} and the variable its password_env names."


def reach_hint(settings: Settings) -> str:
    """What to check when the relay cannot be reached."""
    source = settings.smtp_source
    if source == ENV:
        return "Check INVITE_SMTP_HOST, INVITE_SMTP_PORT and INVITE_SMTP_TLS."
    if _url_index(source) is not None:
        return f"Check the host, port and scheme of {source}."
    return f"Check host, port and tls of {source}."


def tls_setting(settings: Settings, mode: str) -> str:
    """How the organiser asked for encryption `mode` on this relay."""
    source = settings.smtp_source
    if source == ENV:
        return f"INVITE_SMTP_TLS={mode}"
    if _url_index(source) is not None:
        scheme = {"auto": "smtp", "starttls": "smtp+starttls", "tls": "smtps",
                  "none": "smtp+plain"}[mode]
        return f"the scheme {scheme}:// of {source}"
    return f'tls = "{mode}" in {source}'


def tls_asked(settings: Settings, mode: str) -> str:
    """Who asked for `mode`, as in "... which INVITE_SMTP_TLS asks for"."""
    return "INVITE_SMTP_TLS" if settings.smtp_source == ENV else tls_setting(settings, mode)


def plain_login_hint(settings: Settings) -> str:
    """What to do about a login that would go out unencrypted."""
    return (f"Use a relay with STARTTLS or TLS, or set {tls_setting(settings, 'none')} "
            "on purpose.")


def starttls_hint(settings: Settings) -> str:
    """What to check when a relay told to use STARTTLS does not offer it."""
    if settings.smtp_source == ENV:
        where, verb = "INVITE_SMTP_HOST and INVITE_SMTP_PORT", "set"
    else:
        where, verb = f"the host and port of {settings.smtp_source}", "use"
    return (f"Check {where} (587 usually offers STARTTLS; for port 465 {verb} "
            f"{tls_setting(settings, 'tls')}).")


def user_setting(settings: Settings) -> str:
    """Where the relay's login name was given."""
    source = settings.smtp_source
    return "INVITE_SMTP_USER" if source == ENV else f"the user of {source}"
