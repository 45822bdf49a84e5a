"""First-come decisions told by the background sender: answers on the real app, mails that
arrived at a real relay, and `invite send` for everything the background leaves alone."""

from __future__ import annotations

import email
import email.policy
import logging
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from mailer.cli.catcher import free_port
from mailer.delivery.background import BackgroundSender
from mailer.delivery.lock import sender_lock
from mailer.delivery.outbox import Outbox
from rsvp.config import EventConfig, load_event
from rsvp.settings import Settings, load_settings
from rsvp.store import Store
from rsvp.tokens import ANSWER, LinkSigner
from rsvp.web.app import create_app
from tests.conftest import person
from tests.relay import ScriptedRelay, running_relay
from tests.test_app import OPEN
from tests.test_background import answer_link, environment, invite, serving, wait_for

ADA, BEN, CLEO = "ada@example.org", "ben@example.org", "cleo@example.org"
PEOPLE = [person(ADA, "de", salutation="Frau", first_name="Ada", last_name="Lovelace",
                 role="company"),
          person(BEN, "fr", salutation="M.", first_name="Ben", last_name="Martin",
                 role="company"),
          person(CLEO, "en", first_name="Cleo", last_name="Jones", role="network_manager")]


@pytest.fixture
def relay() -> Iterator[tuple[ScriptedRelay, int]]:
    with running_relay() as running:
        yield running


def with_admission(workspace: Path, admission: str) -> EventConfig:
    """The test event under `admission`, with one place for a company."""
    path = workspace / "event.toml"
    text = path.read_text(encoding="utf-8").replace('admission = "selection"',
                                                    f'admission = "{admission}"')
    path.write_text(text.replace("company = 2", "company = 1"), encoding="utf-8")
    return load_event(path)


@pytest.fixture
def first_come(workspace: Path) -> EventConfig:
    return with_admission(workspace, "first-come")


@pytest.fixture
def people(store: Store) -> Store:
    store.add_recipients(PEOPLE)
    return store


@pytest.fixture
def background(workspace: Path, first_come: EventConfig,
               relay: tuple[ScriptedRelay, int]) -> Iterator[BackgroundSender]:
    sender = BackgroundSender(load_settings(workspace, environment(relay[1])), first_come)
    yield sender
    sender.stop()


def web(settings: Settings, event: EventConfig, store: Store) -> TestClient:
    return TestClient(create_app(settings, event, store, clock=lambda: OPEN))


def answer(client: TestClient, settings: Settings, store: Store, address: str,
           attendance: str) -> None:
    """Answer on the RSVP page with the person's own signed link."""
    who = store.find_recipient(address)
    link = LinkSigner(settings.secret_keys).sign(ANSWER, who.id, store.event_id, who.token_version)
    assert client.post(f"/r/{link}", data={"attendance": attendance}).status_code == 200


def received(relay: ScriptedRelay, address: str) -> list[EmailMessage]:
    return [email.message_from_bytes(m.data, policy=email.policy.default)  # type: ignore[misc]
            for m in relay.to(address)]


def calendar_parts(message: EmailMessage) -> list[Any]:
    """The inline calendars (the same calendar is attached as `invite.ics` as well)."""
    return [part for part in message.walk() if part.get_content_type() == "text/calendar"
            and part.get_content_disposition() != "attachment"]


def outbox_rows(store: Store) -> dict[tuple[str, str], str]:
    return {(r["email"], r["mailing"]): r["state"] for r in Outbox(store).export_rows()}


