"""Confirmation, regret, waiting-list and update mails through a real aiosmtpd relay,
and the iCalendar file the confirmation and the update carry."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
from typer.testing import CliRunner

from mailer.cli import app
from mailer.content.calendar import CalendarMaker
from mailer.content.composer import Composer
from mailer.delivery.outbox import Outbox
from rsvp.config import EventConfig, load_event
from rsvp.privacy import forget_person
from rsvp.settings import Settings
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
ANNA, HELENE, JOHN = (p.email for p in PEOPLE)
PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def relay() -> Any:
    with running_relay() as running:
        yield running


@pytest.fixture
def people(store: Store) -> Store:
    store.add_recipients(PEOPLE)
    for item in PEOPLE:
        store.record_answer(store.find_recipient(item.email).id, "yes", {}, "web")
    return store


def invite(workspace: Path, port: int, *args: str) -> Any:
    env = {"INVITE_SECRET_KEY": TEST_KEY, "INVITE_SMTP_HOST": "127.0.0.1",
           "INVITE_SMTP_PORT": str(port), "INVITE_BASE_URL": "https://rsvp.example.org"}
    return CliRunner().invoke(app, [*args, "-w", str(workspace)], env=env, catch_exceptions=False)


def send(workspace: Path, port: int, mailing: str, *more: str) -> Any:
    result = invite(workspace, port, "send", "--mailing", mailing, "--yes", *more)
    assert result.exit_code == 0, result.output
    return result


def received(relay: ScriptedRelay, address: str) -> list[EmailMessage]:
    return [email.message_from_bytes(m.data, policy=email.policy.default)  # type: ignore[misc]
            for m in relay.to(address)]


def calendar_of(message: EmailMessage) -> tuple[icalendar.Calendar, icalendar.Event]:
    """The attached .ics, parsed, with its one VEVENT."""
    attachment = next(message.iter_attachments())
    assert isinstance(attachment, EmailMessage)
    calendar = icalendar.Calendar.from_ical(attachment.get_content())
    events = [c for c in calendar.walk() if c.name == "VEVENT"]
    assert len(events) == 1
    return calendar, events[0]


# the confirmation and its calendar


def test_the_confirmation_is_mixed_with_an_inline_calendar_and_an_ics_attachment(
        workspace: Path, people: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    assert invite(workspace, port, "admit", ANNA).exit_code == 0
    send(workspace, port, "confirmation")
    [message] = received(catcher, ANNA)
    assert message.get_content_type() == "multipart/mixed"
    outer = list(message.iter_parts())
    assert [part.get_content_type() for part in outer] == ["multipart/alternative",
                                                         "text/calendar"]
    inner = list(outer[0].iter_parts())
    assert [part.get_content_type() for part in inner] == ["text/plain", "text/html",
                                                         "text/calendar"]
    inline, attachment = inner[2], outer[1]
    assert inline.get_param("method") == "PUBLISH"
    assert inline.get_content_charset() == "utf-8"
    assert inline.get_content_disposition() is None
    assert attachment.get_content_disposition() == "attachment"
    assert attachment.get_filename() == "invite.ics"
    assert inline.get_content() == attachment.get_content()
    assert attachment.get_content_charset() == "utf-8"
    assert attachment.get_param("method") is None  # a file to keep, not an iMIP message
    assert "METHOD:PUBLISH\r\n" in attachment.get_content()
    assert "Sehr geehrte Frau Dr. Schmidt," in message.get_body(("plain",)).get_content()
    assert str(message["Subject"]).startswith("Bestätigung Ihrer Teilnahme: „Testtreffen“")
    raw = catcher.to(ANNA)[0].data
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))


def test_the_calendar_has_zone_uid_stamp_place_organiser_and_sequence_0(
        workspace: Path, people: Store, event: EventConfig,
        relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    invite(workspace, port, "admit", ANNA, HELENE)
    send(workspace, port, "confirmation")
    calendar, entry = calendar_of(received(catcher, HELENE)[0])
    assert calendar["METHOD"] == "PUBLISH"
    assert calendar["VERSION"] == "2.0"
    assert calendar["PRODID"]
    zones = [c for c in calendar.walk() if c.name == "VTIMEZONE"]
    assert [str(zone["TZID"]) for zone in zones] == ["Europe/Paris"]
    assert entry["DTSTART"].params["TZID"] == "Europe/Paris"
    assert entry.decoded("DTSTART") == datetime(2030, 4, 10, 9, 0, tzinfo=PARIS)
    assert entry["DTEND"].params["TZID"] == "Europe/Paris"
    assert entry.decoded("DTEND") == event.end
    assert entry.decoded("DTSTAMP").tzinfo is not None
    helene = people.find_recipient(HELENE)
    assert str(entry["UID"]) == f"{people.event_id}-{helene.id}@example.org"
    assert str(entry["SUMMARY"]) == "Réunion test"  # the person's language
    assert str(entry["LOCATION"]) == "Limoges"
    assert str(entry["ORGANIZER"]) == "mailto:anna@example.org"  # the Reply-To person
    assert entry["ORGANIZER"].params["CN"] == "Dr. Anna Beispiel"
    assert entry.decoded("SEQUENCE") == 0
    anna_uid = str(calendar_of(received(catcher, ANNA)[0])[1]["UID"])
    assert anna_uid != str(entry["UID"])


def test_the_uid_is_stable_across_builds(settings: Settings, event: EventConfig,
                                         people: Store) -> None:
    maker = CalendarMaker(event, people.event_id, "Dr. Anna Beispiel", "office@example.org")
    first = icalendar.Calendar.from_ical(maker.build(7, "de", 0))
    later = icalendar.Calendar.from_ical(
        maker.build(7, "en", 3, now=datetime(2031, 1, 1, tzinfo=UTC)))
    uids = [str(c["UID"]) for cal in (first, later) for c in cal.walk() if c.name == "VEVENT"]
    assert uids == [f"{people.event_id}-7@example.org"] * 2
    composer = Composer(settings, event, people)
    assert composer.calendar.uid(7) == uids[0]


def test_the_programme_goes_into_the_description(settings: Settings, event: EventConfig,
                                                 workspace: Path) -> None:
    path = workspace / "event.toml"
    path.write_text(path.read_text(encoding="utf-8") + PROGRAMME, encoding="utf-8")
    maker = CalendarMaker(load_event(path), "ev", "Dr. Anna Beispiel", "office@example.org")
    entry = next(c for c in icalendar.Calendar.from_ical(maker.build(1, "de", 0)).walk()
                 if c.name == "VEVENT")
    assert str(entry["DESCRIPTION"]) == (
        "Programm:\n- 10.04.2030, 09:00–12:30: Symposium\n  Mit Gästen aus Frankreich\n"
        "- 10.04.2030, 14:00–18:00: Kooperationsbörse")


PROGRAMME = """
[[programme]]
start = 2030-04-10T09:00:00+02:00
end = 2030-04-10T12:30:00+02:00
title = { de = "Symposium", fr = "Symposium", en = "Symposium" }
detail = { de = "Mit Gästen aus Frankreich", en = "With guests from France" }

