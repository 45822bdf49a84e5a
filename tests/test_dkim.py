"""DKIM (#9): every mail a real aiosmtpd relay receives verifies with dkimpy against the
published key, 8bit and quoted-printable, in every language; and `invite dkim`."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import dkim
import pytest
from typer.testing import CliRunner

from mailer.cli import app
from mailer.delivery.dkim import new_key, record_strings, write_private
from mailer.delivery.outbox import Outbox
from rsvp.store import Store
from tests.conftest import TEST_KEY, person
from tests.relay import ScriptedRelay, running_relay

PEOPLE = [
    person("anna.schmidt@example.org", "de", salutation="Frau", title="Dr.", first_name="Anna",
           last_name="Schmidt", role="network_manager"),
    person("helene.lefevre@example.org", "fr", salutation="Mme", first_name="Hélène",
           last_name="Lefèvre", role="company"),
    person("john.smith@example.org", "en", salutation="Mr", first_name="John", last_name="Smith"),
]
SELECTOR = "invite2030"
MUST_SIGN = {"from", "to", "subject", "date", "message-id", "mime-version", "content-type",
             "list-unsubscribe", "list-unsubscribe-post", "list-id", "reply-to"}


@pytest.fixture
def relay() -> Any:
    with running_relay() as running:
        yield running


def environment(port: int, key_file: Path | None, **more: str) -> dict[str, str]:
    env = {"INVITE_SECRET_KEY": TEST_KEY, "INVITE_SMTP_HOST": "127.0.0.1",
           "INVITE_SMTP_PORT": str(port), "INVITE_BASE_URL": "https://rsvp.example.org",
           "INVITE_DKIM_SELECTOR": SELECTOR, **more}
    if key_file is not None:
        env["INVITE_DKIM_KEY_FILE"] = str(key_file)
    return env


def invite(workspace: Path, env: dict[str, str], *args: str) -> Any:
    return CliRunner().invoke(app, [*args, "-w", str(workspace)], env=env,
                              catch_exceptions=False)


def key_file(tmp_path: Path, kind: str) -> tuple[Path, str]:
    """A fresh key in a file, and its DNS record's value as a resolver returns it."""
    pem, key = new_key(kind)
    path = tmp_path / f"{kind}.pem"
    write_private(path, pem)
    return path, "".join(record_strings(key))


def verifies(data: bytes, record: str, name: str = f"{SELECTOR}._domainkey.example.org."
             ) -> bool:
    def dns(query: bytes, timeout: int = 5) -> bytes:
        return record.encode("ascii") if query.decode("ascii") == name else b""
    return bool(dkim.verify(data, dnsfunc=dns))


def signed_headers(data: bytes) -> set[str]:
    head = data.split(b"\r\n\r\n", 1)[0].decode("ascii")
    field = re.search(r"(?:^|\r\n)DKIM-Signature:(.*?)(?=\r\n\S)", head, re.DOTALL)
    assert field is not None
    tags = dict(tag.strip().split("=", 1) for tag in field.group(1).split(";") if "=" in tag)
    assert tags["c"] == "relaxed/relaxed"
    assert tags["d"] == "example.org" and tags["s"] == SELECTOR
    return {name.strip().lower() for name in re.sub(r"\s", "", tags["h"]).split(":")}


def encodings(data: bytes) -> set[str]:
    """The transfer encodings of the text parts (a calendar is always base64)."""
    found = re.findall(rb"Content-Transfer-Encoding: ([\w-]+)", data)
    return {name.decode("ascii") for name in found} - {"base64"}


