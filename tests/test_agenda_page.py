"""The answer page lists a person's published meetings (#11): only what was told, in the
event's time zone, and the cached form equals Jinja's render with an agenda too."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rsvp.config import load_event
from rsvp.nominations import NominationForm, nomination_form
from rsvp.settings import load_settings
from rsvp.store import open_store
from rsvp.tokens import ANSWER, LinkSigner
from rsvp.web.app import create_app
from rsvp.web.pages import FORM, RECORDED, FormView, Pages, field_values
from tests.conftest import TEST_KEY
from tests.relay import ScriptedRelay, running_relay
from tests.test_pages_marked import SHIPPED
from tests.test_publish import ANNA, FIRST_PLAN, JOHN, brokerage_workspace, plan, publish

OPEN = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    return brokerage_workspace(tmp_path)


@pytest.fixture
def relay() -> Iterator[tuple[ScriptedRelay, int]]:
    with running_relay() as running:
        yield running


def answer_page(ws: Path, address: str, lang: str = "de") -> str:
    settings = load_settings(ws, {"INVITE_SECRET_KEY": TEST_KEY,
                                  "INVITE_BASE_URL": "http://testserver"})
    store = open_store(settings.database)
    try:
        person = store.find_recipient(address)
        token = LinkSigner(settings.secret_keys).sign(ANSWER, person.id, store.event_id,
                                                      person.token_version)
        app = create_app(settings, load_event(settings.event_file), store, clock=lambda: OPEN)
        with TestClient(app) as client:
            page = client.get(f"/r/{token}?lang={lang}")
        assert page.status_code == 200
        return page.text
    finally:
        store.close()


def test_the_answer_page_shows_published_meetings_only(
        ws: Path, relay: tuple[ScriptedRelay, int]) -> None:
    plan(ws, *FIRST_PLAN)
    assert "Ihre Gesprächstermine" not in answer_page(ws, ANNA)  # planned, not told yet
    publish(ws, relay[1])
    page = answer_page(ws, ANNA)
    assert "Ihre Gesprächstermine" in page
    assert ("<strong>Mittwoch, 10. April 2030, 14:00–14:20</strong>, Tisch 1: Cilas "
            '<span class="field">(Optische Keramik)</span>') in page
    assert "Tisch 2: Kreon" in page
    # Moved after publishing: the page keeps what Anna was told until the next publish.
    plan(ws, (ANNA, "cilas", 4, 3), (ANNA, "kreon", 1, 2))
    assert "14:00–14:20</strong>, Tisch 1: Cilas" in answer_page(ws, ANNA)
    publish(ws, relay[1])
    assert "15:20–15:40</strong>, Tisch 3: Cilas" in answer_page(ws, ANNA)
    assert "Your meetings" not in answer_page(ws, JOHN, "en")  # John's was cancelled


def test_a_meeting_told_cancelled_and_planned_again_is_not_shown_until_told(
        ws: Path, relay: tuple[ScriptedRelay, int]) -> None:
    plan(ws, *FIRST_PLAN)
    publish(ws, relay[1])  # John meets Cilas at 14:20
    plan(ws, (ANNA, "cilas", 0, 1), (ANNA, "kreon", 1, 2))
    publish(ws, relay[1])  # John is told it is cancelled
    assert "Your meetings" not in answer_page(ws, JOHN, "en")
    plan(ws, (ANNA, "cilas", 0, 1), (ANNA, "kreon", 1, 2), (JOHN, "cilas", 4, 1))
    # Planned again at another time, not told yet: John knows it as cancelled.
    assert "Your meetings" not in answer_page(ws, JOHN, "en")
    publish(ws, relay[1])
    page = answer_page(ws, JOHN, "en")
    assert "15:20–15:40</strong>, Table 1: Cilas" in page
    assert "14:20" not in page


def test_the_form_with_an_agenda_from_its_plan_equals_the_jinja_render(ws: Path,
                                                                      tmp_path: Path) -> None:
    event = load_event(ws / "event.toml")
    fast = Pages(event, tmp_path / "no-overrides")
    folder = tmp_path / "jinja"
    folder.mkdir()
    for name in (FORM, RECORDED, "_agenda.html.j2"):
        shutil.copy(SHIPPED / name, folder / name)
    slow = Pages(event, folder)
    meetings = [{"when": "10. April, 14:00–14:20", "place": "Tisch <1>", "company": "A & B",
                 "field": ""},
                {"when": "10. April, 14:20", "place": "Salle 'C'", "company": "Kreon",
                 "field": "3-D <Messtechnik>"}]
    store = open_store(ws / "invite.db")
    anna = store.find_recipient(ANNA).id

    def nomination() -> NominationForm:
        return nomination_form(store, event, anna, "de")

    for agenda in ((), meetings[:1], meetings, meetings[::-1]):
        view = FormView(greeting="Guten Tag", attendance=None, values=field_values(event, {}),
                        agenda=agenda)
        page = fast.form("de", "", False, view, nomination)
        assert page == slow.form("de", "", False, view, nomination)
        assert (b"Ihre Gespr\xc3\xa4chstermine" in page) == bool(agenda)
    store.close()
    assert fast._plans and slow._plans == {}  # the reference really is Jinja's
    assert b"A &amp; B</li>" in page and b"(3-D &lt;Messtechnik&gt;)" in page
