"""The form and recorded pages: filled from their plans they equal Jinja's render, byte for
byte, and they tell a person who said yes where they stand (issue 3 and the admission notice).
"""

from __future__ import annotations

import shutil
import tomllib
from collections.abc import Iterator
from datetime import UTC, date, datetime
from importlib.resources import files
from itertools import product
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from mailer.people.workspace import init_workspace
from rsvp.admission import decide
from rsvp.config import EventConfig, load_event
from rsvp.i18n import catalogue
from rsvp.nominations import NominationForm, nominate, nomination_form, nominees
from rsvp.settings import Settings
from rsvp.store import Response, Store
from rsvp.tokens import ANSWER, LinkSigner
from rsvp.web.app import create_app
from rsvp.web.pages import FORM, MAX_PLANS, RECORDED, FormView, Pages, field_values
from tests.conftest import person
from tests.test_app import MORE_QUESTIONS

OPEN = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
SHIPPED = Path(str(files("templates").joinpath("pages")))
# Texts a person controls, with everything HTML must escape.
GREETING = "Sehr geehrte Frau <Müller> & 'Söhne',"
STANDING = 'You are number 3 on the "waiting" list & <b>more</b>.'
ANSWERS: list[tuple[str, dict[str, Any]] | None] = [
    None,
    ("yes", {"arrival": "train", "parts": ["visits", "symposium"], "french_help": True,
             "comment": "Vegetarisch, <bitte> & \"danke\"\nZeile 2", "guests": 1,
             "meet": ["cilas", "kreon"], "topics": "Keramik", "programme_wishes": "x < y"}),
    ("yes", {"parts": ["symposium"], "french_help": False}),
    ("maybe", {"arrival": "car", "comment": "vielleicht"}),
    ("no", {"comment": ""}),
]


@pytest.fixture(params=["test event", "example event"])
def rich_event(request: pytest.FixtureRequest, workspace: Path, tmp_path: Path) -> EventConfig:
    """The conftest event with a choice and a number question, or the shipped example."""
    if request.param == "example event":
        folder = init_workspace(tmp_path / "limoges", today=date(2030, 1, 7))
        return load_event(folder / "event.toml")
    path = workspace / "event.toml"
    path.write_text(path.read_text(encoding="utf-8") + MORE_QUESTIONS, encoding="utf-8")
    return load_event(path)


def jinja_pages(event: EventConfig, folder: Path) -> Pages:
    """Pages whose workspace overrides both hot pages with the shipped files: all Jinja."""
    folder.mkdir()
    for name in (FORM, RECORDED):
        shutil.copy(SHIPPED / name, folder / name)
    return Pages(event, folder)


def nominators(store: Store, event: EventConfig) -> Iterator[int]:
    """Recipients who put forward nobody, one person without organisation, one with, and
    two people (one with organisation): the page shows ", organisation" only if given."""
    names = ("none", "one", "two", "org")
    store.add_recipients([person(f"{name}@example.org", role="network_manager")
                          for name in names])
    ids = [store.find_recipient(f"{name}@example.org").id for name in names]
    nominate(store, event, ids[1], "Nina <Nom>", "nina@example.org", "", "company", "de")
    nominate(store, event, ids[3], "Olga", "olga@example.org", "Olga GmbH", "company", "de")
    nominate(store, event, ids[2], "Otto O'Neil", "otto@example.org", "Otto & Söhne <AG>",
             "company", "de")
    nominate(store, event, ids[2], "Pia", "pia@example.org", "", "company", "de")
    return iter(ids)


def response(answer: tuple[str, dict[str, Any]] | None) -> Response | None:
    if answer is None:
        return None
    return Response(1, answer[0], answer[1], "web", "2030-03-01T12:00:00+00:00",
                    "2030-03-01T12:00:00+00:00")


