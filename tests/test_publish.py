"""Publishing the brokerage plan (#11): agenda and timetable mails with their calendar
files through a real aiosmtpd relay, told once per change, hosts kept out of every
other mailing."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
from typer.testing import CliRunner

from mailer.cli import app
from mailer.delivery.publication import publish_round
from rsvp.config import load_event
from rsvp.meetings import Placement, agenda_of, save_plan
from rsvp.store import open_store
from tests.conftest import TEST_KEY, make_workspace, person
from tests.relay import ScriptedRelay, running_relay

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2030, 4, 10, 14, 0, tzinfo=PARIS)
SLOT = timedelta(minutes=20)
BROKERAGE = """
[[companies]]
id = "cilas"
name = "Cilas"
field = { de = "Optische Keramik", fr = "Céramiques optiques", en = "Optical ceramics" }
contact = { name = "Claire Martin", email = "claire.martin@cilas.example", language = "fr" }

[[companies]]
id = "kreon"
name = "Kreon"
field = { de = "3-D-Messtechnik", en = "3-D measurement" }
contact = { name = "Paul Roux", email = "paul.roux@kreon.example", language = "fr" }

[[companies]]
id = "leukos"
name = "Leukos"

[[questions]]
id = "meet"
type = "choices"
options_from = "companies"
label = { de = "Gespräche", fr = "Rendez-vous", en = "Meetings" }
when = "yes"

[[questions]]
id = "topics"
type = "text"
label = { de = "Themen", fr = "Sujets", en = "Topics" }
max_length = 300

[brokerage]
question = "meet"
tables = 3
meeting_minutes = 20

