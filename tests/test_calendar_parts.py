"""The calendar in a mail (#9): once as the text/calendar alternative (METHOD:PUBLISH),
once as an attached `invite.ics` of type text/calendar, never application/ics; ORGANIZER
is the Reply-To person. Sent through a real aiosmtpd relay, read with `icalendar`."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import icalendar
import pytest
from typer.testing import CliRunner

from mailer.cli import app
from mailer.content.agenda_calendar import CalendarEntry, build_agenda
from mailer.content.composer import Composer
from rsvp.config import load_event
from rsvp.settings import load_settings
from rsvp.store import Store, open_store
from tests.conftest import BASE_URL, TEST_EVENT, TEST_KEY, person
from tests.relay import ScriptedRelay, running_relay

ANNA = "anna.schmidt@example.org"
PEOPLE = [person(ANNA, "de", salutation="Frau", first_name="Anna", last_name="Schmidt"),
          person("helene.lefevre@example.org", "fr", first_name="Hélène", last_name="Lefèvre")]
# The person answers go to, named in reply_to itself, at another domain than From.
NAMED_REPLY_TO = TEST_EVENT.replace(
    'reply_to = "anna@example.org"', 'reply_to = "Jörg Beispiel <joerg@events.example.net>"')
NO_REPLY_TO = TEST_EVENT.replace('reply_to = "anna@example.org"\n', "")


def workspace_with(tmp_path: Path, toml: str) -> Path:
    folder = tmp_path / "ws"
    (folder / "templates").mkdir(parents=True)
    (folder / "event.toml").write_text(toml, encoding="utf-8")
    return folder


def environment(port: int) -> dict[str, str]:
    return {"INVITE_SECRET_KEY": TEST_KEY, "INVITE_SMTP_HOST": "127.0.0.1",
            "INVITE_SMTP_PORT": str(port), "INVITE_BASE_URL": BASE_URL}


def invite(workspace: Path, port: int, *args: str) -> Any:
    result = CliRunner().invoke(app, [*args, "-w", str(workspace)], env=environment(port),
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def relay() -> Iterator[tuple[ScriptedRelay, int]]:
    with running_relay() as running:
        yield running


def confirmations(workspace: Path, relay: tuple[ScriptedRelay, int]) -> list[bytes]:
    """Admit everyone who said yes and send the confirmations; the relay's bytes."""
    catcher, port = relay
    store = open_store(load_settings(workspace, {"INVITE_SECRET_KEY": TEST_KEY}).database)
    try:
        store.add_recipients(PEOPLE)
        for item in PEOPLE:
            store.record_answer(store.find_recipient(item.email).id, "yes", {}, "web")
    finally:
        store.close()
    invite(workspace, port, "admit", *(p.email for p in PEOPLE))
    invite(workspace, port, "send", "--mailing", "confirmation", "--yes")
    return [mail.data for mail in catcher.snapshot()]


