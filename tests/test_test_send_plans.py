"""`invite send --test-to` for the mailings that need more than a recipient (#9, #11):
an agenda sample is rendered as someone told meetings, a timetable sample as a company's
contact, an update carries the round a real update would; every sample is made before
the relay is reached, so an error stops the test before its first mail."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rsvp.store import Store
from tests.relay import ScriptedRelay, running_relay
from tests.test_publish import ANNA, CLAIRE, FIRST_PLAN, HELENE, brokerage_workspace, plan, publish
from tests.test_test_send import ME, PEOPLE, invite, rows


@pytest.fixture
def relay() -> Iterator[tuple[ScriptedRelay, int]]:
    with running_relay() as running:
        yield running


@pytest.fixture
def told(tmp_path: Path) -> Path:
    """Anna (de) and John (en) told their meetings, Hélène (fr) none; Cilas and Kreon
    (both contacts French) told their timetables, over a relay of their own."""
    ws = brokerage_workspace(tmp_path)
    plan(ws, *FIRST_PLAN)
    with running_relay() as (_, port):
        publish(ws, port)
    return ws


@pytest.fixture
def people(store: Store) -> Store:
    store.add_recipients(PEOPLE)
    return store


def texts(relay: ScriptedRelay) -> list[tuple[str, str, str]]:
    """(To, Subject, text part) of each mail the relay took."""
    found = []
    for mail in relay.snapshot():
        message = mail.parsed()
        found.append((str(message["To"]), str(message["Subject"]),
                      message.get_body(("plain",)).get_content()))
    return found


def test_an_agenda_sample_per_language_of_the_people_told_meetings(
        told: Path, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    before = rows(told)
    result = invite(told, port, "send", "--test-to", ME, "--mailing", "agenda")
    assert result.exit_code == 0, result.output
    mails = texts(catcher)
    assert [(to, subject.split(":")[0]) for to, subject, _ in mails] == [
        (ME, "[TEST] Ihre Gesprächstermine"), (ME, "[TEST] Your meetings")]
    assert "14:00–14:20 Uhr, Tisch 1: Cilas" in mails[0][2]
    assert "Table 1: Cilas" in mails[1][2]
    assert f"as {ANNA}" in result.output and HELENE not in result.output  # she has none
    assert rows(told) == before


def test_a_timetable_sample_is_rendered_as_the_first_company_contact(
        told: Path, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    result = invite(told, port, "send", "--test-to", ME, "--mailing", "timetable")
    assert result.exit_code == 0, result.output
    [(to, subject, text)] = texts(catcher)  # both contacts read French: one sample
    assert to == ME and subject.startswith("[ESSAI] Planning des rendez-vous Cilas")
    assert "Table 1 : Dr. Anna Schmidt (Netz Optik)" in text
    assert f"in fr as {CLAIRE}" in result.output


@pytest.mark.parametrize(("mailing", "who", "why"), [
    ("agenda", HELENE, "has no published meeting, so no agenda to show"),
    ("timetable", ANNA, "is no company's brokerage contact, so has no timetable")])
def test_someone_named_without_one_is_refused_before_any_mail(
        told: Path, relay: tuple[ScriptedRelay, int], mailing: str, who: str,
        why: str) -> None:
    catcher, port = relay
    result = invite(told, port, "send", "--test-to", ME, "--mailing", mailing, "--as", ANNA,
                    "--as", CLAIRE if mailing == "timetable" else who, "--as", who)
    assert result.exit_code == 1
    assert f"Error: --as {who!r}: {why}" in result.output
    assert "Hint: Name one with --as EMAIL" in result.output
    assert "meetings publish" not in result.output  # a real send is no way to test
    assert catcher.snapshot() == []


@pytest.mark.parametrize("mailing", ["agenda", "timetable"])
def test_before_any_publish_it_says_there_is_nothing_to_show(
        tmp_path: Path, relay: tuple[ScriptedRelay, int], mailing: str) -> None:
    catcher, port = relay
    ws = brokerage_workspace(tmp_path)
    result = invite(ws, port, "send", "--test-to", ME, "--mailing", mailing)
    assert result.exit_code == 1
    assert f"Error: there is nobody to render a sample of the {mailing} as: " in result.output
    assert "Hint: Name one with --as EMAIL" in result.output
    assert catcher.snapshot() == []


def test_a_template_error_in_one_language_stops_the_test_before_the_first_mail(
        workspace: Path, people: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    mail = workspace / "templates" / "mail"
    mail.mkdir(parents=True, exist_ok=True)
    (mail / "invitation.fr.txt.j2").write_text("{{ recipient.nothing.deeper }}\n",
                                               encoding="utf-8")
    result = invite(workspace, port, "send", "--test-to", ME)
    assert result.exit_code == 1
    assert "Error: template mail/invitation.fr.txt.j2 for helene.lefevre@example.org" \
        in result.output
    assert catcher.snapshot() == []  # not the German sample first, then the error
    assert "went out before" not in result.output


def test_an_update_sample_carries_the_round_a_real_update_would(
        workspace: Path, people: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    before = rows(workspace)
    result = invite(workspace, port, "send", "--test-to", ME, "--mailing", "update", "--as",
                    "john.smith@example.org")
    assert result.exit_code == 0, result.output
    [mail] = catcher.snapshot()
    calendars = [part.get_content() for part in mail.parsed().walk()
                 if part.get_content_type() == "text/calendar"]
    assert calendars  # inline and attached, the same file
    for calendar in calendars:
        assert "SEQUENCE:1" in calendar  # update 1, as `invite send` would queue
    assert rows(workspace) == before  # looked up, not started