[[programme]]
start = 2030-04-10T14:00:00+02:00
end = 2030-04-10T18:00:00+02:00
title = { de = "Kooperationsbörse", fr = "Bourse d’affaires", en = "Brokerage event" }
"""


# once per person and decision


def test_each_decision_is_told_once_and_a_new_decision_again(
        workspace: Path, people: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    invite(workspace, port, "admit", ANNA)
    invite(workspace, port, "waitlist", HELENE)
    invite(workspace, port, "decline", JOHN)
    send(workspace, port, "confirmation")
    assert "No confirmations to send." in send(workspace, port, "confirmation").output
    send(workspace, port, "waitlist")
    send(workspace, port, "regret")
    assert [len(catcher.to(a)) for a in (ANNA, HELENE, JOHN)] == [1, 1, 1]
    waiting = received(catcher, HELENE)[0]
    assert waiting.get_content_type() == "multipart/alternative"  # no calendar
    assert str(waiting["Subject"]).startswith("Liste d’attente")
    regret = received(catcher, JOHN)[0]
    assert str(regret["Subject"]) == "Your reply to “Test meeting”"
    assert "unable to offer you a place" in regret.get_body(("plain",)).get_content()
    # Moved up from the waiting list: now she gets the confirmation, once.
    invite(workspace, port, "admit", HELENE)
    send(workspace, port, "confirmation")
    assert "No waiting-list notices to send." in send(workspace, port, "waitlist").output
    subjects = [str(m["Subject"]) for m in received(catcher, HELENE)]
    assert len(subjects) == 2 and subjects[1].startswith("Confirmation de votre participation")
    assert len(catcher.to(ANNA)) == 1


def test_unsubscribed_and_forgotten_people_get_no_decision_mail(
        workspace: Path, people: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    people.unsubscribe(people.find_recipient(ANNA).id)
    john = people.find_recipient(JOHN)
    result = invite(workspace, port, "admit", ANNA, HELENE, JOHN)
    assert "Warning: anna.schmidt@example.org unsubscribed and will not be told" in result.stderr
    forget_person(people, john.id)
    send(workspace, port, "confirmation")
    assert [m.recipients for m in catcher.snapshot()] == [(HELENE,)]
    invite(workspace, port, "decline", ANNA)
    assert "No regret notices to send." in send(workspace, port, "regret").output


def test_a_confirmation_left_pending_is_cancelled_when_the_decision_changes(
        workspace: Path, people: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    catcher.defer_times[ANNA] = 1
    invite(workspace, port, "admit", ANNA)
    deferred = send(workspace, port, "confirmation", "--max-attempts", "1")
    assert "Deferred: anna.schmidt@example.org" in deferred.output
    invite(workspace, port, "decline", ANNA)
    assert "No confirmations to send." in send(workspace, port, "confirmation").output
    send(workspace, port, "regret")
    [regret] = received(catcher, ANNA)
    assert str(regret["Subject"]) == "Ihre Zusage zu „Testtreffen“"
    rows = {r["mailing"]: (r["state"], r["last_reply"]) for r in Outbox(people).export_rows()}
    assert rows["confirmation"] == ("cancelled", "decision changed")
    # Admitted again: the cancelled confirmation goes out after all.
    invite(workspace, port, "admit", ANNA)
    send(workspace, port, "confirmation")
    assert str(received(catcher, ANNA)[-1]["Subject"]).startswith("Bestätigung")


# updates


def test_updates_carry_the_same_uid_with_a_higher_sequence(
        workspace: Path, people: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    assert "No updates to send." in send(workspace, port, "update").output
    invite(workspace, port, "admit", ANNA, JOHN)
    assert "No updates to send." in send(workspace, port, "update").output  # not confirmed yet
    send(workspace, port, "confirmation")
    invite(workspace, port, "admit", HELENE)  # admitted, but not confirmed: no update
    first = send(workspace, port, "update")
    assert "Updates this run" in first.output
    second = send(workspace, port, "update")
    assert "Updates this run" in second.output
    sequences = [(str(entry["UID"]), entry.decoded("SEQUENCE"))
                 for entry in (calendar_of(m)[1] for m in received(catcher, ANNA))]
    uid = sequences[0][0]
    assert sequences == [(uid, 0), (uid, 1), (uid, 2)]
    subjects = [str(m["Subject"]) for m in received(catcher, JOHN)]
    assert subjects[1:] == ["Updated details: “Test meeting” – 10 Apr 2030"] * 2
    update = received(catcher, JOHN)[1]
    assert update.get_content_type() == "multipart/mixed"
    assert "Some details of the following event" in update.get_body(("plain",)).get_content()
    assert catcher.to(HELENE) == []
    mailings = {r["mailing"] for r in Outbox(people).export_rows()}
    assert mailings == {"confirmation", "update-1", "update-2"}


def test_an_interrupted_update_is_resumed_not_started_again(
        workspace: Path, people: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    invite(workspace, port, "admit", ANNA, JOHN)
    send(workspace, port, "confirmation")
    catcher.defer_times[JOHN] = 1
    send(workspace, port, "update", "--max-attempts", "1")
    send(workspace, port, "update")  # retries update 1 for John only
    assert [len(catcher.to(a)) for a in (ANNA, JOHN)] == [2, 2]
    john_update = calendar_of(received(catcher, JOHN)[1])[1]
    assert john_update.decoded("SEQUENCE") == 1
    send(workspace, port, "update")
    assert [len(catcher.to(a)) for a in (ANNA, JOHN)] == [3, 3]


# every shipped template


@pytest.mark.parametrize("mailing", ["confirmation", "regret", "waitlist", "update"])
@pytest.mark.parametrize("lang", ["de", "fr", "en"])
def test_every_decision_mail_renders_in_every_language(
        settings: Settings, event: EventConfig, store: Store, mailing: str, lang: str) -> None:
    store.add_recipients([person(f"kim.{lang}@example.org", lang, first_name="Kim",
                                 last_name="Bär", role="company")])
    who = store.find_recipient(f"kim.{lang}@example.org")
    composer = Composer(settings, event, store)
    mail, links = composer.render(mailing, who)
    assert event.text(event.title, lang) in mail.subject and "\n" not in mail.subject
    assert mail.text.startswith({"de": "Guten Tag Kim Bär,", "fr": "Bonjour Kim Bär,",
                                 "en": "Dear Kim Bär,"}[lang] + "\n")
    assert links.unsubscribe in mail.text and links.unsubscribe in mail.html
    if mailing != "regret":
        assert links.answer in mail.text and f'href="{links.answer}"' in mail.html
    assert f'<html lang="{lang}" ' in mail.html
    for part in (mail.subject, mail.text, mail.html):
        for leftover in ("{{", "{%", "JINJAX", "JINJAS", "Undefined"):
            assert leftover not in part
    ready = composer.compose(mailing, who)
    assert (b'filename="invite.ics"' in ready.data) == (mailing in ("confirmation", "update"))
