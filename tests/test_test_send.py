"""`invite send --test-to` (#9): samples reach a real aiosmtpd relay, addressed to the test
address only, marked in the subject, with links the real web app shows and records
nothing for; the database is the same row for row afterwards."""

from __future__ import annotations

import re
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dkim
import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from typer.testing import CliRunner

from mailer.cli import app
from mailer.delivery.dkim import new_key, record_strings, write_private
from rsvp.config import load_event
from rsvp.i18n import catalogue
from rsvp.settings import load_settings
from rsvp.store import Store, open_store
from rsvp.tokens import ANSWER, TEST_PREFIX, UNSUBSCRIBE, LinkSigner
from rsvp.web.app import create_app
from tests import test_smtp_tls
from tests.conftest import AUTOMATIC_NOMINATIONS, TEST_KEY, make_workspace, person
from tests.relay import ScriptedRelay, running_relay
from tests.test_send import PEOPLE as SENT
from tests.test_smtp_tls import PASSWORD, USER, Relay

ME = "organiser@example.net"
# The relay with STARTTLS and a login, as the TLS tests run it.
certificate = test_smtp_tls.certificate
starttls_relay = test_smtp_tls.starttls_relay
# Anna (de), Hélène (fr), John (en) as `invite send` tests mail them; Karl reads German too.
PEOPLE = [*SENT, person("karl.weber@example.org", "de", salutation="Herr", first_name="Karl",
                        last_name="Weber")]
MARKERS = {"de": "[TEST] ", "fr": "[ESSAI] ", "en": "[TEST] "}
ENV = {"INVITE_SECRET_KEY": TEST_KEY, "INVITE_SMTP_HOST": "127.0.0.1",
       "INVITE_BASE_URL": "https://rsvp.example.org"}


@pytest.fixture
def relay() -> Any:
    with running_relay() as running:
        yield running


@pytest.fixture
def people(store: Store) -> Store:
    store.add_recipients(PEOPLE)
    return store


def invite(workspace: Path, port: int, *args: str, **env: str) -> Any:
    environment = {**ENV, "INVITE_SMTP_PORT": str(port), **env}
    return CliRunner().invoke(app, [*args, "-w", str(workspace)], env=environment,
                              catch_exceptions=False)


def rows(workspace: Path) -> list[str]:
    """Every table's rows (and the schema), in a fresh connection to the file."""
    conn = sqlite3.connect(workspace / "invite.db")
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def link(message: Any, kind: str) -> str:
    """The path of the first answer (`r`) or unsubscribe (`u`) link in the text part."""
    text = message.get_body(("plain",)).get_content()
    found = re.search(rf"https://rsvp\.example\.org(/{kind}/\S+)", text)
    assert found is not None, text
    return found.group(1)


@contextmanager
def web(workspace: Path) -> Iterator[TestClient]:
    """The real answer app of the workspace, as `invite serve` runs it."""
    settings = load_settings(workspace, ENV)
    store = open_store(settings.database)
    try:
        with TestClient(create_app(settings, load_event(settings.event_file), store)) as client:
            yield client
    finally:
        store.close()


