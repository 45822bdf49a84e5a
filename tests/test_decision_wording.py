"""Decision mails fit what the person said (#10): a regret to someone who said no, or a
waiting-list notice to someone who never answered, thanks nobody "for your yes"; the
organiser is warned (or, with --require-application, refused) when deciding about
someone who did not apply. Mails as they arrive at a real relay."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mailer.cli import app
from rsvp.store import Store
from tests.conftest import BASE_URL, TEST_KEY, person
from tests.relay import ScriptedRelay, running_relay

YES_DE, NO_DE, NONE_DE = "ja@example.org", "nein@example.org", "still@example.org"
YES_EN, NO_EN, NONE_EN = "yes@example.org", "no@example.org", "quiet@example.org"
YES_FR, NONE_FR = "oui@example.org", "muet@example.org"


@pytest.fixture
def relay() -> Iterator[tuple[ScriptedRelay, int]]:
    with running_relay() as running:
        yield running


@pytest.fixture
def people(store: Store) -> Store:
    answers = {YES_DE: "yes", NO_DE: "no", YES_EN: "yes", NO_EN: "no", YES_FR: "yes"}
    language = {YES_DE: "de", NO_DE: "de", NONE_DE: "de", YES_EN: "en", NO_EN: "en",
                NONE_EN: "en", YES_FR: "fr", NONE_FR: "fr"}
    store.add_recipients([person(address, lang, salutation="", first_name="Kim",
                                 last_name="Baer") for address, lang in language.items()])
    for address, attendance in answers.items():
        store.record_answer(store.find_recipient(address).id, attendance, {}, "web")
    return store


def cli(workspace: Path, port: int, *args: str) -> Any:
    env = {"INVITE_SECRET_KEY": TEST_KEY, "INVITE_SMTP_HOST": "127.0.0.1",
           "INVITE_SMTP_PORT": str(port), "INVITE_BASE_URL": BASE_URL}
    return CliRunner().invoke(app, [*args, "-w", str(workspace)], env=env,
                              catch_exceptions=False)


def mail_to(relay: ScriptedRelay, address: str) -> tuple[str, str, str]:
    """(subject, text, html) of the one mail that address got, the text's lines joined."""
    [caught] = relay.to(address)
    message = email.message_from_bytes(caught.data, policy=email.policy.default)
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    return (str(message["Subject"]), " ".join(text.split()),
            message.get_body(("html",)).get_content())  # type: ignore[union-attr]


