"""Bounces fed back (#9), end to end: mail goes out through a real aiosmtpd relay with VERP
envelope senders, reports made from the relay's envelopes land in a Maildir and an mbox,
`invite bounces` marks the dead addresses, and status, exports and the next reminder
follow; a second pass changes nothing."""

from __future__ import annotations

import csv
import io
import json
from email import message_from_bytes
from pathlib import Path
from typing import Any

import dkim
import pytest
from typer.testing import CliRunner

from mailer.cli import app
from mailer.delivery import verp
from mailer.delivery.dkim import new_key, record_strings, write_private
from rsvp.store import Store, open_store
from tests.bounce_corpus import sample, write_maildir, write_mbox
from tests.conftest import TEST_KEY, make_workspace, person
from tests.relay import ScriptedRelay, running_relay

PEOPLE = ["anna@partner.example", "bob@partner.example", "carla@partner.example",
          "dora@partner.example", "eve@partner.example", "fred@partner.example"]


@pytest.fixture
def relay() -> Any:
    with running_relay() as running:
        yield running


def environment(port: int, **more: str) -> dict[str, str]:
    return {"INVITE_SECRET_KEY": TEST_KEY, "INVITE_SMTP_HOST": "127.0.0.1",
            "INVITE_SMTP_PORT": str(port), "INVITE_BASE_URL": "https://rsvp.example.org",
            "INVITE_BOUNCE_ADDRESS": "bounces@example.org", **more}


def invite(workspace: Path, env: dict[str, str], *args: str | Path) -> Any:
    return CliRunner().invoke(app, [*map(str, args), "-w", str(workspace)], env=env,
                              catch_exceptions=False)


def sent_mail(catcher: ScriptedRelay) -> dict[str, tuple[str, str]]:
    """(envelope sender, Message-ID) of the mail each person got."""
    found = {}
    for mail in catcher.snapshot():
        found[mail.recipients[0]] = (mail.sender, str(mail.parsed()["Message-ID"]))
    return found


def tables(workspace: Path) -> list[list[Any]]:
    """Every row of the tables a bounce may change."""
    store = open_store(workspace / "invite.db")
    try:
        return [[tuple(row) for row in store.conn.execute(f"SELECT * FROM {name} ORDER BY 1")]
                for name in ("recipients", "bounces", "outbox")]
    finally:
        store.close()


def report(name: str, mail: dict[str, tuple[str, str]], rcpt: str, key: str) -> bytes:
    sender, message_id = mail[rcpt]
    return sample(name, sender, rcpt, message_id, key)


@pytest.fixture
def sent(tmp_path: Path, relay: tuple[ScriptedRelay, int]
         ) -> tuple[Path, dict[str, tuple[str, str]], int, ScriptedRelay]:
    """A workspace (soft_limit 2) whose invitation went to everyone with VERP senders."""
    workspace = make_workspace(tmp_path, "\n[bounces]\nsoft_limit = 2\n")
    catcher, port = relay
    result = invite(workspace, environment(port), "status")  # creates the database
    assert result.exit_code == 0, result.output
    store = open_store(workspace / "invite.db")
    store.add_recipients([person(address, "en") for address in PEOPLE])
    store.close()
    result = invite(workspace, environment(port), "send", "--yes")
    assert result.exit_code == 0, result.output
    return workspace, sent_mail(catcher), port, catcher


def test_each_envelope_sender_names_its_outbox_row_and_the_from_header_is_unchanged(
        sent: tuple[Path, dict[str, tuple[str, str]], int, ScriptedRelay]) -> None:
    workspace, mail, _, catcher = sent
    store = open_store(workspace / "invite.db")
    try:
        rows = {row[0]: row[1] for row in store.conn.execute(
            "SELECT r.email, o.id FROM outbox o JOIN recipients r ON r.id = o.recipient_id")}
    finally:
        store.close()
    assert set(mail) == set(PEOPLE)
    for address, (sender, _) in mail.items():
        assert sender.startswith("bounces+") and sender.endswith("@example.org")
        assert verp.decode(sender, (TEST_KEY,)) == rows[address]
    assert {str(m.parsed()["From"]).split("<")[-1] for m in catcher.snapshot()} == {
        "office@example.org>"}