def test_one_sample_per_language_goes_to_the_test_address_only(
        workspace: Path, people: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    assert (workspace / "invite.db").is_file()
    before = rows(workspace)
    result = invite(workspace, port, "send", "--test-to", ME)
    assert result.exit_code == 0, result.output
    mails = catcher.snapshot()
    assert len(mails) == 3  # de, fr, en: Karl (de) gets no second German sample
    assert [m.recipients for m in mails] == [(ME,)] * 3
    languages = []
    for mail in mails:
        message = mail.parsed()
        assert str(message["To"]) == ME
        lang = str(message["Content-Language"])
        languages.append(lang)
        assert str(message["Subject"]).startswith(MARKERS[lang])
        assert f"/r/{TEST_PREFIX}" in link(message, "r")
        assert str(message["List-Unsubscribe"]).startswith(f"<https://rsvp.example.org/u/{TEST_PREFIX}")
    assert languages == ["de", "fr", "en"]
    assert "Sehr geehrte Frau Dr. Schmidt," in mails[0].parsed().get_body(("plain",)).get_content()
    assert rows(workspace) == before  # no outbox row, no lock, nothing in any table
    assert "Sent to organiser@example.net: the invitation in fr as helene.lefevre@example.org" \
        in result.output
    assert "No recipient got a mail, the outbox is unchanged." in result.output


def test_as_renders_the_samples_as_the_people_named(
        workspace: Path, people: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    result = invite(workspace, port, "send", "--mailing", "reminder", "--test-to", ME,
                    "--test-to", "colleague@example.net", "--as", "karl.weber@example.org",
                    "--as", "JOHN.SMITH@example.org")
    assert result.exit_code == 0, result.output
    mails = [m.parsed() for m in catcher.snapshot()]
    assert [str(m["To"]) for m in mails] == [ME, "colleague@example.net"] * 2
    texts = [m.get_body(("plain",)).get_content() for m in mails]
    assert all("Sehr geehrter Herr Weber," in text for text in texts[:2])
    assert all("Dear Mr Smith," in text for text in texts[2:])
    assert all(str(m["Subject"]).startswith("[TEST] ") for m in mails)
    assert {r for m in catcher.snapshot() for r in m.recipients} == {ME, "colleague@example.net"}


def test_an_unknown_as_address_is_named_and_nothing_is_sent(
        workspace: Path, people: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    result = invite(workspace, port, "send", "--test-to", ME, "--as", "nobody@example.org")
    assert result.exit_code == 1
    assert "Error: --as 'nobody@example.org': no recipient with that address in this " \
           "workspace" in result.output
    assert catcher.snapshot() == []


@pytest.mark.parametrize("address", ["not-an-address", "me@@example.org", "mé@exämple.org"])
def test_a_bad_test_address_is_refused(workspace: Path, people: Store,
                                       relay: tuple[ScriptedRelay, int], address: str) -> None:
    catcher, port = relay
    result = invite(workspace, port, "send", "--test-to", address)
    assert result.exit_code == 1
    assert f"Error: --test-to {address!r} is not an email address" in result.output
    assert catcher.snapshot() == []


def test_test_to_does_not_mix_with_choosing_a_real_send(
        workspace: Path, people: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    result = invite(workspace, port, "send", "--test-to", ME, "--batch", "x", "--list")
    assert result.exit_code == 1
    assert "Error: --test-to sends samples only; --batch, --list do not go with it" \
        in result.output
    alone = invite(workspace, port, "send", "--as", "john.smith@example.org")
    assert "Error: --as goes with --test-to" in alone.output
    assert catcher.snapshot() == []


def test_without_base_url_it_warns_and_sends(workspace: Path, people: Store,
                                             relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    result = invite(workspace, port, "send", "--test-to", ME, INVITE_BASE_URL="")
    assert result.exit_code == 0, result.output
    assert "Warning: INVITE_BASE_URL is not set: the links in the test mail point to " \
           "http://127.0.0.1:8000" in result.output
    assert len(catcher.snapshot()) == 3


def test_the_test_link_shows_the_form_with_a_banner_and_records_nothing(
        workspace: Path, people: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    anna = people.find_recipient("anna.schmidt@example.org")
    # Anna answered already: the test page must not show it.
    people.record_answer(anna.id, "no", {"comment": "Leider verhindert"}, source="web")
    assert invite(workspace, port, "send", "--test-to", ME).exit_code == 0
    german = next(m.parsed() for m in catcher.snapshot()
                  if str(m.parsed()["Content-Language"]) == "de")
    before = rows(workspace)
    with web(workspace) as client:
        page = client.get(link(german, "r"))
        answered = client.post(link(german, "r"), data={
            "attendance": "yes", "parts": ["visits"], "comment": "Nur ein Test"})
        invalid = client.post(link(german, "r"), data={"attendance": "perhaps"})
        api_path = link(german, "r").replace("/r/", "/api/responses/")
        api = client.put(api_path, json={"attendance": "yes", "answers": {}})
        shown = client.get(api_path).json()
    assert page.status_code == 200
    banner = catalogue("de").t("page.test_link")
    assert f'<p class="notice test-link" role="status">{banner}</p>' in page.text
    assert "Sehr geehrte Frau Dr. Schmidt," in page.text
    assert 'name="attendance"' in page.text and "Leider verhindert" not in page.text
    assert answered.status_code == 200
    assert banner in answered.text
    intro = catalogue("de").t("page.test_recorded_intro", title="Testtreffen")
    assert str(escape(intro)) in answered.text
    assert "Nur ein Test" in answered.text
    assert invalid.status_code == 422 and banner in invalid.text
    assert api.status_code == 200
    assert api.json()["recorded"] is False and api.json()["test"] is True
    assert shown["attendance"] is None and shown["test"] is True
    assert rows(workspace) == before
    assert people.response(anna.id).attendance == "no"  # type: ignore[union-attr]


def test_a_nomination_through_a_test_link_adds_nobody(
        tmp_path: Path, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    workspace = make_workspace(tmp_path, AUTOMATIC_NOMINATIONS)
    store = open_store(load_settings(workspace, ENV).database)
    store.add_recipients(PEOPLE[2:3])
    store.close()
    assert invite(workspace, port, "send", "--test-to", ME).exit_code == 0
    before = rows(workspace)
    path = link(catcher.snapshot()[0].parsed(), "r")
    with web(workspace) as client:
        page = client.post(path, data={
            "attendance": "yes", "nominee_name": "Jean Dupont", "nominee_email": "jean@example.fr",
            "nominee_organisation": "Dupont SARL", "nominee_role": "company"})
    assert page.status_code == 200
    assert catalogue("en").t("page.test_nomination") in page.text
    assert rows(workspace) == before


def test_the_test_unsubscribe_link_changes_nothing(
        workspace: Path, people: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    assert invite(workspace, port, "send", "--test-to", ME, "--as", "john.smith@example.org"
                  ).exit_code == 0
    path = link(catcher.snapshot()[0].parsed(), "u")
    before = rows(workspace)
    with web(workspace) as client:
        asked = client.get(path)
        one_click = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert asked.status_code == 200 and catalogue("en").t("page.test_link") in asked.text
    assert one_click.status_code == 200
    assert catalogue("en").t("page.test_unsubscribed") in one_click.text
    assert catalogue("en").t("page.unsubscribed_text", title="Test meeting") not in one_click.text
    assert rows(workspace) == before
    assert people.find_recipient("john.smith@example.org").unsubscribed_at is None


def test_a_forged_or_altered_test_link_is_refused(workspace: Path, people: Store) -> None:
    settings = load_settings(workspace, ENV)
    john = people.find_recipient("john.smith@example.org")
    real = LinkSigner(settings.secret_keys)
    genuine = real.sign_test(ANSWER, john.id, people.event_id, john.token_version)
    forged = LinkSigner(("another-key-0123456789abcdef-xyz",)).sign_test(
        ANSWER, john.id, people.event_id, john.token_version)
    real_one = real.sign(ANSWER, john.id, people.event_id, john.token_version)
    bad = [forged,
           genuine[:-3] + ("AAA" if not genuine.endswith("AAA") else "BBB"),  # altered signature
           genuine[len(TEST_PREFIX):],  # the marker taken off: not a real link either
           TEST_PREFIX + real_one,  # a real link dressed as a test one
           real.sign_test(UNSUBSCRIBE, john.id, people.event_id, john.token_version)]
    with web(workspace) as client:
        assert client.get(f"/r/{genuine}").status_code == 200
        for token in bad:
            assert client.get(f"/r/{token}").status_code == 400, token
            assert client.post(f"/r/{token}", data={"attendance": "yes"}).status_code == 400
    assert people.response(john.id) is None


def test_dkim_signs_the_test_mail_as_a_real_one(workspace: Path, people: Store,
                                                relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    pem, key = new_key("ed25519")
    key_path = workspace.parent / "dkim.pem"
    write_private(key_path, pem)
    result = invite(workspace, port, "send", "--test-to", ME, "--as", "anna.schmidt@example.org",
                    INVITE_DKIM_KEY_FILE=str(key_path), INVITE_DKIM_SELECTOR="s1")
    assert result.exit_code == 0, result.output
    data = catcher.snapshot()[0].data
    record = "".join(record_strings(key)).encode("ascii")

    def dns(name: bytes, timeout: int = 5) -> bytes:
        return record if name == b"s1._domainkey.example.org." else b""

    assert dkim.verify(data, dnsfunc=dns)


def test_the_relay_refusing_the_test_mail_is_an_error(
        workspace: Path, people: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    catcher.refuse_rcpt[ME] = "550 5.1.1 No such user"
    result = invite(workspace, port, "send", "--test-to", ME)
    assert result.exit_code == 1
    assert "did not take the test mail to organiser@example.net: 550 5.1.1 No such user" \
        in result.output


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command line")
def test_the_test_mail_logs_in_over_starttls_like_a_real_send(
        workspace: Path, people: Store, starttls_relay: Relay,
        certificate: tuple[Path, Path]) -> None:
    result = invite(workspace, starttls_relay.port, "send", "--test-to", ME,
                    INVITE_SMTP_USER=USER, INVITE_SMTP_PASSWORD=PASSWORD,
                    INVITE_SMTP_CA_FILE=str(certificate[0]))
    assert result.exit_code == 0, result.output
    assert set(starttls_relay.logins.seen) == {(USER, PASSWORD, True)}
    assert [m.recipients for m in starttls_relay.catcher.snapshot()] == [(ME,)] * 3


def test_a_test_address_that_is_a_recipient_is_named(
        workspace: Path, people: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    result = invite(workspace, port, "send", "--test-to", ME, "--test-to",
                    "John.Smith@example.org", "--as", "anna.schmidt@example.org")
    assert result.exit_code == 0, result.output
    assert "Warning: --test-to John.Smith@example.org is a recipient of this event: that " \
           "person gets the test mails too." in result.output
    assert "No recipient but John.Smith@example.org (a test address) got a mail, the outbox " \
           "is unchanged." in result.output
    assert "No recipient got a mail" not in result.output
    assert [m.recipients for m in catcher.snapshot()] == [(ME,), ("John.Smith@example.org",)]


def test_pacing_a_real_send_does_not_go_with_test_to(
        workspace: Path, people: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    result = invite(workspace, port, "send", "--test-to", ME, "--concurrency", "8",
                    "--rate", "30", "--retry-delay", "1", "--max-attempts", "2")
    assert result.exit_code == 1
    assert "Error: --test-to sends samples only; --concurrency, --rate, --retry-delay, " \
           "--max-attempts do not go with it" in result.output
    alone = invite(workspace, port, "send", "--test-to", ME, "--max-attempts", "5")
    assert "Error: --test-to sends samples only; --max-attempts does not go with it" \
        in alone.output
    assert catcher.snapshot() == []
    # --yes asks nothing of a test send, which asks nothing: it is let through.
    assert invite(workspace, port, "send", "--test-to", ME, "--yes").exit_code == 0
    assert len(catcher.snapshot()) == 3
