"""The recipient's web app over a real SQLite store, through FastAPI's TestClient."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from rsvp.config import EventConfig, load_event
from rsvp.i18n import catalogue
from rsvp.settings import Settings, load_settings
from rsvp.store import Recipient, Store
from rsvp.tokens import ANSWER, UNSUBSCRIBE, LinkSigner
from rsvp.web.app import app_from_env, create_app
from tests.conftest import TEST_KEY, person

OPEN = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
AFTER_DEADLINE = datetime(2030, 3, 26, 17, 0, 1, tzinfo=UTC)
OTHER_KEY = "another-secret-key-fedcba9876543210"

MORE_QUESTIONS = """
[[questions]]
id = "arrival"
type = "choice"
label = { de = "Anreise", fr = "Arrivée", en = "Arrival" }
options = [ { id = "train", label = { de = "Bahn", fr = "Train", en = "Train" } },
            { id = "car", label = { de = "Auto", fr = "Voiture", en = "Car" } } ]
required = true
when = "yes_or_maybe"

[[questions]]
id = "guests"
type = "number"
label = { de = "Begleitpersonen", fr = "Accompagnants", en = "Guests" }
"""

DE = catalogue("de")
EN = catalogue("en")


@pytest.fixture
def web_event(workspace: Path) -> EventConfig:
    """The conftest event plus a required choice and a number question."""
    path = workspace / "event.toml"
    path.write_text(path.read_text(encoding="utf-8") + MORE_QUESTIONS, encoding="utf-8")
    return load_event(path)


@pytest.fixture
def client(settings: Settings, web_event: EventConfig, store: Store) -> TestClient:
    return TestClient(create_app(settings, web_event, store, clock=lambda: OPEN))


@pytest.fixture
def closed_client(settings: Settings, web_event: EventConfig, store: Store) -> TestClient:
    return TestClient(create_app(settings, web_event, store, clock=lambda: AFTER_DEADLINE))


@pytest.fixture
def erika(store: Store) -> Recipient:
    store.add_recipients([person("erika@example.org", "de", salutation="Frau",
                                 first_name="Erika", last_name="Muster")])
    return store.find_recipient("erika@example.org")


def token(settings: Settings, store: Store, who: Recipient, purpose: str = ANSWER) -> str:
    return LinkSigner(settings.secret_keys).sign(purpose, who.id, store.event_id, who.token_version)


def form_url(settings: Settings, store: Store, who: Recipient, lang: str = "") -> str:
    return f"/r/{token(settings, store, who)}" + (f"?lang={lang}" if lang else "")


def shown(text: str) -> str:
    """Return `text` as it appears in the HTML (autoescaped)."""
    return str(escape(text))


YES = {"attendance": "yes", "arrival": "train", "parts": ["visits", "symposium"],
       "french_help": "yes", "comment": "Vegetarisch, bitte.", "guests": "1"}


# reading and answering


def test_get_shows_the_form_and_records_nothing(client: TestClient, settings: Settings,
                                                store: Store, erika: Recipient) -> None:
    page = client.get(form_url(settings, store, erika))
    assert page.status_code == 200
    assert '<html lang="de">' in page.text
    for text in ("Testtreffen", "Sehr geehrte Frau Muster,", "Limoges",
                 "Mittwoch, 10. April 2030, 09:00 bis 18:00 Uhr",
                 "Dienstag, 26. März 2030, 18:00 Uhr", DE.t("page.attendance_legend"),
                 DE.t("page.only_if_yes"), DE.t("page.only_if_yes_or_maybe"), "Bahn"):
        assert shown(text) in page.text
    assert 'name="viewport"' in page.text
    assert "<script" not in page.text
    assert store.response(erika.id) is None
    assert store.history(erika.id) == []


def test_every_control_has_a_label(client: TestClient, settings: Settings, store: Store,
                                   erika: Recipient) -> None:
    page = client.get(form_url(settings, store, erika)).text
    for control in ("f-attendance-yes", "f-attendance-no", "f-attendance-maybe",
                    "f-parts-visits", "f-parts-symposium", "f-french_help", "f-comment",
                    "f-arrival-train", "f-arrival-car", "f-guests", "f-nominee_name",
                    "f-nominee_email", "f-nominee_organisation", "f-nominee_role"):
        assert f'id="{control}"' in page
        assert f'<label for="{control}">' in page
    assert page.count("<fieldset") == page.count("<legend>") == 4


def test_post_records_and_a_second_post_changes_it(client: TestClient, settings: Settings,
                                                   store: Store, erika: Recipient) -> None:
    url = form_url(settings, store, erika)
    first = client.post(url, data=YES)
    assert first.status_code == 200
    for text in (DE.t("page.recorded_heading"), "Ja, ich nehme teil", "Visits, Symposium",
                 "Bahn", "Vegetarisch, bitte.", DE.t("page.change")):
        assert shown(text) in first.text
    response = store.response(erika.id)
    assert response is not None and response.source == "web"
    assert response.attendance == "yes"
    assert response.answers == {"arrival": "train", "parts": ["visits", "symposium"],
                                "french_help": True, "comment": "Vegetarisch, bitte.",
                                "guests": 1}
    client.post(url, data={"attendance": "no"})
    client.post(url, data={"attendance": "no"})
    history = store.history(erika.id)
    assert [row["attendance"] for row in history] == ["yes", "no"]
    assert store.response(erika.id).answers == {}  # type: ignore[union-attr]


def test_the_form_is_prefilled_with_the_current_answer(client: TestClient, settings: Settings,
                                                       store: Store, erika: Recipient) -> None:
    url = form_url(settings, store, erika)
    client.post(url, data=YES)
    page = client.get(url).text
    for control in ("f-attendance-yes", "f-parts-visits", "f-parts-symposium",
                    "f-french_help", "f-arrival-train"):
        assert f'id="{control}" value' in page
        assert page.split(f'id="{control}"')[1].split(">")[0].count("checked") == 1
    assert 'id="f-attendance-no" value="no" required>' in page
    assert ">Vegetarisch, bitte.</textarea>" in page
    assert 'value="1"' in page


def test_questions_for_attendees_are_dropped_for_no(client: TestClient, settings: Settings,
                                                    store: Store, erika: Recipient) -> None:
    client.post(form_url(settings, store, erika), data={**YES, "attendance": "no"})
    response = store.response(erika.id)
    assert response is not None
    assert response.answers == {"comment": "Vegetarisch, bitte.", "guests": 1}


def test_choices_are_stored_as_a_list(client: TestClient, settings: Settings, store: Store,
                                      erika: Recipient) -> None:
    client.post(form_url(settings, store, erika), data={**YES, "parts": "symposium"})
    assert store.response(erika.id).answers["parts"] == ["symposium"]  # type: ignore[union-attr]


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"attendance": ""}, "attendance", DE.t("errors.attendance")),
    ({"attendance": "perhaps"}, "attendance", DE.t("errors.attendance")),
    ({"arrival": ""}, "arrival", DE.t("errors.required")),
    ({"arrival": "plane"}, "arrival", DE.t("errors.choice")),
    ({"parts": ["visits", "spa"]}, "parts", DE.t("errors.choices")),
    ({"comment": "x" * 201}, "comment",
     "Bitte kürzen Sie Ihre Antwort auf höchstens 200 Zeichen (derzeit 201)."),
    ({"comment": "ring\x07ring"}, "comment", DE.t("errors.control")),
    ({"french_help": "perhaps"}, "french_help", DE.t("errors.boolean")),
    ({"guests": "two"}, "guests", DE.t("errors.number")),
])
def test_a_mistake_is_shown_next_to_its_field_and_changes_nothing(
        client: TestClient, settings: Settings, store: Store, erika: Recipient,
        change: dict[str, Any], field: str, message: str) -> None:
    page = client.post(form_url(settings, store, erika), data={**YES, **change})
    assert page.status_code == 422
    assert 'role="alert"' in page.text
    assert f'<p class="error" id="e-{field}">{shown(message)}</p>' in page.text
    assert f'aria-describedby="e-{field}"' in page.text or f' e-{field}"' in page.text
    assert f'<a href="#f-{field}">' in page.text
    assert store.response(erika.id) is None
    assert store.history(erika.id) == []


def test_a_rejected_form_keeps_what_was_typed(client: TestClient, settings: Settings,
                                              store: Store, erika: Recipient) -> None:
    page = client.post(form_url(settings, store, erika, "en"),
                       data={**YES, "guests": "lots", "comment": "Keep <me>"}).text
    assert shown(EN.t("errors.number")) in page
    assert 'name="guests" id="f-guests" value="lots"' in page
    assert ">Keep &lt;me&gt;</textarea>" in page
    assert 'id="f-arrival-train" value="train" checked' in page
    assert 'id="f-attendance-yes" value="yes" checked' in page


def test_a_recorded_text_is_escaped(client: TestClient, settings: Settings, store: Store,
                                    erika: Recipient) -> None:
    url = form_url(settings, store, erika)
    evil = "<script>alert(1)</script>"
    recorded = client.post(url, data={**YES, "comment": evil}).text
    again = client.get(url).text
    for page in (recorded, again):
        assert evil not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert store.response(erika.id).answers["comment"] == evil  # type: ignore[union-attr]


# languages


def test_the_page_speaks_the_recipients_language(client: TestClient, settings: Settings,
                                                 store: Store) -> None:
    store.add_recipients([person("jean@example.org", "fr", salutation="M.", last_name="Dupont")])
    jean = store.find_recipient("jean@example.org")
    page = client.get(form_url(settings, store, jean)).text
    assert '<html lang="fr">' in page
    assert "Monsieur Dupont," in page
    assert shown(catalogue("fr").t("page.attendance_legend")) in page
    assert '<a href="?lang=de" hreflang="de" lang="de">Deutsch</a>' in page
    assert '<a href="?lang=en" hreflang="en" lang="en">English</a>' in page


def test_the_language_can_be_switched(client: TestClient, settings: Settings, store: Store,
                                      erika: Recipient) -> None:
    page = client.get(form_url(settings, store, erika, "en")).text
    assert '<html lang="en">' in page
    assert "Dear Ms Muster," in page
    assert 'action="?lang=en"' in page
    assert '<a href="?lang=fr" hreflang="fr" lang="fr">Français</a>' in page
    unknown = client.get(form_url(settings, store, erika, "xx")).text
    assert '<html lang="de">' in unknown


def test_a_person_without_a_known_language_gets_the_default(
        client: TestClient, settings: Settings, store: Store) -> None:
    store.add_recipients([person("it@example.org", "it", last_name="Rossi")])
    page = client.get(form_url(settings, store, store.find_recipient("it@example.org"))).text
    assert '<html lang="de">' in page


# the JSON twin


def test_json_get_and_put(client: TestClient, settings: Settings, store: Store,
                          erika: Recipient) -> None:
    url = f"/api/responses/{token(settings, store, erika)}"
    assert client.get(url).json() == {"attendance": None, "answers": {},
                                      "deadline": "2030-03-26T18:00:00+01:00", "editable": True,
                                      "nominees": []}
    put = client.put(url, json={"attendance": "maybe",
                                "answers": {"arrival": "car", "comment": "Vielleicht", "guests": 2,
                                            "parts": ["visits"], "french_help": True}})
    expected = {"attendance": "maybe", "answers": {"arrival": "car", "comment": "Vielleicht",
                                                   "guests": 2},
                "deadline": "2030-03-26T18:00:00+01:00", "editable": True, "nominees": []}
    assert put.status_code == 200
    assert put.json() == expected
    assert client.get(url).json() == expected
    assert store.response(erika.id).source == "api"  # type: ignore[union-attr]
    assert len(store.history(erika.id)) == 1


@pytest.mark.parametrize(("body", "detail"), [
    ({"attendance": "yes", "answers": {"arrival": "car", "shoe_size": 44}},
     {"shoe_size": EN.t("errors.unknown")}),
    ({"attendance": "often", "answers": {}}, {"attendance": EN.t("errors.attendance")}),
    ({"attendance": "yes", "answers": {"parts": "visits", "arrival": "car"}},
     {"parts": EN.t("errors.choices")}),
    ({"attendance": "no", "answers": [], "when": "now"},
     {"when": EN.t("errors.unknown_field"), "answers": EN.t("errors.answers")}),
    ([1, 2], {"body": EN.t("errors.body")}),
])
def test_json_put_names_the_bad_field_and_changes_nothing(
        client: TestClient, settings: Settings, store: Store, erika: Recipient,
        body: Any, detail: dict[str, str]) -> None:
    put = client.put(f"/api/responses/{token(settings, store, erika)}?lang=en", json=body)
    assert put.status_code == 422
    assert put.json() == {"detail": detail}
    assert store.response(erika.id) is None


def test_json_put_that_is_not_json(client: TestClient, settings: Settings, store: Store,
                                   erika: Recipient) -> None:
    put = client.put(f"/api/responses/{token(settings, store, erika)}", content=b"{nope",
                     headers={"content-type": "application/json"})
    assert put.status_code == 422
    assert put.json() == {"detail": {"body": DE.t("errors.body")}}


# links that cannot be used


def bad_links(settings: Settings, store: Store, who: Recipient) -> dict[str, str]:
    """Unusable ANSWER links for `who`, by kind."""
    good = token(settings, store, who)
    signer = LinkSigner(settings.secret_keys)
    return {
        "tampered": good[:-2] + ("AA" if good[-2:] != "AA" else "BB"),
        "other key": LinkSigner((OTHER_KEY,)).sign(ANSWER, who.id, store.event_id, 1),
        "other event": signer.sign(ANSWER, who.id, "0123456789ab", who.token_version),
        "other purpose": signer.sign(UNSUBSCRIBE, who.id, store.event_id, who.token_version),
        "garbage": "not-a-token",
    }


@pytest.mark.parametrize("kind", ["tampered", "other key", "other event", "other purpose",
                                  "garbage"])
def test_an_unusable_link_gets_the_same_plain_page(
        client: TestClient, settings: Settings, store: Store, erika: Recipient, kind: str) -> None:
    ghost = Recipient(id=9999, email="ghost@example.org", email_ascii="ghost@example.org")
    pages = [client.get(f"/r/{bad_links(settings, store, who)[kind]}") for who in (erika, ghost)]
    assert [page.status_code for page in pages] == [400, 400]
    assert pages[0].text == pages[1].text
    assert shown(EN.t("errors.link_invalid_text")) in pages[0].text
    assert shown(DE.t("errors.link_invalid_text")) in pages[0].text
    assert '<html lang="de">' in pages[0].text
    assert "Traceback" not in pages[0].text
    post = client.post(f"/r/{bad_links(settings, store, erika)[kind]}", data=YES)
    assert post.status_code == 400
    assert store.response(erika.id) is None


def test_a_revoked_link_looks_like_an_unknown_person(
        client: TestClient, settings: Settings, store: Store, erika: Recipient,
        caplog: pytest.LogCaptureFixture) -> None:
    old = token(settings, store, erika)
    store.revoke_link(erika.id)
    nobody = LinkSigner(settings.secret_keys).sign(ANSWER, 9999, store.event_id, 1)
    with caplog.at_level(logging.INFO, logger="invite.web"):
        revoked = client.get(f"/r/{old}")
        unknown = client.get(f"/r/{nobody}")
    assert (revoked.status_code, unknown.status_code) == (400, 400)
    assert revoked.text == unknown.text
    assert "revoked" not in revoked.text
    assert [r.name for r in caplog.records] == ["invite.web", "invite.web"]
    assert "revoked" in caplog.records[0].getMessage()
    assert "unknown recipient 9999" in caplog.records[1].getMessage()
    api = client.get(f"/api/responses/{old}")
    assert api.status_code == 400
    assert api.json() == {"detail": DE.t("errors.link_invalid_text")}


def test_an_expired_link_gets_its_own_page(client: TestClient, settings: Settings,
                                           store: Store, erika: Recipient) -> None:
    old = LinkSigner(settings.secret_keys, clock=lambda: 1_000_000_000).sign(
        ANSWER, erika.id, store.event_id, erika.token_version)
    page = client.get(f"/r/{old}")
    assert page.status_code == 410
    assert shown(DE.t("errors.link_expired_text")) in page.text
    api = client.put(f"/api/responses/{old}", json={"attendance": "yes"})
    assert api.status_code == 410
    assert api.json() == {"detail": DE.t("errors.link_expired_text")}
    assert store.response(erika.id) is None


def test_links_signed_with_a_retired_key_still_work(workspace: Path, web_event: EventConfig,
                                                    store: Store, erika: Recipient) -> None:
    old = LinkSigner((TEST_KEY,)).sign(ANSWER, erika.id, store.event_id, erika.token_version)
    rotated = load_settings(workspace, {"INVITE_SECRET_KEY": f"{TEST_KEY},{OTHER_KEY}"})
    client = TestClient(create_app(rotated, web_event, store, clock=lambda: OPEN))
    assert client.get(f"/r/{old}").status_code == 200
    assert client.post(f"/r/{old}", data={"attendance": "no"}).status_code == 200


# the deadline


def test_after_the_deadline_the_answer_is_read_only(
        closed_client: TestClient, settings: Settings, store: Store, erika: Recipient) -> None:
    store.record_answer(erika.id, "yes", {"arrival": "car", "parts": ["visits"]}, source="web")
    url = form_url(settings, store, erika)
    page = closed_client.get(url)
    assert page.status_code == 200
    assert "<form" not in page.text
    assert shown(DE.t("page.closed", deadline="Dienstag, 26. März 2030, 18:00 Uhr")) in page.text
    assert "Auto" in page.text and "Visits" in page.text
    refused = closed_client.post(url, data={"attendance": "no"})
    assert refused.status_code == 409
    assert "<form" not in refused.text
    put = closed_client.put(f"/api/responses/{token(settings, store, erika)}",
                            json={"attendance": "no", "answers": {}})
    assert put.status_code == 409
    assert put.json() == {"detail": DE.t("errors.deadline_text")}
    assert closed_client.get(f"/api/responses/{token(settings, store, erika)}").json()[
        "editable"] is False
    response = store.response(erika.id)
    assert response is not None and response.attendance == "yes"
    assert len(store.history(erika.id)) == 1


def test_after_the_deadline_without_an_answer(closed_client: TestClient, settings: Settings,
                                              store: Store, erika: Recipient) -> None:
    page = closed_client.get(form_url(settings, store, erika)).text
    assert shown(DE.t("page.closed_no_answer")) in page


# unsubscribing


def test_unsubscribe_asks_first_and_then_is_idempotent(
        client: TestClient, settings: Settings, store: Store, erika: Recipient) -> None:
    url = f"/u/{token(settings, store, erika, UNSUBSCRIBE)}"
    ask = client.get(url)
    assert ask.status_code == 200
    assert shown(DE.t("page.unsubscribe_button")) in ask.text
    assert '<form method="post"' in ask.text
    assert store.find_recipient(erika.email).unsubscribed_at is None
    done = client.post(url)
    assert done.status_code == 200
    assert shown(DE.t("page.unsubscribed_heading")) in done.text
    first = store.find_recipient(erika.email).unsubscribed_at
    assert first is not None
    assert client.post(url).status_code == 200
    assert store.find_recipient(erika.email).unsubscribed_at == first
    assert shown(DE.t("page.unsubscribed_heading")) in client.get(url).text


def test_one_click_unsubscribe(client: TestClient, settings: Settings, store: Store,
                               erika: Recipient) -> None:
    url = f"/u/{token(settings, store, erika, UNSUBSCRIBE)}"
    done = client.post(url, content=b"List-Unsubscribe=One-Click",
                       headers={"content-type": "application/x-www-form-urlencoded"})
    assert done.status_code == 200
    assert store.find_recipient(erika.email).unsubscribed_at is not None


def test_an_unsubscribed_person_can_still_answer(client: TestClient, settings: Settings,
                                                 store: Store, erika: Recipient) -> None:
    """With the link in their invitation: the unsubscribe page no longer links to it (#8)."""
    done = client.post(f"/u/{token(settings, store, erika, UNSUBSCRIBE)}").text
    assert shown(DE.t("page.unsubscribed_answer")) in done
    assert "/r/" not in done and token(settings, store, erika) not in done
    assert client.post(form_url(settings, store, erika), data={"attendance": "no"}).status_code == 200
    assert store.response(erika.id).attendance == "no"  # type: ignore[union-attr]


def test_an_answer_link_cannot_unsubscribe(client: TestClient, settings: Settings,
                                           store: Store, erika: Recipient) -> None:
    assert client.post(f"/u/{token(settings, store, erika)}").status_code == 400
    assert store.find_recipient(erika.email).unsubscribed_at is None


# limits, headers, plain pages


def test_a_big_body_is_refused_before_parsing(client: TestClient, settings: Settings,
                                              store: Store, erika: Recipient) -> None:
    url = form_url(settings, store, erika)
    declared = client.post(url, content=b"attendance=yes&comment=" + b"x" * 70_000,
                           headers={"content-type": "application/x-www-form-urlencoded"})
    assert declared.status_code == 413
    assert shown(DE.t("errors.too_large_text")) in declared.text

    def chunks() -> Iterator[bytes]:
        yield b"attendance=yes&comment="
        for _ in range(3):
            yield b"x" * 30_000

    streamed = client.post(url, content=chunks(),
                           headers={"content-type": "application/x-www-form-urlencoded"})
    assert streamed.status_code == 413
    api = client.put(f"/api/responses/{token(settings, store, erika)}",
                     content=b'{"attendance": "yes", "answers": {"comment": "' + b"x" * 70_000 + b'"}}',
                     headers={"content-type": "application/json"})
    assert api.status_code == 413
    assert api.json() == {"detail": DE.t("errors.too_large_text")}
    assert store.response(erika.id) is None


SECURITY = {
    "referrer-policy": "no-referrer",
    "x-robots-tag": "noindex, nofollow",
    "content-security-policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "x-content-type-options": "nosniff",
}


def test_every_response_carries_the_security_headers(
        client: TestClient, settings: Settings, store: Store, erika: Recipient) -> None:
    url = form_url(settings, store, erika)
    responses = [client.get(url), client.post(url, data=YES), client.post(url, data={}),
                 client.get("/r/broken"), client.get("/nowhere"), client.get("/healthz"),
                 client.get("/static/rsvp.css"), client.get(f"/api/responses/{token(settings, store, erika)}"),
                 client.post(url, content=b"x" * 70_000)]
    for response in responses:
        for name, value in SECURITY.items():
            assert response.headers[name] == value, (response.url, name)
    for response in responses[:5]:
        assert response.headers["cache-control"] == "no-store"


def test_health_stylesheet_and_unknown_routes(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}
    css = client.get("/static/rsvp.css")
    assert css.status_code == 200
    assert css.headers["content-type"] == "text/css; charset=utf-8"
    assert "font-family: system-ui" in css.text
    missing = client.get("/admin")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "text/html; charset=utf-8"
    assert shown(DE.t("errors.not_found_text")) in missing.text
    assert client.delete("/healthz").status_code == 405


def test_a_file_upload_is_refused(client: TestClient, settings: Settings, store: Store,
                                  erika: Recipient) -> None:
    page = client.post(form_url(settings, store, erika), data={"attendance": "yes"},
                       files={"comment": ("a.txt", b"hello", "text/plain")})
    assert page.status_code == 400
    assert shown(DE.t("errors.bad_request_text")) in page.text
    assert store.response(erika.id) is None


def test_a_crash_shows_a_plain_page_and_logs_the_details(
        settings: Settings, web_event: EventConfig, store: Store, erika: Recipient,
        caplog: pytest.LogCaptureFixture) -> None:
    # A workspace's page that fails to render (the app's own connections no longer
    # share the store a test could close, #8).
    pages = settings.template_dir / "pages"
    pages.mkdir()
    (pages / "form.html.j2").write_text("{{ no_such_value }}", encoding="utf-8")
    client = TestClient(create_app(settings, web_event, store, clock=lambda: OPEN),
                        raise_server_exceptions=False)
    url = form_url(settings, store, erika)
    with caplog.at_level(logging.ERROR, logger="invite.web"):
        page = client.get(url)
    assert page.status_code == 500
    assert shown(DE.t("errors.server_text")) in page.text
    assert "Traceback" not in page.text
    assert page.headers["x-content-type-options"] == "nosniff"
    assert any(r.name == "invite.web" and r.exc_info for r in caplog.records)


def test_a_workspace_can_override_a_page(settings: Settings, web_event: EventConfig,
                                         store: Store, erika: Recipient) -> None:
    pages = settings.template_dir / "pages"
    pages.mkdir()
    (pages / "unsubscribe.html.j2").write_text(
        '{% extends "_base.html.j2" %}{% block content %}<p>Eigene Seite für {{ greeting }}</p>'
        "{% endblock %}", encoding="utf-8")
    client = TestClient(create_app(settings, web_event, store, clock=lambda: OPEN))
    page = client.get(f"/u/{token(settings, store, erika, UNSUBSCRIBE)}").text
    assert "<p>Eigene Seite für Sehr geehrte Frau Muster,</p>" in page
    assert "Testtreffen" in page


def test_app_from_env_serves_the_workspace(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INVITE_WORKSPACE", str(workspace))
    monkeypatch.setenv("INVITE_SECRET_KEY", TEST_KEY)
    with TestClient(app_from_env()) as client:
        assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}
        assert client.get("/r/nothing").status_code == 400


def test_security_headers_are_sent_once_and_a_chosen_cache_policy_is_kept(
        client: TestClient, settings: Settings, store: Store, erika: Recipient) -> None:
    page = client.get(form_url(settings, store, erika))
    css = client.get("/static/rsvp.css")
    for response in (page, css):
        for name in (*SECURITY, "cache-control"):
            assert len(response.headers.get_list(name)) == 1, (response.url, name)
    assert css.headers["cache-control"] != "no-store"