@pytest.mark.parametrize("kind", ["rsa", "ed25519"])
@pytest.mark.parametrize("eight_bit", [True, False], ids=["8bit", "quoted-printable"])
def test_every_mailing_in_every_language_verifies_on_the_bytes_the_relay_got(
        workspace: Path, store: Store, relay: tuple[ScriptedRelay, int], tmp_path: Path,
        kind: str, eight_bit: bool) -> None:
    catcher, port = relay
    catcher.offer_8bitmime = eight_bit
    path, record = key_file(tmp_path, kind)
    env = environment(port, path)
    store.add_recipients(PEOPLE)
    for mailing in ("invitation", "reminder"):
        result = invite(workspace, env, "send", "--mailing", mailing, "--yes")
        assert result.exit_code == 0, result.output
    for item in PEOPLE:
        store.record_answer(store.find_recipient(item.email).id, "yes", {}, "web")
    assert invite(workspace, env, "admit", *(p.email for p in PEOPLE)).exit_code == 0
    result = invite(workspace, env, "send", "--mailing", "confirmation", "--yes")
    assert result.exit_code == 0, result.output

    mails = catcher.snapshot()
    assert len(mails) == 9  # three mailings, three languages
    expected = {"8bit"} if eight_bit else {"quoted-printable"}
    for mail in mails:
        assert mail.data.startswith(b"DKIM-Signature: ")
        assert verifies(mail.data, record), mail.data[:600]
        assert MUST_SIGN <= signed_headers(mail.data)
        assert encodings(mail.data) == expected
    languages = {str(m.parsed()["Content-Language"]) for m in mails}
    assert languages == {"de", "fr", "en"}
    confirmations = [m for m in mails if m.parsed().get_content_type() == "multipart/mixed"]
    assert len(confirmations) == 3
    assert all(next(m.parsed().iter_attachments()).get_filename() == "invite.ics"
               for m in confirmations)


def test_a_changed_body_or_header_fails_verification(
        workspace: Path, store: Store, relay: tuple[ScriptedRelay, int], tmp_path: Path) -> None:
    catcher, port = relay
    path, record = key_file(tmp_path, "rsa")
    store.add_recipients(PEOPLE[:1])
    assert invite(workspace, environment(port, path), "send", "--yes").exit_code == 0
    [mail] = catcher.snapshot()
    assert verifies(mail.data, record)
    head, body = mail.data.split(b"\r\n\r\n", 1)
    assert b"Schmidt" in body
    assert not verifies(head + b"\r\n\r\n" + body.replace(b"Schmidt", b"Schmitt", 1), record)
    assert not verifies(head + b"\r\n\r\n" + body.replace(b"https://", b"http://", 1), record)
    assert not verifies(mail.data.replace(b"Subject: ", b"Subject: Re: ", 1), record)
    # relaxed canonicalisation: folding whitespace a relay may change does not matter
    assert verifies(head.replace(b"MIME-Version: 1.0", b"MIME-Version:  1.0") + b"\r\n\r\n"
                    + body, record)
    # another key published under the same name does not verify it
    (tmp_path / "other").mkdir()
    assert not verifies(mail.data, key_file(tmp_path / "other", "rsa")[1])


