"""Sending on purpose (#10): `invite revoke EMAIL --send` gives a person a working link at
once, `invite send --to EMAIL --again` re-sends to named people, and without `--again`
nobody gets a mailing twice; `--include-maybe` reminds the undecided in their own words.
The CLI against a real relay, the links against the real app."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from mailer.cli import app
from mailer.delivery.outbox import Outbox
from rsvp.config import EventConfig
from rsvp.settings import Settings
from rsvp.store import Store
from rsvp.web.app import create_app
from tests.conftest import BASE_URL, TEST_KEY, person
from tests.relay import ScriptedRelay, running_relay
from tests.test_app import OPEN

ANNA, BEN, CLEO = "anna@example.org", "ben@example.org", "cleo@example.org"
ANSWER_LINK = re.compile(re.escape(BASE_URL) + r"(/r/\S+)")


@pytest.fixture
def relay() -> Iterator[tuple[ScriptedRelay, int]]:
    with running_relay() as running:
        yield running


@pytest.fixture
def people(store: Store) -> Store:
    store.add_recipients([person(ANNA, "de", first_name="Anna", last_name="Schmidt"),
                          person(BEN, "en", first_name="Ben", last_name="Martin"),
                          person(CLEO, "en", first_name="Cleo", last_name="Jones")])
    return store


def cli(workspace: Path, port: int, *args: str) -> Any:
    env = {"INVITE_SECRET_KEY": TEST_KEY, "INVITE_SMTP_HOST": "127.0.0.1",
           "INVITE_SMTP_PORT": str(port), "INVITE_BASE_URL": BASE_URL}
    return CliRunner().invoke(app, [*args, "-w", str(workspace)], env=env,
                              catch_exceptions=False)


def texts(relay: ScriptedRelay, address: str) -> list[str]:
    found = []
    for caught in relay.to(address):
        message = email.message_from_bytes(caught.data, policy=email.policy.default)
        found.append(message.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    return found


def link_in(text: str) -> str:
    found = ANSWER_LINK.search(text)
    assert found is not None
    return found.group(1)


def test_revoke_send_gives_a_working_link_at_once(
        workspace: Path, settings: Settings, event: EventConfig, people: Store,
        relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    assert cli(workspace, port, "send", "--yes").exit_code == 0
    revoked = cli(workspace, port, "revoke", ANNA, "--send", "--yes")
    assert revoked.exit_code == 0, revoked.output
    assert "Links of anna@example.org revoked (now version 2)." in revoked.stdout
    first, fresh = texts(catcher, ANNA)
    assert first.splitlines()[2:5] == fresh.splitlines()[2:5]  # the same invitation
    client = TestClient(create_app(settings, event, people, clock=lambda: OPEN))
    assert client.get(link_in(first)).status_code in (400, 410)
    assert client.get(link_in(fresh)).status_code == 200
    assert [len(catcher.to(a)) for a in (ANNA, BEN, CLEO)] == [2, 1, 1]
    rows = {(r["email"], r["mailing"]): (r["state"], r["attempts"])
            for r in Outbox(people).export_rows()}
    assert rows[(ANNA, "invitation")] == ("sent", 2)  # one row, its attempts kept


def test_revoke_send_sends_the_last_mail_that_still_applies(
        workspace: Path, people: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    cli(workspace, port, "send", "--yes")
    cli(workspace, port, "send", "--mailing", "reminder", "--yes")
    people.record_answer(people.find_recipient(BEN).id, "yes", {}, "web")
    cli(workspace, port, "revoke", CLEO, "--send", "--yes")  # no answer yet: the reminder
    cli(workspace, port, "revoke", BEN, "--send", "--yes")  # answered: the invitation
    assert "We have not heard from you yet" in " ".join(texts(catcher, CLEO)[-1].split())
    assert "We have not heard" not in " ".join(texts(catcher, BEN)[-1].split())
    assert [len(catcher.to(a)) for a in (BEN, CLEO)] == [3, 3]


def test_revoke_send_to_someone_never_mailed_changes_nothing(
        workspace: Path, people: Store, relay: tuple[ScriptedRelay, int]) -> None:
    _, port = relay
    result = cli(workspace, port, "revoke", ANNA, "--send", "--yes")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        ("Error: nothing was ever sent to anna@example.org, so there is nothing to send "
         "again; the links were not revoked"),
        "Hint: Revoke without --send: their first mail carries new links."]
    assert people.find_recipient(ANNA).token_version == 1


def test_to_without_again_never_sends_twice_and_says_how(
        workspace: Path, people: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    cli(workspace, port, "send", "--yes", "--to", ANNA)
    plain = cli(workspace, port, "send", "--yes", "--to", ANNA, "--to", BEN)
    assert plain.exit_code == 0
    assert plain.stderr.splitlines()[:2] == [
        "Note: anna@example.org already got the invitation and will not get it twice.",
        "Hint: add --again to send it to them once more on purpose."]
    assert [len(catcher.to(a)) for a in (ANNA, BEN, CLEO)] == [1, 1, 0]
    again = cli(workspace, port, "send", "--yes", "--to", ANNA, "--again")
    assert again.exit_code == 0, again.output
    assert [len(catcher.to(a)) for a in (ANNA, BEN, CLEO)] == [2, 1, 0]


def test_again_needs_to_and_a_declined_question_leaves_nothing_queued(
        workspace: Path, people: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    alone = cli(workspace, port, "send", "--yes", "--again")
    assert alone.exit_code == 1
    assert alone.stderr.splitlines()[0] == (
        "Error: --again sends a mailing once more only to people named with --to")
    cli(workspace, port, "send", "--yes")
    asked = cli(workspace, port, "send", "--to", ANNA, "--again")  # no terminal to say yes
    assert asked.exit_code == 1
    assert "No invitations to send." in cli(workspace, port, "send", "--yes").stdout
    assert len(catcher.to(ANNA)) == 1


def test_include_maybe_reminds_the_undecided_in_their_own_words(
        workspace: Path, people: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    cli(workspace, port, "send", "--yes")
    people.record_answer(people.find_recipient(BEN).id, "maybe", {}, "web")
    people.record_answer(people.find_recipient(ANNA).id, "yes", {}, "web")
    cli(workspace, port, "send", "--mailing", "reminder", "--yes")
    assert [len(catcher.to(a)) for a in (ANNA, BEN, CLEO)] == [1, 1, 2]
    widened = cli(workspace, port, "send", "--mailing", "reminder", "--include-maybe", "--yes")
    assert widened.exit_code == 0, widened.output
    assert [len(catcher.to(a)) for a in (ANNA, BEN, CLEO)] == [1, 2, 2]
    maybe, unanswered = texts(catcher, BEN)[-1], texts(catcher, CLEO)[-1]
    assert "you told us that you might attend" in " ".join(maybe.split())
    assert "We have not heard from you yet" in " ".join(unanswered.split())
    wrong = cli(workspace, port, "send", "--mailing", "invitation", "--include-maybe")
    assert wrong.exit_code == 1
    assert wrong.stderr.splitlines()[0] == (
        "Error: --include-maybe works with --mailing reminder only")


def outbox_state(store: Store, address: str, mailing: str) -> str:
    return {(r["email"], r["mailing"]): r["state"] for r in Outbox(store).export_rows()}[
        (address, mailing)]


def test_again_leaves_out_whom_the_mailing_no_longer_applies_to_and_keeps_the_record(
        workspace: Path, people: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    cli(workspace, port, "send", "--yes")
    cli(workspace, port, "send", "--mailing", "reminder", "--yes")
    people.record_answer(people.find_recipient(CLEO).id, "yes", {}, "web")
    reminded = cli(workspace, port, "send", "--mailing", "reminder", "--to", CLEO, "--again",
                   "--yes")
    assert reminded.exit_code == 0, reminded.output
    assert ("cleo@example.org: no longer due for the reminder (they answered); not sent "
            "again") in reminded.stderr.splitlines()
    assert len(catcher.to(CLEO)) == 2
    assert outbox_state(people, CLEO, "reminder") == "sent"


def test_again_sends_no_confirmation_to_someone_who_withdrew_and_keeps_it_sent(
        workspace: Path, people: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    people.record_answer(people.find_recipient(ANNA).id, "yes", {}, "web")
    cli(workspace, port, "admit", ANNA)
    cli(workspace, port, "send", "--mailing", "confirmation", "--yes")
    cli(workspace, port, "record", ANNA, "--attendance", "no")  # withdrawn, not yet told
    again = cli(workspace, port, "send", "--mailing", "confirmation", "--to", ANNA, "--again",
                "--yes")
    assert ("anna@example.org: no longer due for the confirmation (their decision changed); "
            "not sent again") in again.stderr.splitlines()
    assert outbox_state(people, ANNA, "confirmation") == "sent"
    assert len(catcher.to(ANNA)) == 1
    cli(workspace, port, "send", "--mailing", "withdrawal", "--yes")
    assert len(catcher.to(ANNA)) == 2  # acknowledged, as someone told of a place


def test_a_deferred_copy_sent_again_is_put_back_as_it_was(
        workspace: Path, people: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    cli(workspace, port, "send", "--yes", "--to", ANNA)
    catcher.refuse_rcpt[ANNA] = "451 4.3.0 try later"
    deferred = cli(workspace, port, "send", "--yes", "--to", ANNA, "--again")
    assert "Deferred: anna@example.org: 451 4.3.0 try later" in deferred.stderr
    assert outbox_state(people, ANNA, "invitation") == "sent"
    del catcher.refuse_rcpt[ANNA]
    cli(workspace, port, "send", "--yes")  # the others; no unasked second copy for Anna
    assert [len(catcher.to(a)) for a in (ANNA, BEN, CLEO)] == [1, 1, 1]


def test_revoke_send_asks_before_it_revokes_anything(
        workspace: Path, people: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    cli(workspace, port, "send", "--yes")
    asked = cli(workspace, port, "revoke", ANNA, "--send")  # no terminal to say yes
    assert asked.exit_code == 1
    assert asked.stderr.splitlines() == [
        "Error: `invite revoke` needs --yes when it cannot ask (no terminal)",
        (f"Hint: Add --yes to answer yes to: Revoke the links of anna@example.org, then send 1 "
         f"invitation via 127.0.0.1:{port} (STARTTLS if offered) with links to {BASE_URL}?")]
    assert people.find_recipient(ANNA).token_version == 1  # the old link still works
    assert len(catcher.to(ANNA)) == 1


@pytest.mark.parametrize("reply", ["n", "y"])
def test_revoke_send_at_a_terminal_revokes_only_when_answered_yes(
        workspace: Path, people: Store, relay: tuple[ScriptedRelay, int],
        monkeypatch: pytest.MonkeyPatch, reply: str) -> None:
    catcher, port = relay
    cli(workspace, port, "send", "--yes")
    terminal = SimpleNamespace(stdin=SimpleNamespace(isatty=lambda: True))
    monkeypatch.setattr("mailer.cli.common.sys", terminal)
    asked = CliRunner().invoke(
        app, ["revoke", ANNA, "--send", "-w", str(workspace)], input=f"{reply}\n",
        env={"INVITE_SECRET_KEY": TEST_KEY, "INVITE_SMTP_HOST": "127.0.0.1",
             "INVITE_SMTP_PORT": str(port), "INVITE_BASE_URL": BASE_URL})
    assert asked.exit_code == 0, asked.output
    assert "Revoke the links of anna@example.org, then send 1 invitation" in asked.stdout
    if reply == "n":
        assert "Nothing changed: the links of anna@example.org still work." in asked.stdout
        assert (people.find_recipient(ANNA).token_version, len(catcher.to(ANNA))) == (1, 1)
    else:
        assert "Links of anna@example.org revoked (now version 2)." in asked.stdout
        assert (people.find_recipient(ANNA).token_version, len(catcher.to(ANNA))) == (2, 2)