def test_bounces_are_fed_back_once_and_the_next_reminder_skips_the_dead_addresses(
        sent: tuple[Path, dict[str, tuple[str, str]], int, ScriptedRelay],
        tmp_path: Path) -> None:
    workspace, mail, port, catcher = sent
    anna, bob, carla, dora, eve, fred = PEOPLE
    messages = [
        report("postfix_user_unknown", mail, anna, "a1"),
        report("exchange_o365", mail, bob, "b1"),
        report("postfix_mailbox_full", mail, carla, "c1"),
        report("ooo_de", mail, dora, "d1"),
        report("vague_verp_only", mail, eve, "e1"),  # vague: soft, twice reaches the limit
        report("vague_verp_only", mail, eve, "e2"),
        report("postfix_delayed", mail, fred, "f1"),
        sample("forged_no_proof", rcpt=fred, key="f2"),
        sample("newsletter", key="n1"),
    ]
    env = environment(port)
    first = invite(workspace, env, "bounces", "--maildir", write_maildir(tmp_path / "md", messages))
    assert first.exit_code == 0, first.output
    lines = first.output.splitlines()
    assert lines[0] == ("Read 9 messages: 2 hard bounces, 3 soft, 1 auto-reply, 1 notice, "
                        "0 already seen, 1 unmatched, 1 not understood.")
    assert lines[1] == "Marked bounced, no further mail goes to them (3 people):"
    assert sorted(lines[2:5]) == [
        (f"  {anna}: 550 5.1.1 <{anna}>: Recipient address rejected: User unknown in virtual "
         "mailbox table"),
        (f"  {bob}: 550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP "
         "address lookup"),
        f"  {eve}: soft bounces: 2; last: delivery failed (no reason given)"]
    assert lines[5] == "Soft bounces counted (marked after 2):"
    assert sorted(lines[6:8]) == [
        (f"  {carla}: 452 4.2.2 <{carla}>: Mailbox full, quota exceeded (mailbox for user is "
         "full)"),
        f"  {eve}: delivery failed (no reason given)"]
    assert lines[8:10] == ["Auto-replies (not bounces):", f"  {dora}: Abwesenheitsnotiz: Einladung"]
    assert lines[10].startswith("Bounces that name no mail of this workspace")
    assert lines[11].endswith(f": {fred}")
    assert lines[12] == "Not understood (left alone):"
    assert lines[13].startswith("  maildir:")
    assert lines[13].endswith(": neither a report nor an auto-reply")

    # The same messages exported as an mbox: all seen, nothing changes.
    before = tables(workspace)
    again = invite(workspace, env, "bounces", "--mbox", write_mbox(tmp_path / "b.mbox", messages))
    assert again.exit_code == 0, again.output
    assert again.output.splitlines()[0] == (
        "Read 9 messages: 0 hard bounces, 0 soft, 0 auto-replies, 1 notice, "
        "6 already seen, 1 unmatched, 1 not understood.")
    status = json.loads(invite(workspace, env, "status", "--json").output)
    assert (status["recipients"], status["bounced"]) == (6, 3)
    assert tables(workspace) == before

    # A second soft bounce (another report) reaches the event's soft_limit of 2.
    second = invite(workspace, env, "bounces", "--mbox", write_mbox(
        tmp_path / "c.mbox", [report("postfix_mailbox_full", mail, carla, "c2")]))
    assert f"  {carla}: soft bounces: 2; last: 452 4.2.2" in second.output
    assert json.loads(invite(workspace, env, "status", "--json").output)["bounced"] == 4

    exported = invite(workspace, env, "export", "--what", "recipients")
    rows = {row["email"]: row for row in csv.DictReader(io.StringIO(exported.output.lstrip("\ufeff")))}
    assert rows[anna]["bounced"].startswith("2026-11-30T09:15:02")
    assert rows[anna]["bounce_reason"].startswith("550 5.1.1")
    assert rows[carla]["bounce_reason"].startswith("soft bounces: 2; last: 452 4.2.2")
    assert (rows[dora]["bounced"], rows[dora]["bounce_reason"]) == ("", "")
    responses = invite(workspace, env, "export", "--what", "responses")
    header = responses.output.lstrip("\ufeff").splitlines()[0].split(",")
    assert header[-2:] == ["bounced", "bounce_reason"]

    before = len(catcher.snapshot())
    result = invite(workspace, env, "send", "--mailing", "reminder", "--yes")
    assert result.exit_code == 0, result.output
    reminded = {m.recipients[0] for m in catcher.snapshot()[before:]}
    assert reminded == {dora, fred}


def test_dkim_still_verifies_with_a_verp_envelope_sender(tmp_path: Path,
                                                         relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    workspace = make_workspace(tmp_path)
    pem, key = new_key("ed25519")
    write_private(tmp_path / "k.pem", pem)
    env = environment(port, INVITE_DKIM_KEY_FILE=str(tmp_path / "k.pem"),
                      INVITE_DKIM_SELECTOR="s1")
    assert invite(workspace, env, "status").exit_code == 0
    store = open_store(workspace / "invite.db")
    store.add_recipients([person(PEOPLE[0], "de")])
    store.close()
    assert invite(workspace, env, "send", "--yes").exit_code == 0
    (mail,) = catcher.snapshot()
    assert verp.decode(mail.sender, (TEST_KEY,)) is not None
    record = "".join(record_strings(key)).encode("ascii")
    assert dkim.verify(mail.data, dnsfunc=lambda name, timeout=5: record)
    assert message_from_bytes(mail.data)["Return-Path"] is None  # the relay's to add


def test_without_a_bounce_address_the_envelope_sender_is_the_from_address(
        tmp_path: Path, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    workspace = make_workspace(tmp_path)
    env = environment(port)
    del env["INVITE_BOUNCE_ADDRESS"]
    assert invite(workspace, env, "status").exit_code == 0
    store = open_store(workspace / "invite.db")
    store.add_recipients([person(PEOPLE[0], "de")])
    store.close()
    assert invite(workspace, env, "send", "--yes").exit_code == 0
    assert [mail.sender for mail in catcher.snapshot()] == ["office@example.org"]


def test_invite_bounces_wants_one_mailbox(tmp_path: Path, store: Store, workspace: Path) -> None:
    env = {"INVITE_SECRET_KEY": TEST_KEY}
    none = invite(workspace, env, "bounces")
    assert none.exit_code == 1
    assert none.stderr.splitlines()[0] == ("Error: say where the bounces are: --maildir DIR, "
                                           "--mbox FILE or --imap (one of them)")
    missing = invite(workspace, env, "bounces", "--mbox", tmp_path / "nothing.mbox")
    assert missing.stderr.splitlines()[0] == f"Error: {tmp_path / 'nothing.mbox'} is not a file"
    (tmp_path / "plain").mkdir()
    plain = invite(workspace, env, "bounces", "--maildir", tmp_path / "plain")
    assert plain.stderr.splitlines()[0] == (
        f"Error: {tmp_path / 'plain'} is not a Maildir folder (it has no cur/ and new/)")