def test_the_form_from_its_plan_equals_the_jinja_render(
        rich_event: EventConfig, store: Store, tmp_path: Path) -> None:
    fast = Pages(rich_event, tmp_path / "no-overrides")
    slow = jinja_pages(rich_event, tmp_path / "jinja")
    cases = product(rich_event.languages, (False, True), ("", "/rsvp"), ANSWERS,
                    list(nominators(store, rich_event)), ("", STANDING))
    compared = 0
    for lang, closed, root, answer, nominator, standing in cases:
        current = response(answer)
        view = FormView(greeting=GREETING, attendance=current.attendance if current else None,
                        values=field_values(rich_event, current.answers if current else {}),
                        answer=current, nominees=nominees(store, nominator), standing=standing)

        def nomination(who: int = nominator, lang: str = lang) -> Any:
            return nomination_form(store, rich_event, who, lang)

        page = fast.form(lang, root, closed, view, nomination)
        assert page == slow.form(lang, root, closed, view, nomination), (lang, closed, answer)
        compared += 1
    assert compared == len(rich_event.languages) * 2 * 2 * 5 * 4 * 2
    # One plan per shape, never per person: two of the answers are yes (same shape), the
    # four nominators have four shapes; beyond MAX_PLANS the oldest plans make room.
    shapes = len(rich_event.languages) * 2 * 2 * 4 * 4 * 2
    assert len(fast._plans) == min(shapes, MAX_PLANS) < compared
    assert slow._plans == {}  # the reference really is Jinja's


def test_the_recorded_page_from_its_plan_equals_the_jinja_render(
        rich_event: EventConfig, tmp_path: Path) -> None:
    fast = Pages(rich_event, tmp_path / "no-overrides")
    slow = jinja_pages(rich_event, tmp_path / "jinja")
    nominated = "We will send an invitation to Otto <O'Neil> (otto@example.org)."
    for lang, root, answer, nomination, standing in product(
            rich_event.languages, ("", "/rsvp"), ANSWERS[1:], ("", nominated), ("", STANDING)):
        recorded = response(answer)
        assert recorded is not None
        assert (fast.recorded(lang, root, recorded, nomination, standing)
                == slow.recorded(lang, root, recorded, nomination, standing))
    assert fast._plans and slow._plans == {}


def test_people_with_the_same_shape_share_a_plan_but_see_only_their_own_values(
        rich_event: EventConfig, tmp_path: Path) -> None:
    pages = Pages(rich_event, tmp_path / "none")
    first = FormView(greeting="Dear Ms Alpha,", attendance="yes", answer=response(ANSWERS[1]),
                     values=field_values(rich_event, {"comment": "alpha", "parts": ["visits"]}))
    second = first._replace(greeting="Dear Mr Beta,",
                            values=field_values(rich_event, {"comment": "beta"}))
    one = pages.form("en", "", False, first, lambda: nomination_stub(rich_event))
    # The second person's page comes from the plan the first one's made: no Jinja, so
    # the nominee fieldset's data is not even asked for.
    two = pages.form("en", "", False, second, lambda: pytest.fail("Jinja was asked"))
    assert b"Dear Ms Alpha," in one and b"Dear Ms Alpha," not in two
    assert b">alpha</textarea>" in one and b">beta</textarea>" in two
    assert b'value="visits" checked' in one and b'value="visits" checked' not in two


def test_a_workspace_override_of_a_part_is_rendered_by_jinja(
        rich_event: EventConfig, tmp_path: Path) -> None:
    """An old-style override (values compared in the template) still shows the right state."""
    folder = tmp_path / "pages"
    folder.mkdir()
    old_style = (SHIPPED / "_question.html.j2").read_text(encoding="utf-8").replace(
        '{{ checked(q.id, o.id) }}', '{% if o.id in values[q.id] %} checked{% endif %} data-own')
    (folder / "_question.html.j2").write_text(old_style, encoding="utf-8")
    pages = Pages(rich_event, folder)
    view = FormView(greeting="Hallo,", attendance="yes", answer=None,
                    values=field_values(rich_event, {"parts": ["symposium"]}))
    page = pages.form("de", "", False, view, lambda: nomination_stub(rich_event)).decode()
    assert 'value="symposium" checked data-own' in page
    assert 'value="visits" data-own' in page


def nomination_stub(event: EventConfig) -> NominationForm:
    """The nominee fieldset's data for someone who put nobody forward, without a store."""
    return NominationForm(limit=event.rsvp.nominations_per_recipient, nominees=[], roles=[],
                          values=dict.fromkeys(("name", "email", "organisation", "role"), ""))


def test_a_stray_marker_character_in_the_event_falls_back_to_jinja(
        workspace: Path, tmp_path: Path) -> None:
    path = workspace / "event.toml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        'intro = { de = "Ein Absatz."', 'intro = { de = "Ein \\u0000Absatz."'), encoding="utf-8")
    event = load_event(path)
    view = FormView(greeting="Hallo <du>,", attendance="no", values=field_values(event, {}))
    fast = Pages(event, tmp_path / "none").form("de", "", False, view,
                                                lambda: nomination_stub(event))
    slow = jinja_pages(event, tmp_path / "jinja").form("de", "", False, view,
                                                       lambda: nomination_stub(event))
    assert fast == slow
    assert b"Ein \x00Absatz." in fast
    assert b"Hallo &lt;du&gt;," in fast


