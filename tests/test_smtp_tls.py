"""`invite send` against real aiosmtpd relays with STARTTLS, TLS and logins (issue #8).

The relays run on 127.0.0.1 with a self-signed certificate made here by the `openssl`
command line; the client trusts it only through INVITE_SMTP_CA_FILE. Each relay's
authenticator records whether the line was encrypted when the password came.
"""

from __future__ import annotations

import shutil
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from typer.testing import CliRunner, Result

from mailer.cli import app
from mailer.cli.catcher import MailCatcher, free_port
from mailer.delivery.outbox import Outbox
from rsvp.store import Store
from tests.certs import make_certificate
from tests.conftest import TEST_KEY, person

USER, PASSWORD = "office", "s3cret-relay-password"
PEOPLE = [person("anna.schmidt@example.org", first_name="Anna", last_name="Schmidt"),
          person("john.smith@example.org", "en", first_name="John", last_name="Smith")]

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None,
                                reason="needs the openssl command line")


@dataclass
class Logins:
    """What the relay's authenticator saw: (login, password, line encrypted) per attempt."""

    seen: list[tuple[str, str, bool]] = field(default_factory=list)

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str,
                 auth_data: Any) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        # session.ssl is set by STARTTLS; a line encrypted from the start shows in its transport.
        encrypted = session.ssl is not None or \
            server.transport.get_extra_info("ssl_object") is not None
        self.seen.append((login, password, encrypted))
        return AuthResult(success=(login, password) == (USER, PASSWORD))