def test_a_regret_thanks_for_a_yes_only_those_who_said_yes(
        workspace: Path, people: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    declined = cli(workspace, port, "decline", YES_DE, NO_DE, NONE_DE, YES_EN, NO_EN, NONE_EN)
    assert declined.exit_code == 0
    assert declined.stderr.splitlines() == [
        f"Warning: {NO_DE} answered no; declined all the same",
        f"Warning: {NONE_DE} has not answered; declined all the same",
        f"Warning: {NO_EN} answered no; declined all the same",
        f"Warning: {NONE_EN} has not answered; declined all the same"]
    assert cli(workspace, port, "send", "--mailing", "regret", "--yes").exit_code == 0

    subject, text, html = mail_to(catcher, YES_DE)
    assert subject == "Ihre Zusage zu „Testtreffen“"
    assert "für Ihre Zusage" in text and "für Ihre Zusage" in html
    assert "unter den Zusagen eine Auswahl" in text
    for address, subject_wanted in ((NO_DE, "Ihre Antwort zu „Testtreffen“"),
                                    (NONE_DE, "Ihre Teilnahme an „Testtreffen“")):
        subject, text, html = mail_to(catcher, address)
        assert subject == subject_wanted
        assert "Zusage" not in text and "Zusage" not in html
    assert "und für Ihre Antwort." in mail_to(catcher, NO_DE)[1]
    assert "Interesse an „Testtreffen“." in mail_to(catcher, NONE_DE)[1]

    assert "for saying yes" in mail_to(catcher, YES_EN)[1]
    for address in (NO_EN, NONE_EN):
        subject, text, html = mail_to(catcher, address)
        assert "yes" not in text and "positive replies" not in html
    assert mail_to(catcher, NONE_EN)[0] == "Your participation in “Test meeting”"


def test_a_waiting_list_notice_to_someone_who_never_answered_asks_instead_of_thanking(
        workspace: Path, people: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    assert cli(workspace, port, "waitlist", YES_EN, NONE_EN, YES_FR, NONE_FR).stderr.splitlines() == [
        f"Warning: {NONE_EN} has not answered; waitlisted all the same",
        f"Warning: {NONE_FR} has not answered; waitlisted all the same"]
    assert cli(workspace, port, "send", "--mailing", "waitlist", "--yes").exit_code == 0
    assert "Thank you for saying yes" in mail_to(catcher, YES_EN)[1]
    _, text, html = mail_to(catcher, NONE_EN)
    assert "saying yes" not in text and "saying yes" not in html
    assert "Please let us know with your personal link whether you would like" in text
    assert "réponse positive" in mail_to(catcher, YES_FR)[2]
    _, text, html = mail_to(catcher, NONE_FR)
    assert "réponse positive" not in text and "réponse positive" not in html
    assert "si vous souhaitez participer" in text


def test_a_place_given_without_an_application_asks_the_person_to_confirm(
        workspace: Path, people: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    assert cli(workspace, port, "admit", YES_DE, NONE_DE).exit_code == 0
    assert cli(workspace, port, "send", "--mailing", "confirmation", "--yes").exit_code == 0
    asks = "Bitte bestätigen Sie uns über Ihren persönlichen Link"
    assert asks not in mail_to(catcher, YES_DE)[1]
    _, text, html = mail_to(catcher, NONE_DE)
    assert asks in text and asks in html


@pytest.mark.parametrize("command", ["admit", "waitlist", "decline"])
def test_require_application_refuses_and_changes_nobody(
        workspace: Path, people: Store, relay: tuple[ScriptedRelay, int], command: str) -> None:
    _, port = relay
    result = cli(workspace, port, command, YES_EN, NO_EN, NONE_EN, "--require-application")
    assert result.exit_code == 1
    decision = {"admit": "admitted", "waitlist": "waitlisted", "decline": "declined"}[command]
    assert result.stderr.splitlines() == [
        (f"Error: only people who said yes can be {decision} with --require-application: "
         f"{NO_EN} answered no; {NONE_EN} has not answered; nothing was changed"),
        ("Hint: Leave those addresses out, or drop --require-application to decide about "
         "them all the same (their mail is worded for it).")]
    assert [people.find_recipient(a).admission for a in (YES_EN, NO_EN, NONE_EN)] == [None] * 3
    done = cli(workspace, port, command, YES_EN, "--require-application")
    assert (done.exit_code, done.stderr) == (0, "")
    assert people.find_recipient(YES_EN).admission == decision


def test_a_place_given_after_a_maybe_or_a_no_says_what_they_answered(
        workspace: Path, people: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    maybe_en, maybe_fr, no_fr = "perhaps@example.org", "peutetre@example.org", "non@example.org"
    people.add_recipients([person(maybe_en, "en"), person(maybe_fr, "fr"), person(no_fr, "fr")])
    for address, attendance in ((maybe_en, "maybe"), (maybe_fr, "maybe"), (no_fr, "no")):
        people.record_answer(people.find_recipient(address).id, attendance, {}, "web")
    admitted = (NONE_EN, maybe_en, NO_EN, NONE_FR, maybe_fr, no_fr, NO_DE)
    assert cli(workspace, port, "admit", *admitted).exit_code == 0
    assert cli(workspace, port, "send", "--mailing", "confirmation", "--yes").exit_code == 0
    wanted = {NONE_EN: "We have reserved this place for you without a reply from you",
              maybe_en: "You told us that you might attend, and we have reserved this place",
              NO_EN: "You told us that you could not attend; we have reserved this place "
                     "for you all the same",
              NONE_FR: "Nous vous avons réservé cette place sans avoir reçu votre réponse",
              maybe_fr: "Vous nous avez indiqué que vous pourriez peut-être venir",
              no_fr: "Vous nous avez indiqué ne pas pouvoir venir",
              NO_DE: "ohne dass uns Ihre Zusage vorliegt"}
    for address, words in wanted.items():
        _, text, html = mail_to(catcher, address)
        assert words in text and words in " ".join(html.split()), address
    for address in (maybe_en, NO_EN):
        assert "without a reply" not in mail_to(catcher, address)[1]
    for address in (maybe_fr, no_fr):
        assert "sans avoir reçu" not in mail_to(catcher, address)[1]
