"""A test link (`invite send --test-to`) is forwarded for a look: the pages it opens
show nothing the person did (nominees, quota used, published meetings), on every path
that renders the form, and what it tries costs the person's own link nothing."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rsvp.config import load_event
from rsvp.i18n import catalogue
from rsvp.settings import load_settings
from rsvp.store import open_store
from rsvp.tokens import ANSWER, UNSUBSCRIBE, LinkSigner
from rsvp.web.app import create_app
from tests.conftest import AUTOMATIC_NOMINATIONS, TEST_KEY
from tests.relay import ScriptedRelay, running_relay
from tests.test_pages_marked import SHIPPED
from tests.test_publish import ANNA, FIRST_PLAN, brokerage_workspace, plan, publish

ENV = {"INVITE_SECRET_KEY": TEST_KEY, "INVITE_BASE_URL": "http://testserver"}
NOMINEE = {"nominee_name": "Jean Dupont", "nominee_email": "jean.dupont@example.fr",
           "nominee_organisation": "Dupont SARL", "nominee_role": "company"}
# What Anna's own page shows once she has put Jean forward and her meetings are told.
HERS = ("jean.dupont@example.fr", "Jean Dupont", "Ihre Gesprächstermine", "Tisch 1: Cilas",
        "Noch möglich: 1 von")


@pytest.fixture
def relay() -> Iterator[tuple[ScriptedRelay, int]]:
    with running_relay() as running:
        yield running


@pytest.fixture
def ws(tmp_path: Path, relay: tuple[ScriptedRelay, int]) -> Path:
    """Anna (German) with published meetings, in an event that lets people nominate."""
    folder = brokerage_workspace(tmp_path)
    with (folder / "event.toml").open("a", encoding="utf-8") as event:
        event.write(AUTOMATIC_NOMINATIONS)
    plan(folder, *FIRST_PLAN)
    publish(folder, relay[1])
    return folder


@contextmanager
def app(ws: Path) -> Iterator[tuple[TestClient, str, str, str]]:
    """The real app, with Anna's real answer link, her test answer link and her test
    unsubscribe link."""
    settings = load_settings(ws, ENV)
    store = open_store(settings.database)
    try:
        anna = store.find_recipient(ANNA)
        signer = LinkSigner(settings.secret_keys)
        args = (anna.id, store.event_id, anna.token_version)
        real, test = f"/r/{signer.sign(ANSWER, *args)}", f"/r/{signer.sign_test(ANSWER, *args)}"
        leave = f"/u/{signer.sign_test(UNSUBSCRIBE, *args)}"
        with TestClient(create_app(settings, load_event(settings.event_file), store)) as client:
            yield client, real, test, leave
    finally:
        store.close()


def nominated(ws: Path) -> None:
    """Anna puts Jean forward with her real link; her page then shows him and her meetings."""
    with app(ws) as (client, real, _, _):
        answer = client.post(real, data={"attendance": "yes", "meet": ["cilas"], **NOMINEE})
        assert answer.status_code == 200, answer.text
        own = client.get(real).text
    assert all(text in own for text in HERS), own


def shows_nothing_of_hers(page: str) -> None:
    assert catalogue("de").t("page.test_link") in page
    for text in HERS:
        assert text not in page, text


def test_the_test_form_shows_none_of_the_persons_nominees_or_meetings(ws: Path) -> None:
    nominated(ws)
    with app(ws) as (client, _, test, _):
        page = client.get(test)
        invalid = client.post(test, data={"attendance": "perhaps"})
        typed = client.post(test, data={"attendance": "yes", "meet": ["cilas"], **NOMINEE,
                                        "nominee_name": "Marie Curie",
                                        "nominee_email": "not-an-address"})
    assert page.status_code == 200
    shows_nothing_of_hers(page.text)
    assert invalid.status_code == 422
    shows_nothing_of_hers(invalid.text)
    assert typed.status_code == 422
    shows_nothing_of_hers(typed.text)
    assert "Marie Curie" in typed.text  # what was typed is shown back
    assert "Noch möglich" in typed.text  # the fieldset as someone imported sees it


def test_an_overridden_form_template_shows_none_of_it_either(ws: Path) -> None:
    nominated(ws)
    pages = ws / "templates" / "pages"
    pages.mkdir(parents=True, exist_ok=True)
    shutil.copy(SHIPPED / "form.html.j2", pages / "form.html.j2")
    with app(ws) as (client, real, test, _):
        own = client.get(real).text
        page = client.get(test)
    assert all(text in own for text in HERS)  # the override shows her own page in full
    assert page.status_code == 200
    shows_nothing_of_hers(page.text)


def test_a_nominee_through_the_api_with_a_test_link_is_not_stored(ws: Path) -> None:
    with app(ws) as (client, _, test, _):
        api = test.replace("/r/", "/api/responses/")
        answer = client.put(api, json={"attendance": "yes", "answers": {"meet": ["cilas"]},
                                       "nominee": {"name": "Jean Dupont",
                                                   "email": "jean.dupont@example.fr",
                                                   "organisation": "Dupont SARL",
                                                   "role": "company"}})
        shown = client.get(api).json()
    assert answer.status_code == 200, answer.text
    assert answer.json()["recorded"] is False
    assert shown["nominees"] == []
    store = open_store(ws / "invite.db")
    try:
        assert store.conn.execute("SELECT count(*) FROM recipients WHERE email = ?",
                                  ("jean.dupont@example.fr",)).fetchone()[0] == 0
    finally:
        store.close()


def test_using_up_the_test_links_allowance_leaves_the_real_link_working(ws: Path) -> None:
    with app(ws) as (client, real, test, _):
        statuses = [client.post(test, data={"attendance": "no"}).status_code
                    for _ in range(8)]
        answer = client.post(real, data={"attendance": "no"})
    assert statuses[0] == 200 and statuses[-1] == 429  # the test link is paced too
    assert answer.status_code == 200, answer.text


def test_subscribing_again_with_a_test_link_changes_nothing(ws: Path) -> None:
    store = open_store(ws / "invite.db")
    try:
        store.unsubscribe(store.find_recipient(ANNA).id)
    finally:
        store.close()
    with app(ws) as (client, _, _, leave):
        page = client.post(leave, data={"action": "resubscribe"})
    assert page.status_code == 200
    assert catalogue("de").t("page.test_unsubscribed") in page.text
    store = open_store(ws / "invite.db")
    try:
        assert store.find_recipient(ANNA).unsubscribed_at is not None
    finally:
        store.close()