[[brokerage.sessions]]
start = 2030-04-10T14:00:00+02:00
end = 2030-04-10T16:00:00+02:00
"""
ANNA, JOHN, HELENE = "anna.schmidt@example.org", "john.smith@example.org", "helene@example.org"
CLAIRE, PAUL = "claire.martin@cilas.example", "paul.roux@kreon.example"


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    return brokerage_workspace(tmp_path)


def brokerage_workspace(tmp_path: Path) -> Path:
    """A workspace with the brokerage event and three people who want meetings."""
    folder = make_workspace(tmp_path, BROKERAGE)
    store = open_store(folder / "invite.db")
    store.add_recipients([
        person(ANNA, "de", salutation="Frau", title="Dr.", first_name="Anna",
               last_name="Schmidt", organisation="Netz Optik"),
        person(JOHN, "en", salutation="Mr", first_name="John", last_name="Smith",
               organisation="ICT Cluster"),
        person(HELENE, "fr", first_name="Hélène", last_name="Lefèvre"),
    ])
    topics = {ANNA: "Laser ceramics", JOHN: "Sensors\nand data", HELENE: ""}
    for address, text in topics.items():
        store.record_answer(store.find_recipient(address).id, "yes",
                            {"meet": ["cilas", "kreon"], "topics": text}, "web")
    store.close()
    return folder


@pytest.fixture
def relay() -> Any:
    with running_relay() as running:
        yield running


def invite(workspace: Path, port: int, *args: str) -> Any:
    env = {"INVITE_SECRET_KEY": TEST_KEY, "INVITE_SMTP_HOST": "127.0.0.1",
           "INVITE_SMTP_PORT": str(port), "INVITE_BASE_URL": "https://rsvp.example.org"}
    return CliRunner().invoke(app, [*args, "-w", str(workspace)], env=env, catch_exceptions=False)


def publish(workspace: Path, port: int) -> Any:
    result = invite(workspace, port, "meetings", "publish", "--yes")
    assert result.exit_code == 0, result.output
    return result


def plan(workspace: Path, *meetings: tuple[str, str, int, int]) -> None:
    """Store a plan as the planner would: (address, company, slot, table) per meeting."""
    store = open_store(workspace / "invite.db")
    try:
        save_plan(store, [Placement(store.find_recipient(address).id, company,
                                    START + slot * SLOT, START + (slot + 1) * SLOT, table)
                          for address, company, slot, table in meetings])
    finally:
        store.close()


def received(relay: ScriptedRelay, address: str) -> list[EmailMessage]:
    return [email.message_from_bytes(m.data, policy=email.policy.default)  # type: ignore[misc]
            for m in relay.to(address)]


def events_of(message: EmailMessage) -> tuple[icalendar.Calendar, dict[str, Any]]:
    """The attached .ics, parsed, and its VEVENTs by summary."""
    attachment = next(message.iter_attachments())
    assert isinstance(attachment, EmailMessage)
    calendar = icalendar.Calendar.from_ical(attachment.get_content())
    return calendar, {str(c["SUMMARY"]): c for c in calendar.walk() if c.name == "VEVENT"}


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content()).replace("\r\n", "\n")


FIRST_PLAN = ((ANNA, "cilas", 0, 1), (ANNA, "kreon", 1, 2), (JOHN, "cilas", 1, 1))


def test_publish_mails_each_participant_their_agenda_with_a_calendar_of_their_meetings(
        ws: Path, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    plan(ws, *FIRST_PLAN)
    result = publish(ws, port)
    assert "Round 1: 3 meetings published, 0 cancelled; 2 agendas and 2 timetables" in result.output
    [mail] = received(catcher, ANNA)
    assert str(mail["Subject"]).startswith("Ihre Gesprächstermine: „Testtreffen“")
    text = text_of(mail)
    assert "Sehr geehrte Frau Dr. Schmidt," in text
    assert "- 14:00–14:20 Uhr, Tisch 1: Cilas (neu)" in text
    assert "- 14:20–14:40 Uhr, Tisch 2: Kreon (neu)" in text
    assert "Optische Keramik" in text
    calendar, events = events_of(mail)
    assert calendar["METHOD"] == "PUBLISH"
    cilas, kreon = events["Gespräch: Cilas"], events["Gespräch: Kreon"]
    assert cilas.decoded("DTSTART") == START
    assert kreon.decoded("DTEND") == START + 2 * SLOT
    assert str(cilas["LOCATION"]) == "Tisch 1, Limoges"
    assert [e.decoded("SEQUENCE") for e in (cilas, kreon)] == [0, 0]
    assert {str(e["STATUS"]) for e in (cilas, kreon)} == {"CONFIRMED"}
    store = open_store(ws / "invite.db")
    uids = {m.company_id: m.uid for m in agenda_of(store, store.find_recipient(ANNA).id)}
    store.close()
    assert {str(cilas["UID"]), str(kreon["UID"])} == {uids["cilas"], uids["kreon"]}
    [john] = received(catcher, JOHN)
    assert "- 14:20–14:40, Table 1: Cilas (new)" in text_of(john)
    assert received(catcher, HELENE) == []  # no meeting, no mail


def test_each_company_contact_gets_a_timetable_in_their_language_with_names_and_topics(
        ws: Path, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    plan(ws, *FIRST_PLAN)
    publish(ws, port)
    [mail] = received(catcher, CLAIRE)
    assert str(mail["Subject"]).startswith("Planning des rendez-vous Cilas")
    text = text_of(mail)
    assert "- 14 h 00–14 h 20, Table 1 : Dr. Anna Schmidt (Netz Optik) (nouveau)" in text
    assert "Sujets : Laser ceramics" in text
    assert "Sujets : Sensors and data" in text  # a typed line break is no line of the mail
    _, events = events_of(mail)
    assert set(events) == {"Rendez-vous: Dr. Anna Schmidt (Netz Optik)",
                           "Rendez-vous: John Smith (ICT Cluster)"}
    assert len(received(catcher, PAUL)) == 1


def test_hosts_get_no_invitation_and_do_not_count_as_recipients(
        ws: Path, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    plan(ws, *FIRST_PLAN)
    publish(ws, port)
    result = invite(ws, port, "send", "--mailing", "invitation", "--yes")
    assert result.exit_code == 0, result.output
    assert len(received(catcher, CLAIRE)) == 1  # the timetable only
    assert len(received(catcher, ANNA)) == 2
    status = invite(ws, port, "status")
    assert "Recipients: 3 " in status.output
    batches = json.loads(invite(ws, port, "status", "--json").stdout)["batches"]
    assert [(b["people"], b["answers"]["yes"]) for b in batches] == [(3, 3)]
    export = invite(ws, port, "export", "--what", "recipients")
    assert CLAIRE not in export.output


def test_a_second_publish_tells_only_the_changes_with_higher_sequence_and_cancellations(
        ws: Path, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    plan(ws, *FIRST_PLAN)
    publish(ws, port)
    again = publish(ws, port)
    assert "Nothing to publish" in again.output
    assert len(catcher.mails) == 4
    # Kreon moves for Anna, John's Cilas meeting is dropped, Hélène gets a new one.
    plan(ws, (ANNA, "cilas", 0, 1), (ANNA, "kreon", 3, 2), (HELENE, "kreon", 1, 2))
    publish(ws, port)
    first, second = received(catcher, ANNA)
    assert "- 14:00–14:20 Uhr, Tisch 1: Cilas\n" in text_of(second)
    assert "- 15:00–15:20 Uhr, Tisch 2: Kreon (geändert)" in text_of(second)
    _, events = events_of(second)
    assert events["Gespräch: Cilas"].decoded("SEQUENCE") == 0
    assert events["Gespräch: Kreon"].decoded("SEQUENCE") == 1
    assert events["Gespräch: Kreon"].decoded("DTSTART") == START + 3 * SLOT
    assert str(events["Gespräch: Kreon"]["UID"]) == str(events_of(first)[1]["Gespräch: Kreon"]["UID"])
    _, johns = events_of(received(catcher, JOHN)[1])
    cancelled = johns["Cancelled: Meeting: Cilas"]
    assert str(cancelled["STATUS"]) == "CANCELLED"
    assert cancelled.decoded("SEQUENCE") == 1
    assert "Cancelled meetings" in text_of(received(catcher, JOHN)[1])
    assert len(received(catcher, HELENE)) == 1
    assert len(received(catcher, CLAIRE)) == 2  # John's meeting with Cilas is gone
    assert len(received(catcher, PAUL)) == 2    # Anna moved, Hélène is new
    assert len(catcher.mails) == 4 + 5
    assert "Nothing to publish" in publish(ws, port).output


def test_dry_run_lists_who_would_be_told_and_changes_nothing(
        ws: Path, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    plan(ws, *FIRST_PLAN)
    result = invite(ws, port, "meetings", "publish", "--dry-run")
    assert result.exit_code == 0, result.output
    assert f"agenda: {ANNA}" in result.output
    assert "timetable: kreon" in result.output
    assert catcher.mails == []
    store = open_store(ws / "invite.db")
    assert {m.state for m in agenda_of(store, store.find_recipient(ANNA).id)} == {"planned"}
    store.close()


def test_a_template_that_fails_marks_nothing_told(
        ws: Path, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    plan(ws, *FIRST_PLAN)
    (ws / "templates" / "mail").mkdir()
    (ws / "templates" / "mail" / "agenda.de.subject.j2").write_text("{{ nothing.here }}")
    result = invite(ws, port, "meetings", "publish", "--yes")
    assert result.exit_code == 1
    assert "Error: template mail/agenda.de.subject.j2 for anna.schmidt@example.org" in result.output
    store = open_store(ws / "invite.db")
    assert {m.state for m in agenda_of(store, store.find_recipient(ANNA).id)} == {"planned"}
    store.close()
    assert catcher.mails == []



def test_end_to_end_with_the_real_planner_a_replan_without_change_tells_nobody(
        ws: Path, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    assert invite(ws, port, "admit", ANNA, JOHN, HELENE).exit_code == 0  # the planner's rule
    planned = invite(ws, port, "meetings", "plan", "--time-limit", "5")
    assert planned.exit_code == 0, planned.output
    publish(ws, port)
    store = open_store(ws / "invite.db")
    for address in (ANNA, JOHN, HELENE):
        meetings = agenda_of(store, store.find_recipient(address).id)
        assert {m.state for m in meetings} == {"published"}
        [mail] = received(catcher, address)
        _, events = events_of(mail)
        assert {str(e["UID"]) for e in events.values()} == {m.uid for m in meetings}
        assert len(meetings) == 2  # each wants both companies with a contact
    store.close()
    assert len(received(catcher, CLAIRE)) == len(received(catcher, PAUL)) == 1
    again = invite(ws, port, "meetings", "plan", "--time-limit", "5")
    assert again.exit_code == 0, again.output
    assert "Nothing to publish" in publish(ws, port).output
    assert len(catcher.mails) == 5


def test_preview_shows_a_published_agenda_and_send_finishes_nothing_twice(
        ws: Path, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    plan(ws, *FIRST_PLAN)
    publish(ws, port)
    shown = invite(ws, port, "preview", JOHN, "--mailing", "agenda")
    assert shown.exit_code == 0, shown.output
    assert 'Subject: Your meetings: "Test meeting"' in shown.output
    assert "Table 1: Cilas" in shown.output
    again = invite(ws, port, "send", "--mailing", "agenda", "--yes")
    assert again.exit_code == 0, again.output
    assert "No meeting agendas to send." in again.output
    assert len(catcher.mails) == 4


def test_a_round_cut_short_after_queueing_is_sent_by_the_next_publish_once(
        ws: Path, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    plan(ws, *FIRST_PLAN)
    store = open_store(ws / "invite.db")
    told = publish_round(store, load_event(ws / "event.toml"))  # stopped before sending
    store.close()
    assert told is not None and (told.agendas, told.timetables) == (2, 2)
    assert catcher.mails == []
    result = publish(ws, port)
    assert "Round" not in result.output  # nothing new to tell: only the rest is sent
    assert sorted(m.recipients[0] for m in catcher.mails) == sorted([ANNA, JOHN, CLAIRE, PAUL])
    assert "Nothing to publish" in publish(ws, port).output
    assert len(catcher.mails) == 4


def test_importing_a_company_contact_address_is_refused(
        ws: Path, relay: tuple[ScriptedRelay, int], tmp_path: Path) -> None:
    _, port = relay
    plan(ws, *FIRST_PLAN)
    publish(ws, port)
    people = tmp_path / "more.csv"
    people.write_text("email,first_name,last_name\nnew@example.org,Nina,Neu\n"
                      "Claire.Martin@cilas.example,Claire,Martin\n", encoding="utf-8")
    result = invite(ws, port, "import", str(people))
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        ("Error: Claire.Martin@cilas.example is the contact of company 'cilas' in event.toml; "
         "a contact address cannot also be an invitee"),
        "Hint: Import the person with another address, or give the company another contact."]
    assert "Recipients: 3 " in invite(ws, port, "status").output  # nothing imported


def test_a_round_that_never_reached_a_person_is_told_by_the_next_one(
        ws: Path, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    plan(ws, *FIRST_PLAN)
    publish(ws, port)
    # Round 2 cancels John's meeting, but the relay defers his mail until round 3 replaces it.
    catcher.refuse_rcpt[JOHN] = "451 4.3.0 Try again later"
    plan(ws, (ANNA, "cilas", 0, 1), (ANNA, "kreon", 1, 2))
    invite(ws, port, "meetings", "publish", "--yes")
    assert len(received(catcher, JOHN)) == 1
    del catcher.refuse_rcpt[JOHN]
    plan(ws, (ANNA, "cilas", 0, 1), (ANNA, "kreon", 1, 2), (JOHN, "kreon", 3, 2))
    publish(ws, port)
    _, latest = received(catcher, JOHN)  # round 1, then round 3: round 2 never left
    text = text_of(latest)
    assert "- 15:00–15:20, Table 2: Kreon (new)" in text
    assert "Cancelled meetings" in text
    assert "Cilas" in text.split("Cancelled meetings")[1]
    _, events = events_of(latest)
    assert str(events["Cancelled: Meeting: Cilas"]["STATUS"]) == "CANCELLED"