def test_each_first_come_decision_is_told_at_the_next_round_and_only_once(
        settings: Settings, first_come: EventConfig, people: Store,
        relay: tuple[ScriptedRelay, int], background: BackgroundSender) -> None:
    catcher, _ = relay
    client = web(settings, first_come, people)
    assert background.run_round().outcome == "idle"

    answer(client, settings, people, ADA, "yes")  # the one company place
    done = background.run_round()
    assert (done.outcome, done.queued, done.sent) == ("sent", 1, {"confirmation": 1})
    [confirmation] = received(catcher, ADA)
    assert str(confirmation["Subject"]).startswith("Bestätigung Ihrer Teilnahme: „Testtreffen“")
    [inline] = calendar_parts(confirmation)
    assert inline.get_param("method") == "PUBLISH"
    assert "BEGIN:VEVENT" in inline.get_content()
    assert next(confirmation.iter_attachments()).get_filename() == "invite.ics"

    answer(client, settings, people, BEN, "yes")  # the quota is full: the waiting list
    assert background.run_round().sent == {"waitlist": 1}
    [notice] = received(catcher, BEN)
    assert str(notice["Subject"]).startswith("Liste d’attente")
    assert calendar_parts(notice) == []

    answer(client, settings, people, ADA, "no")  # her place goes to Ben
    assert people.find_recipient(BEN).admission == "admitted"
    assert background.run_round().sent == {"confirmation": 1, "withdrawal": 1}
    promoted = received(catcher, BEN)[-1]
    assert str(promoted["Subject"]).startswith("Confirmation de votre participation")
    assert len(calendar_parts(promoted)) == 1
    withdrawn = received(catcher, ADA)[-1]  # she was told she had a place: told it is gone
    assert str(withdrawn["Subject"]) == "Ihre Absage zu „Testtreffen“"
    assert calendar_parts(withdrawn) == []

    assert background.run_round().outcome == "idle"
    assert [len(catcher.to(a)) for a in (ADA, BEN, CLEO)] == [2, 2, 0]
    # Her acknowledgement takes the confirmation back: a place later is confirmed anew.
    assert outbox_rows(people) == {(ADA, "confirmation"): "cancelled", (BEN, "waitlist"): "sent",
                                   (BEN, "confirmation"): "sent", (ADA, "withdrawal"): "sent"}


def test_someone_moved_up_before_the_round_gets_only_the_confirmation(
        settings: Settings, first_come: EventConfig, people: Store,
        relay: tuple[ScriptedRelay, int], background: BackgroundSender) -> None:
    catcher, _ = relay
    client = web(settings, first_come, people)
    answer(client, settings, people, ADA, "yes")
    answer(client, settings, people, BEN, "yes")
    answer(client, settings, people, ADA, "no")
    assert background.run_round().sent == {"confirmation": 1}
    assert [m.recipients for m in catcher.snapshot()] == [(BEN,)]
    assert background.run_round().outcome == "idle"


def test_people_decided_before_the_sender_started_are_told_once(
        workspace: Path, settings: Settings, first_come: EventConfig, people: Store,
        relay: tuple[ScriptedRelay, int], background: BackgroundSender) -> None:
    catcher, port = relay
    client = web(settings, first_come, people)
    answer(client, settings, people, CLEO, "yes")
    invite(workspace, environment(port), "send", "--mailing", "confirmation", "--yes")
    answer(client, settings, people, ADA, "yes")  # nobody sends: `invite serve` is not running
    assert [m.recipients for m in catcher.snapshot()] == [(CLEO,)]
    assert background.run_round().sent == {"confirmation": 1}
    assert [m.recipients for m in catcher.snapshot()] == [(CLEO,), (ADA,)]


def test_a_round_leaves_what_the_organiser_sends_with_invite_send(
        workspace: Path, settings: Settings, first_come: EventConfig, people: Store,
        relay: tuple[ScriptedRelay, int], background: BackgroundSender) -> None:
    catcher, port = relay
    env = environment(port)
    invite(workspace, env, "send", "--yes", "--limit", "1")  # Ada's invitation; the rest later
    invite(workspace, env, "decline", CLEO)
    answer(web(settings, first_come, people), settings, people, ADA, "yes")
    assert background.run_round().sent == {"confirmation": 1}
    assert background.run_round().outcome == "idle"
    assert outbox_rows(people) == {
        (ADA, "invitation"): "sent", (BEN, "invitation"): "queued",
        (CLEO, "invitation"): "queued", (ADA, "confirmation"): "sent"}
    invite(workspace, env, "send", "--mailing", "regret", "--yes")
    assert [m.recipients for m in catcher.snapshot()] == [(ADA,), (ADA,), (CLEO,)]


