"""Withdrawals (#10): an admitted person who says no frees the place, the organiser is told
at the next command, and the person gets one acknowledgement instead of further
confirmations or updates. Answers on the real app, mails at a real relay, the CLI."""

from __future__ import annotations

import csv
import email
import email.policy
import io
import json
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from mailer.cli import app
from mailer.delivery.outbox import Outbox
from rsvp.config import EventConfig, load_event
from rsvp.settings import Settings
from rsvp.store import Store
from rsvp.tokens import ANSWER, LinkSigner
from rsvp.web.app import create_app
from tests.conftest import BASE_URL, TEST_KEY, person
from tests.relay import ScriptedRelay, running_relay
from tests.test_app import OPEN

ADA, BEN, CLEO = "ada@example.org", "ben@example.org", "cleo@example.org"
PEOPLE = [person(ADA, "de", salutation="Frau", first_name="Ada", last_name="Lovelace",
                 role="company"),
          person(BEN, "en", first_name="Ben", last_name="Martin", role="company"),
          person(CLEO, "fr", salutation="Mme", first_name="Cléo", last_name="Jones",
                 role="network_manager")]


@pytest.fixture
def relay() -> Iterator[tuple[ScriptedRelay, int]]:
    with running_relay() as running:
        yield running


@pytest.fixture
def people(store: Store) -> Store:
    store.add_recipients(PEOPLE)
    return store


