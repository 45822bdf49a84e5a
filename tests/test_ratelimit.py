"""Answers are paced per link and per client address; a refusal says when to retry."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from markupsafe import escape

from rsvp.config import EventConfig
from rsvp.errors import ConfigError
from rsvp.i18n import catalogue
from rsvp.settings import Settings
from rsvp.store import Recipient, Store
from rsvp.tokens import ANSWER, UNSUBSCRIBE, LinkSigner
from rsvp.web.app import app_from_env, create_app
from rsvp.web.ratelimit import Buckets, Rate, RateLimiter, RateLimits, limits_from_env
from tests.conftest import TEST_KEY, person

OPEN = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
DE = catalogue("de")
EN = catalogue("en")
FR = catalogue("fr")


class FakeClock:
    """A monotonic clock that moves only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(settings: Settings, event: EventConfig, store: Store, clock: FakeClock) -> FastAPI:
    return create_app(settings, event, store, clock=lambda: OPEN,
                      limiter=RateLimiter(clock=clock))


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    return TestClient(app, client=("192.0.2.10", 50000))


def add(store: Store, email: str, lang: str = "de") -> Recipient:
    store.add_recipients([person(email, lang, salutation="Frau", last_name="Muster")])
    return store.find_recipient(email)


def link(settings: Settings, store: Store, who: Recipient, purpose: str = ANSWER) -> str:
    return LinkSigner(settings.secret_keys).sign(purpose, who.id, store.event_id, who.token_version)


def shown(text: str) -> str:
    return str(escape(text))


# Each answer differs from the one before, so every accepted one adds a history row.
ANSWERS = [{"attendance": a, "comment": f"Antwort {i}"}
           for i, a in enumerate(["yes", "no", "maybe", "yes", "no", "maybe"])]


def test_the_sixth_quick_answer_on_one_link_waits_and_records_nothing(
        client: TestClient, settings: Settings, store: Store, clock: FakeClock) -> None:
    erika = add(store, "erika@example.org")
    url = f"/r/{link(settings, store, erika)}"
    for answer in ANSWERS[:5]:
        assert client.post(url, data=answer).status_code == 200
    refused = client.post(url, data=ANSWERS[5])
    assert refused.status_code == 429
    # 10 answers a minute refill one every 6 seconds.
    assert refused.headers["retry-after"] == "6"
    assert '<html lang="de">' in refused.text
    assert shown(DE.t("ratelimit.title")) in refused.text
    assert "Bitte versuchen Sie es in 6 Sekunden erneut." in refused.text
    assert refused.headers["cache-control"] == "no-store"
    assert refused.headers["x-robots-tag"] == "noindex, nofollow"
    assert len(store.history(erika.id)) == 5
    assert store.response(erika.id).answers == {"comment": "Antwort 4"}  # type: ignore[union-attr]
    clock.advance(5.9)
    assert client.post(url, data=ANSWERS[5]).status_code == 429
    clock.advance(0.1)
    again = client.post(url, data=ANSWERS[5])
    assert again.status_code == 200
    assert shown(DE.t("page.recorded_heading")) in again.text
    assert store.response(erika.id).answers == {"comment": "Antwort 5"}  # type: ignore[union-attr]
    assert len(store.history(erika.id)) == 6


def test_reading_is_never_limited(client: TestClient, settings: Settings, store: Store) -> None:
    erika = add(store, "erika@example.org")
    url = f"/r/{link(settings, store, erika)}"
    for answer in ANSWERS[:5]:
        client.post(url, data=answer)
    assert client.post(url, data=ANSWERS[5]).status_code == 429
    for _ in range(100):
        assert client.get(url).status_code == 200
    assert client.get(url.replace("/r/", "/api/responses/")).status_code == 200


def test_another_link_from_the_same_address_is_unaffected(
        client: TestClient, settings: Settings, store: Store) -> None:
    erika, jean = add(store, "erika@example.org"), add(store, "jean@example.org", "fr")
    erika_url = f"/r/{link(settings, store, erika)}"
    for answer in ANSWERS[:5]:
        client.post(erika_url, data=answer)
    assert client.post(erika_url, data=ANSWERS[5]).status_code == 429
    jean_url = f"/r/{link(settings, store, jean)}"
    for answer in ANSWERS[:5]:
        assert client.post(jean_url, data=answer).status_code == 200
    assert store.response(jean.id).attendance == "no"  # type: ignore[union-attr]


def test_the_limit_follows_the_person_not_the_token(
        client: TestClient, settings: Settings, store: Store) -> None:
    erika = add(store, "erika@example.org")
    first = f"/r/{link(settings, store, erika)}"
    for answer in ANSWERS[:5]:
        client.post(first, data=answer)
    # A later mail carries a freshly signed token for the same person.
    later = LinkSigner(settings.secret_keys, clock=lambda: int(time.time()) - 3600).sign(
        ANSWER, erika.id, store.event_id, erika.token_version)
    assert later != first[3:]
    assert client.post(f"/r/{later}", data=ANSWERS[5]).status_code == 429