@dataclass
class Relay:
    catcher: MailCatcher
    logins: Logins
    port: int


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key."""
    return make_certificate(tmp_path_factory.mktemp("tls"), "relay")


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def start(**options: Any) -> Iterator[Relay]:
    catcher, logins, port = MailCatcher(), Logins(), free_port()
    controller = Controller(catcher, hostname="127.0.0.1", port=port, ready_timeout=10,
                            authenticator=logins, **options)
    controller.start()
    try:
        yield Relay(catcher, logins, port)
    finally:
        controller.stop()


@pytest.fixture
def starttls_relay(certificate: tuple[Path, Path]) -> Iterator[Relay]:
    """Offers STARTTLS; AUTH only after it, and no mail without a login."""
    yield from start(tls_context=server_context(certificate), auth_required=True,
                     auth_require_tls=True)


@pytest.fixture
def tls_relay(certificate: tuple[Path, Path]) -> Iterator[Relay]:
    """TLS from the first byte, as on port 465 (aiosmtpd does not count that line as
    encrypted, so it is told to offer AUTH anyway)."""
    yield from start(ssl_context=server_context(certificate), auth_require_tls=False,
                     server_hostname="127.0.0.1")


@pytest.fixture
def plain_relay() -> Iterator[Relay]:
    """No STARTTLS at all, and it would take a password in clear text."""
    yield from start(auth_require_tls=False)


def send(workspace: Path, relay: Relay, **env: str) -> Result:
    environ = {"INVITE_SECRET_KEY": TEST_KEY, "INVITE_BASE_URL": "https://rsvp.example.org",
               "INVITE_SMTP_HOST": "127.0.0.1", "INVITE_SMTP_PORT": str(relay.port), **env}
    return CliRunner().invoke(app, ["send", "--yes", "-w", str(workspace)], env=environ,
                              catch_exceptions=False)


def sent(store: Store) -> list[str]:
    return [row["email"] for row in Outbox(store).export_rows() if row["state"] == "sent"]


def test_by_default_the_login_goes_over_starttls_and_the_mail_arrives(
        workspace: Path, store: Store, starttls_relay: Relay,
        certificate: tuple[Path, Path]) -> None:
    store.add_recipients(PEOPLE)
    result = send(workspace, starttls_relay, INVITE_SMTP_USER=USER,
                  INVITE_SMTP_PASSWORD=PASSWORD, INVITE_SMTP_CA_FILE=str(certificate[0]))
    assert result.exit_code == 0, result.output
    assert starttls_relay.logins.seen
    assert set(starttls_relay.logins.seen) == {(USER, PASSWORD, True)}
    assert sorted(m.recipients[0] for m in starttls_relay.catcher.snapshot()) == [
        "anna.schmidt@example.org", "john.smith@example.org"]
    assert PASSWORD not in result.output
    assert "Warning" not in result.output


def test_starttls_asked_for_explicitly_works_the_same(
        workspace: Path, store: Store, starttls_relay: Relay,
        certificate: tuple[Path, Path]) -> None:
    store.add_recipients(PEOPLE[:1])
    result = send(workspace, starttls_relay, INVITE_SMTP_TLS="starttls", INVITE_SMTP_USER=USER,
                  INVITE_SMTP_PASSWORD=PASSWORD, INVITE_SMTP_CA_FILE=str(certificate[0]))
    assert result.exit_code == 0, result.output
    assert set(starttls_relay.logins.seen) == {(USER, PASSWORD, True)}
    assert len(starttls_relay.catcher.snapshot()) == 1


def test_tls_from_the_first_byte_works_with_the_ca_file(
        workspace: Path, store: Store, tls_relay: Relay, certificate: tuple[Path, Path]) -> None:
    store.add_recipients(PEOPLE[:1])
    result = send(workspace, tls_relay, INVITE_SMTP_TLS="tls", INVITE_SMTP_USER=USER,
                  INVITE_SMTP_PASSWORD=PASSWORD, INVITE_SMTP_CA_FILE=str(certificate[0]))
    assert result.exit_code == 0, result.output
    assert set(tls_relay.logins.seen) == {(USER, PASSWORD, True)}
    assert len(tls_relay.catcher.snapshot()) == 1


def test_a_self_signed_certificate_is_refused_without_the_ca_file(
        workspace: Path, store: Store, starttls_relay: Relay) -> None:
    store.add_recipients(PEOPLE)
    result = send(workspace, starttls_relay, INVITE_SMTP_USER=USER,
                  INVITE_SMTP_PASSWORD=PASSWORD)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[-2].startswith(f"Error: the certificate of 127.0.0.1:{starttls_relay.port} "
                                "is not trusted: ")
    assert lines[-1] == ("Hint: If the relay has a certificate of its own (self-signed or from "
                         "your organisation's authority), set INVITE_SMTP_CA_FILE to it (PEM).")
    assert starttls_relay.logins.seen == []
    assert starttls_relay.catcher.snapshot() == []
    assert sent(store) == []


def test_a_login_to_a_relay_without_starttls_is_refused_and_nothing_is_sent(
        workspace: Path, store: Store, plain_relay: Relay) -> None:
    store.add_recipients(PEOPLE)
    result = send(workspace, plain_relay, INVITE_SMTP_USER=USER, INVITE_SMTP_PASSWORD=PASSWORD)
    assert result.exit_code == 1
    assert result.output.splitlines()[-2:] == [
        (f"Error: 127.0.0.1:{plain_relay.port} does not offer STARTTLS: logging in as "
         "'office' would send the password unencrypted"),
        "Hint: Use a relay with STARTTLS or TLS, or set INVITE_SMTP_TLS=none on purpose.",
    ]
    assert plain_relay.logins.seen == []
    assert plain_relay.catcher.snapshot() == []
    assert sent(store) == []


def test_starttls_asked_for_but_not_offered_is_refused(
        workspace: Path, store: Store, plain_relay: Relay) -> None:
    store.add_recipients(PEOPLE[:1])
    result = send(workspace, plain_relay, INVITE_SMTP_TLS="starttls")
    assert result.exit_code == 1
    assert (f"Error: 127.0.0.1:{plain_relay.port} does not offer STARTTLS, which "
            "INVITE_SMTP_TLS asks for") in result.output
    assert plain_relay.catcher.snapshot() == []


def test_a_clear_text_login_chosen_on_purpose_goes_ahead_with_one_warning(
        workspace: Path, store: Store, plain_relay: Relay) -> None:
    store.add_recipients(PEOPLE)
    result = send(workspace, plain_relay, INVITE_SMTP_TLS="none", INVITE_SMTP_USER=USER,
                  INVITE_SMTP_PASSWORD=PASSWORD)
    assert result.exit_code == 0, result.output
    warning = (f"Warning: INVITE_SMTP_TLS=none: the password of 'office' goes to "
               f"127.0.0.1:{plain_relay.port} unencrypted")
    assert result.output.count(warning) == 1
    assert PASSWORD not in result.output
    assert plain_relay.logins.seen
    assert set(plain_relay.logins.seen) == {(USER, PASSWORD, False)}
    assert len(plain_relay.catcher.snapshot()) == 2


def test_without_a_login_a_relay_without_starttls_still_gets_the_mail(
        workspace: Path, store: Store, plain_relay: Relay) -> None:
    """A relay on the same machine or network that takes mail without a login and
    offers no encryption keeps working under the default."""
    store.add_recipients(PEOPLE[:1])
    result = send(workspace, plain_relay)
    assert result.exit_code == 0, result.output
    assert len(plain_relay.catcher.snapshot()) == 1
    assert "Warning" not in result.output


def test_a_ca_file_that_does_not_exist_is_a_settings_error(workspace: Path) -> None:
    result = CliRunner().invoke(app, ["status", "-w", str(workspace)], env={
        "INVITE_SECRET_KEY": TEST_KEY, "INVITE_SMTP_CA_FILE": str(workspace / "nope.pem")},
        catch_exceptions=False)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"Error: INVITE_SMTP_CA_FILE is '{workspace / 'nope.pem'}', which is not a file",
        "Hint: Point it at the relay's certificate or its CA's, in PEM form.",
    ]


class NoLogins(MailCatcher):
    """A relay that takes mail from anyone and offers no AUTH at all."""

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:
        session.host_name = hostname
        return [line for line in responses if "AUTH" not in line.upper()]


def test_a_login_to_a_relay_that_offers_none_is_a_clear_error(
        workspace: Path, store: Store, certificate: tuple[Path, Path]) -> None:
    store.add_recipients(PEOPLE[:1])
    catcher, port = NoLogins(), free_port()
    controller = Controller(catcher, hostname="127.0.0.1", port=port, ready_timeout=10,
                            tls_context=server_context(certificate))
    controller.start()
    try:
        result = send(workspace, Relay(catcher, Logins(), port), INVITE_SMTP_USER=USER,
                      INVITE_SMTP_PASSWORD=PASSWORD, INVITE_SMTP_CA_FILE=str(certificate[0]))
    finally:
        controller.stop()
    assert result.exit_code == 1
    assert result.output.splitlines()[-2:] == [
        f"Error: 127.0.0.1:{port} offers no login (AUTH), but INVITE_SMTP_USER is set",
        "Hint: Leave INVITE_SMTP_USER unset if the relay takes mail without a login."]
    assert catcher.snapshot() == []


def test_a_url_relay_that_cannot_be_reached_is_named_with_what_to_check(
        workspace: Path, store: Store, plain_relay: Relay) -> None:
    store.add_recipients(PEOPLE[:1])
    nowhere = free_port()
    result = send(workspace, plain_relay, INVITE_SMTP_URL=(
        f"smtp+plain://127.0.0.1:{plain_relay.port} smtp+plain://127.0.0.1:{nowhere}"))
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert f"Warning: cannot reach the mail relay 127.0.0.1:{nowhere}: " in text
    assert ("(Check the host, port and scheme of INVITE_SMTP_URL relay 2.); the mails went "
            "over the other relays") in text
    assert "INVITE_SMTP_HOST" not in text
    assert len(plain_relay.catcher.snapshot()) == 1


def test_login_hints_name_the_place_the_relay_was_configured(workspace: Path) -> None:
    from mailer.delivery.relay_hints import login_hint
    from rsvp.relays import Relay as Configured
    from rsvp.settings import load_settings
    settings = load_settings(workspace, {"INVITE_SECRET_KEY": TEST_KEY})
    assert login_hint(settings) == "Check INVITE_SMTP_USER and INVITE_SMTP_PASSWORD."
    second = Configured("b.example.org", 587, user="b", source="INVITE_SMTP_URL relay 2")
    assert login_hint(settings.for_relay(second)) == (
        "Check the user of INVITE_SMTP_URL relay 2 and its password (in the URL, else "
        "INVITE_SMTP_PASSWORD_2).")
    table = Configured("c.example.org", 587, user="c", source="event.toml [[relays]] 1")
    assert login_hint(settings.for_relay(table)) == (
        "Check user of event.toml [[relays]] 1 and the variable its password_env names.")


def test_starttls_asked_for_by_a_url_relay_names_its_scheme(
        workspace: Path, store: Store, plain_relay: Relay) -> None:
    store.add_recipients(PEOPLE[:1])
    result = send(workspace, plain_relay,
                  INVITE_SMTP_URL=f"smtp+starttls://127.0.0.1:{plain_relay.port}")
    assert result.exit_code == 1
    assert result.output.splitlines()[-2:] == [
        (f"Error: 127.0.0.1:{plain_relay.port} does not offer STARTTLS, which the scheme "
         "smtp+starttls:// of INVITE_SMTP_URL relay 1 asks for"),
        ("Hint: Check the host and port of INVITE_SMTP_URL relay 1 (587 usually offers "
         "STARTTLS; for port 465 use the scheme smtps:// of INVITE_SMTP_URL relay 1).")]


def test_a_clear_text_login_of_a_relay_in_event_toml_names_its_table(
        tmp_path: Path, plain_relay: Relay) -> None:
    from rsvp.store import open_store
    from tests.conftest import make_workspace
    workspace = make_workspace(tmp_path, (
        f'\n[[relays]]\nhost = "127.0.0.1"\nport = {plain_relay.port}\ntls = "none"\n'
        f'user = "{USER}"\npassword_env = "OFFICE_PASSWORD"\n'))
    result = send(workspace, plain_relay, OFFICE_PASSWORD=PASSWORD)
    assert result.exit_code == 0, result.output
    assert (f'Warning: tls = "none" in event.toml [[relays]] 1: the password of \'office\' '
            f"goes to 127.0.0.1:{plain_relay.port} unencrypted") in result.output
    open_store(workspace / "invite.db").close()