# where the person stands, through the web app


def link(settings: Settings, store: Store, name: str) -> str:
    who = store.find_recipient(f"{name}@example.org")
    return "/r/" + LinkSigner(settings.secret_keys).sign(ANSWER, who.id, store.event_id,
                                                         who.token_version)


def standing_of(page: str) -> str | None:
    """The text of the page's standing notice, unescaped, or None without one."""
    start = page.find('<p class="notice standing" role="status">')
    if start < 0:
        return None
    text = page[start:].split(">", 1)[1].split("</p>", 1)[0]
    return text.replace("&#39;", "'").replace("&#34;", '"').replace("&amp;", "&")


def first_come(workspace: Path) -> EventConfig:
    path = workspace / "event.toml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        'admission = "selection"', 'admission = "first-come"'), encoding="utf-8")
    return load_event(path)


def test_under_selection_a_yes_is_an_application_until_the_organiser_decides(
        settings: Settings, event: EventConfig, store: Store) -> None:
    client = TestClient(create_app(settings, event, store, clock=lambda: OPEN))
    store.add_recipients([person("ada@example.org", "fr", role="company", last_name="Ada")])
    url = link(settings, store, "ada")
    recorded = client.post(url, data={"attendance": "yes", "parts": "visits"}).text
    fr = catalogue("fr")
    assert standing_of(recorded) == fr.t("page.standing_applied")
    assert standing_of(client.get(url).text) == fr.t("page.standing_applied")
    assert standing_of(client.get(url + "?lang=de").text) == catalogue("de").t(
        "page.standing_applied")
    ada = store.find_recipient("ada@example.org").id
    for decision in ("admitted", "waitlisted", "declined"):
        decide(store, event, ada, decision)
        for lang in ("de", "fr", "en"):
            page = client.get(f"{url}?lang={lang}").text
            assert standing_of(page) == catalogue(lang).t(f"page.standing_{decision}")
    decide(store, event, ada, "admitted")
    again = client.post(url, data={"attendance": "yes", "parts": "symposium"}).text
    assert standing_of(again) == fr.t("page.standing_admitted")


@pytest.mark.parametrize("attendance", ["no", "maybe"])
def test_no_standing_is_told_without_a_yes(settings: Settings, event: EventConfig,
                                           store: Store, attendance: str) -> None:
    client = TestClient(create_app(settings, event, store, clock=lambda: OPEN))
    store.add_recipients([person("ada@example.org", role="company", last_name="Ada")])
    url = link(settings, store, "ada")
    assert standing_of(client.get(url).text) is None
    assert standing_of(client.post(url, data={"attendance": attendance}).text) is None
    decide(store, event, store.find_recipient("ada@example.org").id, "admitted")
    assert standing_of(client.get(url).text) is None


def test_under_first_come_the_page_says_place_or_position_on_the_waiting_list(
        settings: Settings, workspace: Path, store: Store) -> None:
    event = first_come(workspace)  # two places per role
    client = TestClient(create_app(settings, event, store, clock=lambda: OPEN))
    names = ("ada", "ben", "cleo", "dan")
    store.add_recipients([person(f"{n}@example.org", "en", role="company", last_name=n.title())
                          for n in names])
    en = catalogue("en")
    told = {n: standing_of(client.post(link(settings, store, n), data={
        "attendance": "yes", "parts": "visits"}).text) for n in names}
    assert told == {"ada": en.t("page.standing_admitted"), "ben": en.t("page.standing_admitted"),
                    "cleo": en.t("page.standing_waitlisted_at", position=1),
                    "dan": en.t("page.standing_waitlisted_at", position=2)}
    assert "number 2 on the waiting list" in str(told["dan"])
    client.post(link(settings, store, "ada"), data={"attendance": "no"})
    shown = {n: standing_of(client.get(link(settings, store, n)).text) for n in names}
    assert shown == {"ada": None, "ben": en.t("page.standing_admitted"),
                     "cleo": en.t("page.standing_admitted"),
                     "dan": en.t("page.standing_waitlisted_at", position=1)}
    de = client.get(link(settings, store, "dan") + "?lang=de").text
    assert standing_of(de) == catalogue("de").t("page.standing_waitlisted_at", position=1)
    assert "an 1. Stelle der Warteliste" in str(standing_of(de))