def test_under_selection_decisions_wait_for_invite_send(
        workspace: Path, settings: Settings, people: Store,
        relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    selection = with_admission(workspace, "selection")
    client = web(settings, selection, people)
    for address in (ADA, BEN):
        answer(client, settings, people, address, "yes")
    invite(workspace, environment(port), "admit", ADA)
    invite(workspace, environment(port), "waitlist", BEN)
    background = BackgroundSender(load_settings(workspace, environment(port)), selection)
    try:
        assert background.run_round().outcome == "idle"
    finally:
        background.stop()
    assert catcher.snapshot() == []
    assert outbox_rows(people) == {}
    invite(workspace, environment(port), "send", "--mailing", "confirmation", "--yes")
    assert [m.recipients for m in catcher.snapshot()] == [(ADA,)]


def test_the_idle_check_comes_before_the_lock(
        workspace: Path, settings: Settings, first_come: EventConfig, people: Store,
        relay: tuple[ScriptedRelay, int], background: BackgroundSender) -> None:
    catcher, _ = relay
    with sender_lock(workspace):
        assert background.run_round().outcome == "idle"
        answer(web(settings, first_come, people), settings, people, ADA, "yes")
        assert background.run_round().outcome == "busy"
    assert catcher.snapshot() == []
    assert background.run_round().sent == {"confirmation": 1}


def test_an_unreachable_relay_pauses_the_decisions_too(
        workspace: Path, settings: Settings, first_come: EventConfig, people: Store,
        caplog: pytest.LogCaptureFixture) -> None:
    now = [1000.0]
    nowhere = free_port()
    background = BackgroundSender(load_settings(workspace, environment(nowhere)), first_come,
                                  clock=lambda: now[0])
    answer(web(settings, first_come, people), settings, people, ADA, "yes")
    try:
        with caplog.at_level(logging.INFO, logger="invite.sender"):
            assert background.run_round().outcome == "failed"
            assert background.run_round().outcome == "waiting"
    finally:
        background.stop()
    [message] = [r.getMessage() for r in caplog.records if r.name == "invite.sender"]
    assert message.startswith(f"could not send confirmations: cannot reach the mail relay "
                              f"127.0.0.1:{nowhere}")
    assert "; next try in 60 s" in message
    assert outbox_rows(people) == {(ADA, "confirmation"): "queued"}


def test_a_broken_template_holds_back_only_its_own_mailing(
        workspace: Path, settings: Settings, first_come: EventConfig, people: Store,
        relay: tuple[ScriptedRelay, int], background: BackgroundSender,
        caplog: pytest.LogCaptureFixture) -> None:
    catcher, _ = relay
    (workspace / "templates" / "mail").mkdir()
    (workspace / "templates" / "mail" / "waitlist.fr.txt.j2").write_text(
        "{{ seat_number }}", encoding="utf-8")
    client = web(settings, first_come, people)
    answer(client, settings, people, ADA, "yes")
    answer(client, settings, people, BEN, "yes")
    with caplog.at_level(logging.INFO, logger="invite.sender"):
        done = background.run_round()
    assert (done.outcome, done.sent) == ("failed", {"confirmation": 1})
    assert [m.recipients for m in catcher.snapshot()] == [(ADA,)]
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == [(f"could not send waiting-list notices: template mail/waitlist.fr.txt.j2 "
                       f"for {BEN}: 'seat_number' is undefined; next try in 60 s (Fix the "
                       "template or give that recipient the missing value, then try again.)")]
    assert outbox_rows(people) == {(ADA, "confirmation"): "sent", (BEN, "waitlist"): "queued"}


def test_invite_serve_confirms_a_first_come_yes_within_seconds(
        workspace: Path, first_come: EventConfig, relay: tuple[ScriptedRelay, int],
        tmp_path: Path) -> None:
    catcher, smtp_port = relay
    port = free_port()
    env = environment(smtp_port, f"http://127.0.0.1:{port}")
    (tmp_path / "people.csv").write_text(
        "email;first_name;last_name;salutation;language;role\n"
        f"{ADA};Ada;Lovelace;Frau;de;company\n", encoding="utf-8")
    invite(workspace, env, "import", str(tmp_path / "people.csv"))
    invite(workspace, env, "send", "--yes")
    link = answer_link(catcher.to(ADA)[0])
    with serving(workspace, env, port, "--send-interval", "0.2") as served:
        assert httpx.post(link, data={"attendance": "yes"}).status_code == 200
        wait_for(lambda: len(catcher.to(ADA)) == 2, "the confirmation")
    confirmation = received(catcher, ADA)[1]
    assert str(confirmation["Subject"]).startswith("Bestätigung Ihrer Teilnahme")
    assert len(calendar_parts(confirmation)) == 1
    assert served.returncode == 0, served.output
    assert "first-come: confirmations and waiting-list notices go out as the answers decide" \
        in served.output
    assert "sent 1 confirmation\n" in served.output
