"""What `invite send` checks and says before the first mail goes out.

Defaults that are convenient on a laptop are unsafe on the internet: an unset public
address sends every recipient a link to the organiser's own machine, and a password
given to a relay without encryption can be read on the way. Sending therefore needs
`INVITE_BASE_URL` (a test send, which goes to the organiser only, warns), the question
names where links point and how the relay is reached, and what the organiser chose on
purpose but is still risky is said once per run.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from mailer.delivery.relay_hints import tls_setting
from rsvp.errors import ConfigError
from rsvp.settings import Settings
from rsvp.words import counted

TLS_LABELS = {"auto": "STARTTLS if offered", "starttls": "STARTTLS", "tls": "TLS",
              "none": "unencrypted"}


def require_base_url(settings: Settings) -> None:
    """Refuse to make links for mail while INVITE_BASE_URL is unset."""
    if not settings.base_url_given:
        raise ConfigError(
            "INVITE_BASE_URL is not set, so every link in the mails would point to "
            f"{settings.base_url} on this machine",
            hint="Set INVITE_BASE_URL to the public address of the answer page, e.g. "
                 "INVITE_BASE_URL=https://rsvp.example.org (`invite send --dry-run DIR` "
                 "works without it).")


def check_send(settings: Settings) -> list[str]:
    """Refuse what must not be sent; return the warning lines to print once before."""
    require_base_url(settings)
    warnings = []
    host = loopback_host(settings.base_url)
    if host is not None:
        warnings.append(f"Warning: links point to {host}: recipients cannot open them")
    return warnings + clear_text_login(settings)


def check_test_send(settings: Settings) -> list[str]:
    """The warnings before a test send, which works without INVITE_BASE_URL: its mail goes
    to the organiser only, who can open its links here while `invite serve` runs."""
    warnings = []
    host = loopback_host(settings.base_url)
    if not settings.base_url_given:
        warnings.append(f"Warning: INVITE_BASE_URL is not set: the links in the test mail "
                        f"point to {settings.base_url} and open only on this machine while "
                        "`invite serve` runs (a real send needs INVITE_BASE_URL)")
    elif host is not None:
        warnings.append(f"Warning: links point to {host}: they open only on this machine")
    return warnings + clear_text_login(settings)


def clear_text_login(settings: Settings) -> list[str]:
    """The warning for a password the organiser chose to send unencrypted, if any."""
    return [f"Warning: {tls_setting(settings.for_relay(relay), 'none')}: the password of "
            f"{relay.user!r} goes to {relay.host}:{relay.port} unencrypted"
            for relay in settings.relay_list() if relay.user and relay.tls == "none"]


def relays_text(settings: Settings) -> str:
    """The relays and how each is reached, e.g. "smtp.example.org:587 (STARTTLS)"."""
    return ", ".join(f"{relay.host}:{relay.port} ({TLS_LABELS[relay.tls]})"
                     for relay in settings.relay_list())


def send_question(count: int, plural: str, settings: Settings, people: str = "") -> str:
    """The yes/no question before sending: how many (to whom: `people`, a few words on
    their batches and roles), through which relay, which links."""
    return (f"Send {counted(count, plural)}{people} via {relays_text(settings)} "
            f"with links to {settings.base_url}?")


def preview_note(settings: Settings) -> str | None:
    """A line for a preview whose links point at the local default address."""
    if settings.base_url_given:
        return None
    return (f"Note: INVITE_BASE_URL is not set; links point to {settings.base_url} "
            "(`invite send` needs it set).")


def loopback_host(url: str) -> str | None:
    """The host of `url` if it names this machine (no one else can open it), else None."""
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return host
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    return host if address.is_loopback or address.is_unspecified else None