def test_without_a_key_no_mail_is_signed(workspace: Path, store: Store,
                                         relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    store.add_recipients(PEOPLE[:1])
    env = environment(port, None)
    del env["INVITE_DKIM_SELECTOR"]
    assert invite(workspace, env, "send", "--yes").exit_code == 0
    assert b"DKIM-Signature" not in catcher.snapshot()[0].data


def test_a_bad_key_file_stops_send_before_anything_is_queued(
        workspace: Path, store: Store, relay: tuple[ScriptedRelay, int], tmp_path: Path) -> None:
    catcher, port = relay
    store.add_recipients(PEOPLE)
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
    result = invite(workspace, environment(port, bad), "send", "--yes")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith(f"Error: INVITE_DKIM_KEY_FILE '{bad}' is not a PEM private key")
    assert lines[1].startswith("Hint: Set INVITE_DKIM_KEY_FILE to a PEM private key")
    missing = invite(workspace, environment(port, tmp_path / "none.pem"), "send", "--yes")
    assert missing.exit_code == 1
    assert f"'{tmp_path / 'none.pem'}', which cannot be read" in missing.output
    path, _ = key_file(tmp_path, "ed25519")
    no_selector = invite(workspace, environment(port, path, INVITE_DKIM_SELECTOR=""),
                         "send", "--yes")
    assert no_selector.output.startswith(
        "Error: INVITE_DKIM_KEY_FILE is set but INVITE_DKIM_SELECTOR is not\n")
    assert catcher.snapshot() == []
    assert list(Outbox(store).export_rows()) == []


def test_dkim_new_writes_a_private_key_and_prints_the_record(workspace: Path,
                                                             tmp_path: Path) -> None:
    result = invite(workspace, {}, "dkim", "new", "--selector", SELECTOR)
    assert result.exit_code == 0, result.output
    target = workspace / f"dkim-{SELECTOR}.pem"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    lines = result.output.splitlines()
    assert lines[0] == f"Wrote the private key (RSA 2048 bits) to {target} (mode 0600)."
    assert lines[1] == "Publish this TXT record in DNS:"
    assert lines[2] == f"  name:  {SELECTOR}._domainkey.example.org"
    strings = re.findall(r'"([^"]*)"', lines[3])
    assert len(strings) == 2 and len(strings[0]) == 255
    assert strings[0].startswith("v=DKIM1; k=rsa; p=MIIBIjAN")
    assert lines[4:] == ["Then set:", f"  INVITE_DKIM_KEY_FILE={target.resolve()}",
                         f"  INVITE_DKIM_SELECTOR={SELECTOR}"]
    bad = invite(workspace, {}, "dkim", "new", "--selector", "no good")
    assert bad.output.startswith("Error: the DKIM selector 'no good' is not a DNS name\n")
    again = invite(workspace, {}, "dkim", "new", "--selector", SELECTOR)
    assert again.exit_code == 1
    assert again.output.startswith(f"Error: {target} exists; it was not changed\n")

    out = tmp_path / "ed.pem"
    ed = invite(workspace, {}, "dkim", "new", "--selector", "ed", "--type", "ed25519",
                "--domain", "mail.example.org", "-o", str(out))
    assert ed.exit_code == 0, ed.output
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert "  name:  ed._domainkey.mail.example.org" in ed.output
    assert re.search(r'  value: "v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}="\n', ed.output)
    assert ed.output.endswith("  INVITE_DKIM_DOMAIN=mail.example.org\n")


def test_a_key_from_dkim_new_signs_mail_that_verifies_with_the_printed_record(
        workspace: Path, store: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    made = invite(workspace, {}, "dkim", "new", "--selector", SELECTOR, "--type", "ed25519")
    record = "".join(re.findall(r'"([^"]*)"', made.output))
    store.add_recipients(PEOPLE[1:2])
    env = environment(port, workspace / f"dkim-{SELECTOR}.pem")
    assert invite(workspace, env, "send", "--yes").exit_code == 0
    assert verifies(catcher.snapshot()[0].data, record)


def test_dkim_check_says_what_to_publish_and_what_is_missing(workspace: Path,
                                                             tmp_path: Path) -> None:
    path, record = key_file(tmp_path, "ed25519")
    good = invite(workspace, environment(25, path), "dkim", "check")
    assert good.exit_code == 0, good.output
    assert good.output.splitlines() == [
        f"Key: {path} (Ed25519)",
        f"Signing as d=example.org, s={SELECTOR}, for From office@example.org.",
        "Publish this TXT record in DNS:",
        f"  name:  {SELECTOR}._domainkey.example.org",
        f'  value: "{record}"',
        "A test message signed with this key verifies (dkimpy) against this record.",
        "Every message of `invite send` will be signed."]

    other = invite(workspace, environment(25, path, INVITE_DKIM_DOMAIN="example.net"),
                   "dkim", "check")
    assert other.exit_code == 0
    assert ("Warning: the DKIM domain example.net is not that of the From address "
            "office@example.org nor a parent of it: DMARC does not count this signature "
            "as aligned.") in other.output
    assert f"  name:  {SELECTOR}._domainkey.example.net" in other.output
    parent = invite(workspace, environment(25, path, INVITE_DKIM_DOMAIN="EXAMPLE.org."),
                    "dkim", "check")
    assert parent.exit_code == 0 and "Warning" not in parent.output
    tld = invite(workspace, environment(25, path, INVITE_DKIM_DOMAIN="org"), "dkim", "check")
    assert tld.exit_code == 1
    assert tld.output.startswith("Error: the DKIM domain 'org' is not a domain name\n")

    no_selector = invite(workspace, environment(25, path, INVITE_DKIM_SELECTOR=""),
                         "dkim", "check")
    assert no_selector.exit_code == 1
    assert no_selector.output.splitlines()[0] == (
        "Error: INVITE_DKIM_KEY_FILE is set but INVITE_DKIM_SELECTOR is not")

    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key\n")
    unparsable = invite(workspace, environment(25, garbage), "dkim", "check")
    assert unparsable.exit_code == 1
    assert unparsable.output.startswith(
        f"Error: INVITE_DKIM_KEY_FILE '{garbage}' is not a PEM private key without a password")

    off = invite(workspace, {}, "dkim", "check")
    assert off.exit_code == 0
    assert off.output.startswith("DKIM signing is off: INVITE_DKIM_KEY_FILE is not set.\n")