def test_the_closed_page_still_says_where_the_person_stands(
        settings: Settings, event: EventConfig, store: Store) -> None:
    store.add_recipients([person("ada@example.org", role="company", last_name="Ada")])
    ada = store.find_recipient("ada@example.org").id
    store.record_answer(ada, "yes", {"parts": ["visits"]}, "web", now=OPEN)
    decide(store, event, ada, "admitted")
    closed = TestClient(create_app(settings, event, store,
                                   clock=lambda: datetime(2030, 3, 27, tzinfo=UTC)))
    page = closed.get(link(settings, store, "ada")).text
    assert "<form" not in page
    assert standing_of(page) == catalogue("de").t("page.standing_admitted")
    assert str(escape(catalogue("de").t("page.current_answer"))) in page


# the store's reads for the page


def test_answer_view_reads_person_answer_and_nominees_in_one(store: Store,
                                                             event: EventConfig) -> None:
    store.add_recipients([person("ada@example.org", role="network_manager", last_name="Ada",
                                 title="Dr.")])
    ada = store.find_recipient("ada@example.org")
    assert store.answer_view(ada.id) == (ada, None, False)
    store.record_answer(ada.id, "maybe", {"comment": "hm"}, "web", now=OPEN)
    nominate(store, event, ada.id, "Ben Bär", "ben@example.org", "", "company", "de")
    view = store.answer_view(ada.id)
    assert view == (store.recipient(ada.id), store.response(ada.id), True)
    assert store.answer_view(9999) is None


def test_waitlist_position_follows_the_order_places_are_given(
        settings: Settings, workspace: Path, store: Store) -> None:
    event = first_come(workspace)
    client = TestClient(create_app(settings, event, store, clock=lambda: OPEN))
    names = ("ada", "ben", "cleo", "dan", "eve")
    store.add_recipients([person(f"{n}@example.org", role="company") for n in names])
    store.add_recipients([person("max@example.org", role="network_manager")])
    for n in names:
        client.post(link(settings, store, n), data={"attendance": "yes", "parts": "visits"})
    position = {n: store.waitlist_position(store.find_recipient(f"{n}@example.org").id)
                for n in (*names, "max")}
    assert position == {"ada": None, "ben": None, "cleo": 1, "dan": 2, "eve": 3, "max": None}
    client.post(link(settings, store, "cleo"), data={"attendance": "maybe"})
    assert store.waitlist_position(store.find_recipient("dan@example.org").id) == 1
    client.post(link(settings, store, "ada"), data={"attendance": "no"})
    assert store.find_recipient("dan@example.org").admission == "admitted"
    assert store.waitlist_position(store.find_recipient("eve@example.org").id) == 1


# the route itself and the catalogues


def test_head_shows_nothing_new_and_other_methods_get_the_plain_page(
        settings: Settings, event: EventConfig, store: Store) -> None:
    client = TestClient(create_app(settings, event, store, clock=lambda: OPEN))
    store.add_recipients([person("ada@example.org", last_name="Ada")])
    url = link(settings, store, "ada")
    assert client.head(url).status_code == 200
    refused = client.delete(url)
    assert refused.status_code == 405
    assert str(escape(catalogue("de").t("errors.method_text"))) in refused.text
    assert refused.headers["x-content-type-options"] == "nosniff"
    assert store.response(store.find_recipient("ada@example.org").id) is None


PAGE_SECTIONS = ("page.", "errors.", "ratelimit.", "roles.")


def keys(table: dict[str, Any], prefix: str = "") -> set[str]:
    found: set[str] = set()
    for key, value in table.items():
        found |= keys(value, f"{prefix}{key}.") if isinstance(value, dict) else {prefix + key}
    return found


def test_the_three_catalogues_have_the_same_page_texts() -> None:
    """Every text the pages use exists in each language (date parts and the optional
    titled greeting may differ by language)."""
    messages = files("templates").joinpath("messages")
    catalogues = {lang: {key for key in keys(tomllib.loads(messages.joinpath(
        f"{lang}.toml").read_text(encoding="utf-8"))) if key.startswith(PAGE_SECTIONS)}
        for lang in ("de", "fr", "en")}
    assert catalogues["de"] ^ catalogues["en"] == set()
    assert catalogues["fr"] ^ catalogues["en"] == set()
    assert {f"page.standing_{state}" for state in (
        "admitted", "waitlisted", "waitlisted_at", "declined", "applied")} <= catalogues["en"]
