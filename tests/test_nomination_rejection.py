"""Review fixes for #8: a rejected nominee holds no place and moves nobody out, the
organiser's import makes a nominee their own invitee, the reply to a nomination does
not tell who is on the list, and an upgrade keeps the unknown fate of old mails."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from mailer.cli import app
from mailer.delivery.outbox import Outbox
from rsvp.config import EventConfig, load_event
from rsvp.i18n import catalogue
from rsvp.schema import MIGRATIONS
from rsvp.settings import Settings, load_settings
from rsvp.store import Store, open_store
from rsvp.web.app import create_app
from tests.conftest import AUTOMATIC_NOMINATIONS, TEST_EVENT, TEST_KEY, person
from tests.test_app import OPEN, form_url

EN = catalogue("en")
ENV = {"INVITE_SECRET_KEY": TEST_KEY, "INVITE_BASE_URL": "https://rsvp.example.org"}
FIRST_COME_ONE_PLACE = (TEST_EVENT.replace('admission = "selection"', 'admission = "first-come"')
                        .replace("company = 2", "company = 1") + AUTOMATIC_NOMINATIONS)


def invite(workspace: Path, *args: str) -> Any:
    result = CliRunner().invoke(app, [*args, "-w", str(workspace)], env=ENV,
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def answer_yes(client: TestClient, settings: Settings, store: Store, email: str,
               nominee: str = "") -> None:
    data = {"attendance": "yes", "parts": ["symposium"]}
    if nominee:
        data |= {"nominee_name": "Spam Spam", "nominee_email": nominee,
                 "nominee_organisation": "", "nominee_role": "company"}
    page = client.post(form_url(settings, store, store.find_recipient(email), "en"), data=data)
    assert page.status_code == 200


@pytest.fixture
def first_come(tmp_path: Path) -> tuple[Path, Settings, EventConfig]:
    folder = tmp_path / "ws"
    (folder / "templates").mkdir(parents=True)
    (folder / "event.toml").write_text(FIRST_COME_ONE_PLACE, encoding="utf-8")
    settings = load_settings(folder, ENV)
    return folder, settings, load_event(settings.event_file)


def test_rejecting_a_nominee_frees_their_place_for_the_next_real_person(
        first_come: tuple[Path, Settings, EventConfig]) -> None:
    folder, settings, event = first_come
    store = open_store(settings.database)
    try:
        store.add_recipients([person("anna@example.org", "en", role="network_manager"),
                              person("real@example.org", "en", role="company")])
        client = TestClient(create_app(settings, event, store, clock=lambda: OPEN))
        answer_yes(client, settings, store, "anna@example.org", nominee="spam@evil.example")
        answer_yes(client, settings, store, "spam@evil.example")  # admitted: the one place
        answer_yes(client, settings, store, "real@example.org")  # waitlisted
        assert store.find_recipient("spam@evil.example").admission == "admitted"
        assert store.find_recipient("real@example.org").admission == "waitlisted"
        said = invite(folder, "nominations", "--reject", "spam@evil.example")
        assert "spam@evil.example: rejected (was approved)" in said
        assert "real@example.org: admitted from the waiting list" in said
        assert store.find_recipient("spam@evil.example").admission is None
    finally:
        store.close()


def test_a_rejected_nominee_on_the_waiting_list_is_never_moved_up(
        first_come: tuple[Path, Settings, EventConfig]) -> None:
    folder, settings, event = first_come
    store = open_store(settings.database)
    try:
        store.add_recipients([person("anna@example.org", "en", role="network_manager"),
                              person("real@example.org", "en", role="company")])
        client = TestClient(create_app(settings, event, store, clock=lambda: OPEN))
        answer_yes(client, settings, store, "real@example.org")  # the one place
        answer_yes(client, settings, store, "anna@example.org", nominee="spam@evil.example")
        answer_yes(client, settings, store, "spam@evil.example")  # waitlisted
        invite(folder, "nominations", "--reject", "spam@evil.example")
        client.post(form_url(settings, store, store.find_recipient("real@example.org"), "en"),
                    data={"attendance": "no"})
        assert store.find_recipient("spam@evil.example").admission is None
        assert store.find_recipient("real@example.org").admission == "withdrawn"
    finally:
        store.close()


def test_importing_an_address_someone_put_forward_makes_it_the_organisers_own(
        workspace: Path, store: Store, settings: Settings, event: EventConfig,
        tmp_path: Path) -> None:
    store.add_recipients([person("anna@example.org", "en", role="network_manager")])
    client = TestClient(create_app(settings, event, store, clock=lambda: OPEN))
    answer_yes(client, settings, store, "anna@example.org", nominee="lena@example.com")
    assert Outbox(store).count_would_queue("invitation") == 1  # anna only: lena waits
    source = tmp_path / "more.csv"
    source.write_text("email,first_name,last_name\nlena@example.com,Lena,Roth\n",
                      encoding="utf-8")
    invite(workspace, "import", str(source))
    lena = store.find_recipient("lena@example.com")
    assert (lena.nominated_by, lena.first_name) == (None, "Lena")
    assert Outbox(store).count_would_queue("invitation") == 2
    assert "No nominations wait" in invite(workspace, "nominations")


def test_under_review_the_reply_does_not_tell_who_is_already_on_the_list(
        workspace: Path, store: Store, settings: Settings, event: EventConfig) -> None:
    store.add_recipients([person("anna@example.org", "en", role="network_manager"),
                          person("known@example.org", "en")])
    client = TestClient(create_app(settings, event, store, clock=lambda: OPEN))
    url = form_url(settings, store, store.find_recipient("anna@example.org"), "en")
    pages = []
    for address in ("known@example.org", "new@example.org"):
        page = client.post(url, data={"attendance": "yes", "parts": ["symposium"],
                                      "nominee_name": "Same Name", "nominee_email": address,
                                      "nominee_organisation": "", "nominee_role": "company"})
        pages.append(page.text.replace(address, "ADDRESS"))
    assert EN.t("page.nominee_pending", name="Same Name", email="ADDRESS") in pages[0]
    assert pages[0] == pages[1]


def test_an_upgrade_keeps_a_crashed_mail_of_an_older_version_unknown(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path, isolation_level=None)
    for version in (1, 2, 3, 4):
        old.executescript(MIGRATIONS[version])
    old.execute("INSERT INTO meta (key, value) VALUES ('event_id', 'e1')")
    old.execute("INSERT INTO recipients (email_key, email, email_ascii, created_at, "
                "updated_at) VALUES ('a@x.org', 'a@x.org', 'a@x.org', 'now', 'now')")
    old.execute("INSERT INTO outbox (recipient_id, mailing, state, queued_at, updated_at) "
                "VALUES (1, 'invitation', 'sending', 'then', 'then')")
    old.execute("PRAGMA user_version = 4")
    old.close()
    store = open_store(path)
    try:
        outbox = Outbox(store)
        assert outbox.requeue_unhanded() == 0
        assert outbox.unknown() == ["a@x.org"]
    finally:
        store.close()