def parsed(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def the_event(ics: str | bytes) -> icalendar.Event:
    calendar = icalendar.Calendar.from_ical(ics)
    assert calendar["METHOD"] == "PUBLISH"
    [entry] = [c for c in calendar.walk() if c.name == "VEVENT"]
    return entry


def test_the_calendar_goes_once_as_alternative_and_once_as_a_text_calendar_attachment(
        tmp_path: Path, relay: tuple[ScriptedRelay, int]) -> None:
    mails = confirmations(workspace_with(tmp_path, TEST_EVENT), relay)
    assert len(mails) == 2
    for data in mails:
        assert b"application/ics" not in data
        message = parsed(data)
        alternative, attachment = message.iter_parts()
        assert [p.get_content_type() for p in alternative.iter_parts()] == [
            "text/plain", "text/html", "text/calendar"]
        inline = list(alternative.iter_parts())[2]
        assert inline.get_params()[1:] == [("charset", "utf-8"), ("method", "PUBLISH")]
        assert inline.get_content_disposition() is None
        assert attachment.get_content_type() == "text/calendar"
        assert attachment.get_content_disposition() == "attachment"
        assert attachment.get_filename() == "invite.ics"
        assert attachment.get_param("name") == "invite.ics"
        assert attachment.get_content_charset() == "utf-8"
        assert inline.get_content() == attachment.get_content()
        assert [a.get_filename() for a in message.iter_attachments()] == ["invite.ics"]
        entry = the_event(attachment.get_content())
        assert str(entry["ORGANIZER"]) == "mailto:anna@example.org"  # the Reply-To address
        assert entry["ORGANIZER"].params["CN"] == "Dr. Anna Beispiel"  # `organiser`
        assert str(message["Reply-To"]) == "anna@example.org"


def test_a_reply_to_with_a_name_is_the_organizer_and_names_the_reply_to_header(
        tmp_path: Path, relay: tuple[ScriptedRelay, int]) -> None:
    workspace = workspace_with(tmp_path, NAMED_REPLY_TO)
    mails = confirmations(workspace, relay)
    store = open_store(load_settings(workspace, {"INVITE_SECRET_KEY": TEST_KEY}).database)
    event_id = store.event_id
    anna_id = store.find_recipient(ANNA).id
    store.close()
    for data in mails:
        message = parsed(data)
        [reply] = message["Reply-To"].addresses
        assert (reply.display_name, reply.addr_spec) == ("Jörg Beispiel",
                                                        "joerg@events.example.net")
        entry = the_event(next(message.iter_attachments()).get_content())
        assert str(entry["ORGANIZER"]) == "mailto:joerg@events.example.net"
        assert entry["ORGANIZER"].params["CN"] == "Jörg Beispiel"
    # UIDs stay under the From domain: a new Reply-To person must not duplicate entries
    anna = the_event(next(parsed(mails[0]).iter_attachments()).get_content())
    assert str(anna["UID"]) == f"{event_id}-{anna_id}@example.org"


def test_without_reply_to_the_organizer_is_the_from_address(
        tmp_path: Path, relay: tuple[ScriptedRelay, int]) -> None:
    [data, _] = confirmations(workspace_with(tmp_path, NO_REPLY_TO), relay)
    message = parsed(data)
    assert message["Reply-To"] is None
    entry = the_event(next(message.iter_attachments()).get_content())
    assert str(entry["ORGANIZER"]) == "mailto:office@example.org"
    assert entry["ORGANIZER"].params["CN"] == "Dr. Anna Beispiel"


def test_the_agenda_calendar_names_the_reply_to_person_as_well(tmp_path: Path) -> None:
    workspace = workspace_with(tmp_path, NAMED_REPLY_TO)
    settings = load_settings(workspace, {"INVITE_SECRET_KEY": TEST_KEY,
                                         "INVITE_BASE_URL": BASE_URL})
    store: Store = open_store(settings.database)
    try:
        composer = Composer(settings, load_event(settings.event_file), store)
        start = datetime(2030, 4, 10, 14, tzinfo=UTC)
        entry = CalendarEntry(uid="m-1@example.org", sequence=0, start=start,
                              end=start.replace(hour=15), title="Cilas", detail="",
                              table=3, room="", cancelled=False)
        meeting = the_event(build_agenda(composer.calendar, [entry], "en"))
    finally:
        store.close()
    assert str(meeting["ORGANIZER"]) == "mailto:joerg@events.example.net"
    assert meeting["ORGANIZER"].params["CN"] == "Jörg Beispiel"


def test_an_organiser_name_cannot_break_the_calendar_line(tmp_path: Path) -> None:
    hostile = TEST_EVENT.replace('organiser = "Dr. Anna Beispiel"',
                                 'organiser = "Anna \\"Boss\\"\\r\\nATTENDEE:mailto:x@evil.test"')
    workspace = workspace_with(tmp_path, hostile)
    settings = load_settings(workspace, {"INVITE_SECRET_KEY": TEST_KEY,
                                         "INVITE_BASE_URL": BASE_URL})
    store = open_store(settings.database)
    try:
        ics = Composer(settings, load_event(settings.event_file), store).calendar.build(1, "de", 0)
    finally:
        store.close()
    entry = the_event(ics)
    assert "ATTENDEE" not in entry
    assert entry["ORGANIZER"].params["CN"] == "Anna 'Boss' ATTENDEE:mailto:x@evil.test"
    assert b"\r\nATTENDEE" not in ics