def test_an_office_behind_one_address_can_all_answer_but_not_more(
        app: FastAPI, settings: Settings, store: Store, clock: FakeClock) -> None:
    office = TestClient(app, client=("198.51.100.7", 40000))
    people = [add(store, f"p{i}@example.org", "en") for i in range(61)]
    for who in people[:60]:
        assert office.post(f"/r/{link(settings, store, who)}",
                           data={"attendance": "yes"}).status_code == 200
    last = people[60]
    refused = office.put(f"/api/responses/{link(settings, store, last)}",
                         json={"attendance": "yes", "answers": {}})
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1"
    assert refused.json() == {"detail": EN.t("ratelimit.text_one")}
    assert "Please try again in 1 second." in refused.json()["detail"]
    assert store.response(last.id) is None
    elsewhere = TestClient(app, client=("203.0.113.9", 40000))
    assert elsewhere.put(f"/api/responses/{link(settings, store, last)}",
                         json={"attendance": "yes", "answers": {}}).status_code == 200
    assert len(store.responses()) == 61
    # 120 a minute refill one write every half second.
    clock.advance(0.4)
    again = office.post(f"/r/{link(settings, store, people[0])}", data={"attendance": "no"})
    assert again.status_code == 429
    clock.advance(0.1)
    assert office.post(f"/r/{link(settings, store, people[0])}",
                       data={"attendance": "no"}).status_code == 200


def test_the_api_refusal_speaks_the_persons_language(
        client: TestClient, settings: Settings, store: Store) -> None:
    jean = add(store, "jean@example.org", "fr")
    url = f"/api/responses/{link(settings, store, jean)}"
    for answer in ANSWERS[:5]:
        body = {"attendance": answer["attendance"], "answers": {"comment": answer["comment"]}}
        assert client.put(url, json=body).status_code == 200
    refused = client.put(url, json={"attendance": "no", "answers": {}})
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "6"
    assert refused.json() == {"detail": FR.t("ratelimit.text", seconds=6)}
    assert len(store.history(jean.id)) == 5


def test_unsubscribing_is_limited_too(client: TestClient, settings: Settings,
                                      store: Store) -> None:
    erika = add(store, "erika@example.org", "en")
    url = f"/u/{link(settings, store, erika, UNSUBSCRIBE)}"
    for _ in range(5):
        assert client.post(url).status_code == 200
    refused = client.post(url)
    assert refused.status_code == 429
    assert '<html lang="en">' in refused.text
    assert "Please try again in 6 seconds." in refused.text


def test_a_bad_link_is_refused_as_before(client: TestClient) -> None:
    for _ in range(10):
        assert client.post("/r/not-a-token", data={"attendance": "yes"}).status_code == 400


def test_the_switch_turns_limits_off(workspace: Path, store: Store,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    erika = add(store, "erika@example.org")
    monkeypatch.setenv("INVITE_WORKSPACE", str(workspace))
    monkeypatch.setenv("INVITE_SECRET_KEY", TEST_KEY)
    url = f"/r/{LinkSigner((TEST_KEY,)).sign(ANSWER, erika.id, store.event_id, 1)}"
    monkeypatch.setenv("INVITE_RATE_LIMIT", "off")
    with TestClient(app_from_env()) as unlimited:
        assert [unlimited.post(url, data={"attendance": "no"}).status_code
                for _ in range(8)] == [200] * 8
    monkeypatch.setenv("INVITE_RATE_LIMIT", "on")
    with TestClient(app_from_env()) as limited:
        codes = [limited.post(url, data={"attendance": "no"}).status_code for _ in range(6)]
    assert codes == [200] * 5 + [429]


def test_the_switch_reads_on_and_off_and_nothing_else() -> None:
    assert limits_from_env({}) == RateLimits()
    assert limits_from_env({"INVITE_RATE_LIMIT": "On"}).enabled is True
    assert limits_from_env({"INVITE_RATE_LIMIT": "off"}).enabled is False
    with pytest.raises(ConfigError, match="INVITE_RATE_LIMIT is 'sometimes'; use on or off"):
        limits_from_env({"INVITE_RATE_LIMIT": "sometimes"})


def test_a_refused_check_spends_nothing() -> None:
    clock = FakeClock()
    limiter = RateLimiter(RateLimits(link=Rate(60, 1), address=Rate(60, 2)), clock=clock)
    assert limiter.check(1, "a") == 0
    assert limiter.check(1, "a") == 1  # link 1 is empty; the address keeps its second write
    assert limiter.check(2, "a") == 0
    assert limiter.check(3, "a") == 1  # now the address is empty too
    clock.advance(1)
    assert limiter.check(3, "a") == 0


def test_idle_buckets_are_forgotten_and_memory_stays_bounded() -> None:
    buckets = Buckets(Rate(per_minute=10, burst=5), max_keys=100)
    for key in range(50):
        buckets.take(key, now=0.0)
    assert len(buckets) == 50
    # An emptied bucket is full again after 30 s: from then on it is the same as none.
    buckets.take("late", now=29.0)
    assert len(buckets) == 51
    buckets.take("later", now=30.0)
    assert len(buckets) == 2
    for key in range(1000):
        buckets.take(key, now=31.0)
    assert len(buckets) == 100
    assert buckets.level(999, now=31.0) == 4.0