def cli(workspace: Path, port: int, *args: str) -> Any:
    env = {"INVITE_SECRET_KEY": TEST_KEY, "INVITE_SMTP_HOST": "127.0.0.1",
           "INVITE_SMTP_PORT": str(port), "INVITE_BASE_URL": BASE_URL}
    result = CliRunner().invoke(app, [*args, "-w", str(workspace)], env=env,
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def answer(client: TestClient, settings: Settings, store: Store, address: str,
           attendance: str) -> None:
    who = store.find_recipient(address)
    link = LinkSigner(settings.secret_keys).sign(ANSWER, who.id, store.event_id,
                                                 who.token_version)
    assert client.post(f"/r/{link}", data={"attendance": attendance}).status_code == 200


def received(relay: ScriptedRelay, address: str) -> list[EmailMessage]:
    return [email.message_from_bytes(m.data, policy=email.policy.default)  # type: ignore[misc]
            for m in relay.to(address)]


def test_an_admitted_no_frees_the_place_and_is_acknowledged_once(
        workspace: Path, settings: Settings, event: EventConfig, people: Store,
        relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    client = TestClient(create_app(settings, event, people, clock=lambda: OPEN))
    for address in (ADA, BEN, CLEO):
        answer(client, settings, people, address, "yes")
    cli(workspace, port, "admit", ADA, BEN, CLEO)
    cli(workspace, port, "send", "--mailing", "confirmation", "--yes", "--to", ADA, "--to", CLEO)

    answer(client, settings, people, ADA, "no")   # told she had a place
    answer(client, settings, people, BEN, "no")   # admitted, never told
    answer(client, settings, people, CLEO, "maybe")  # undecided: keeps the place

    status = cli(workspace, port, "status", "--json")
    assert status.stderr.splitlines() == [
        ("Note: 2 admitted people withdrew since you last looked, so their places are "
         "free: Ada Lovelace <ada@example.org>, Ben Martin <ben@example.org> "
         "(invite status --people)")]
    data = json.loads(status.stdout)
    assert data["quotas"]["company"] == {"quota": 2, "yes": 0, "admitted": 0,
                                         "waitlisted": 0, "withdrawn": 2}
    assert data["withdrawn"] == 2
    assert cli(workspace, port, "status").stderr == ""  # told once
    assert "Withdrawn: 2 admitted people said no since" in cli(workspace, port, "status").stdout
    exported = cli(workspace, port, "export", "--what", "responses")
    rows = csv.DictReader(io.StringIO(exported.stdout.lstrip("\ufeff")))
    assert {row["email"]: row["admission"] for row in rows} == {
        ADA: "withdrawn", BEN: "withdrawn", CLEO: "admitted"}

    # No calendar update for those who withdrew, and no late confirmation for Ben.
    assert "No confirmations to send." in cli(workspace, port, "send", "--mailing",
                                               "confirmation", "--yes").stdout
    cli(workspace, port, "send", "--mailing", "update", "--yes")
    assert [m.recipients for m in catcher.snapshot()[2:]] == [(CLEO,)]

    cli(workspace, port, "send", "--mailing", "withdrawal", "--yes")
    [_, acknowledgement] = received(catcher, ADA)
    assert str(acknowledgement["Subject"]) == "Ihre Absage zu „Testtreffen“"
    body = acknowledgement.get_body(("plain",)).get_content()
    assert "Wir haben Ihren Platz storniert" in body
    assert acknowledgement.get_content_type() == "multipart/alternative"  # no calendar
    assert received(catcher, BEN) == []  # never told of a place: nothing to take back
    again = cli(workspace, port, "send", "--mailing", "withdrawal", "--yes")
    assert "No withdrawal acknowledgements to send." in again.stdout


def test_a_yes_again_before_the_acknowledgement_cancels_it(
        workspace: Path, settings: Settings, event: EventConfig, people: Store,
        relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    client = TestClient(create_app(settings, event, people, clock=lambda: OPEN))
    answer(client, settings, people, ADA, "yes")
    cli(workspace, port, "admit", ADA)
    cli(workspace, port, "send", "--mailing", "confirmation", "--yes")
    catcher.refuse_rcpt[ADA] = "451 4.3.0 try later"  # the acknowledgement waits
    answer(client, settings, people, ADA, "no")
    result = CliRunner().invoke(
        app, ["send", "--mailing", "withdrawal", "--yes", "-w", str(workspace)],
        env={"INVITE_SECRET_KEY": TEST_KEY, "INVITE_SMTP_HOST": "127.0.0.1",
             "INVITE_SMTP_PORT": str(port), "INVITE_BASE_URL": BASE_URL})
    assert "Deferred: ada@example.org" in result.output
    del catcher.refuse_rcpt[ADA]
    answer(client, settings, people, ADA, "yes")  # changed her mind: an application again
    assert people.find_recipient(ADA).admission is None
    assert "No withdrawal acknowledgements to send." in cli(
        workspace, port, "send", "--mailing", "withdrawal", "--yes").stdout
    rows = {(r["email"], r["mailing"]): (r["state"], r["last_reply"])
            for r in Outbox(people).export_rows()}
    assert rows[(ADA, "withdrawal")] == ("cancelled", "decision changed")
    assert len(catcher.to(ADA)) == 1


def test_invite_record_of_a_no_says_the_place_is_free_and_is_not_told_again(
        workspace: Path, people: Store, relay: tuple[ScriptedRelay, int]) -> None:
    _, port = relay
    cli(workspace, port, "record", ADA, "--attendance", "yes")
    cli(workspace, port, "admit", ADA)
    recorded = cli(workspace, port, "record", ADA, "--attendance", "no")
    assert recorded.stdout.splitlines() == [
        "Recorded for ada@example.org: no.",
        "ada@example.org: withdrawn; their place is free again"]
    assert cli(workspace, port, "status").stderr == ""
    assert cli(workspace, port, "record", ADA, "--attendance", "yes").stdout.splitlines() == [
        "Recorded for ada@example.org: yes.",
        "ada@example.org: applies again; yours to decide (invite admit)"]


def subjects(relay: ScriptedRelay, address: str) -> list[str]:
    return [str(message["Subject"]) for message in received(relay, address)]


CONFIRMED = "Bestätigung Ihrer Teilnahme: „Testtreffen“ – 10.04.2030"
WITHDREW = "Ihre Absage zu „Testtreffen“"


def test_a_withdrawn_person_who_applies_again_and_is_admitted_is_confirmed_again(
        workspace: Path, settings: Settings, event: EventConfig, people: Store,
        relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    client = TestClient(create_app(settings, event, people, clock=lambda: OPEN))
    answer(client, settings, people, ADA, "yes")
    cli(workspace, port, "admit", ADA)
    cli(workspace, port, "send", "--mailing", "confirmation", "--yes")
    answer(client, settings, people, ADA, "no")
    cli(workspace, port, "send", "--mailing", "withdrawal", "--yes")

    answer(client, settings, people, ADA, "yes")  # an applicant again, for the organiser
    assert people.find_recipient(ADA).admission is None
    cli(workspace, port, "admit", ADA)
    cli(workspace, port, "send", "--mailing", "confirmation", "--yes")
    cli(workspace, port, "send", "--mailing", "update", "--yes")
    assert subjects(catcher, ADA)[:3] == [CONFIRMED, WITHDREW, CONFIRMED]
    assert len(subjects(catcher, ADA)) == 4  # and the update, as confirmed again

    answer(client, settings, people, ADA, "no")  # a second withdrawal is acknowledged too
    assert people.find_recipient(ADA).admission == "withdrawn"
    cli(workspace, port, "send", "--mailing", "withdrawal", "--yes")
    assert "No withdrawal acknowledgements to send." in cli(
        workspace, port, "send", "--mailing", "withdrawal", "--yes").stdout
    assert subjects(catcher, ADA)[4:] == [WITHDREW]


def test_first_come_a_withdrawn_person_taking_a_place_again_is_confirmed_again(
        workspace: Path, settings: Settings, people: Store,
        relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    path = workspace / "event.toml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        'admission = "selection"', 'admission = "first-come"'), encoding="utf-8")
    client = TestClient(create_app(settings, load_event(path), people, clock=lambda: OPEN))
    answer(client, settings, people, ADA, "yes")  # a place at once
    cli(workspace, port, "send", "--mailing", "confirmation", "--yes")
    answer(client, settings, people, ADA, "no")
    cli(workspace, port, "send", "--mailing", "withdrawal", "--yes")
    answer(client, settings, people, ADA, "yes")  # the place is free: hers again
    assert people.find_recipient(ADA).admission == "admitted"
    cli(workspace, port, "send", "--mailing", "confirmation", "--yes")
    assert subjects(catcher, ADA) == [CONFIRMED, WITHDREW, CONFIRMED]
