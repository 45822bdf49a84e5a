"""Safe on the public web (#8): pages leak no other link, HEAD works everywhere, an
unsubscribe can be undone until the event, the database is its owner's only, /healthz
tells the truth, and X-Forwarded-For counts only from a proxy `invite serve` trusts."""

from __future__ import annotations

import os
import re
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from mailer.cli.catcher import free_port
from rsvp.config import EventConfig
from rsvp.errors import ConfigError
from rsvp.i18n import catalogue
from rsvp.settings import Settings
from rsvp.store import Recipient, Store, open_store
from rsvp.tokens import ANSWER, UNSUBSCRIBE, LinkSigner
from rsvp.web.app import create_app
from rsvp.web.database import wait_from_env
from rsvp.web.ratelimit import RateLimiter
from tests.conftest import TEST_KEY, person

OPEN = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
DE, FR, EN = catalogue("de"), catalogue("fr"), catalogue("en")
# A signed link: payload, timestamp and signature, base64url, separated by dots.
TOKEN = re.compile(r"[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{16,}")
FORM = {"content-type": "application/x-www-form-urlencoded"}


def shown(text: str) -> str:
    return str(escape(text))


class Clock:
    """The app's clock, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(OPEN)


@pytest.fixture
def client(settings: Settings, event: EventConfig, store: Store, clock: Clock) -> TestClient:
    return TestClient(create_app(settings, event, store, clock=clock))


@pytest.fixture
def erika(store: Store) -> Recipient:
    store.add_recipients([person("erika@example.org", "de", salutation="Frau",
                                 last_name="Muster")])
    return store.find_recipient("erika@example.org")


def link(settings: Settings, store: Store, who: Recipient, purpose: str) -> str:
    return LinkSigner(settings.secret_keys).sign(purpose, who.id, store.event_id,
                                                 who.token_version)


def assert_shows_only(page: str, allowed: str, *forbidden: str) -> None:
    """The page carries no answer link and no signed link but `allowed`."""
    assert "/r/" not in page
    assert set(TOKEN.findall(page)) <= {allowed}
    for token in forbidden:
        assert token not in page


# the unsubscribe link leads to nothing else


def test_no_unsubscribe_page_shows_or_links_another_token(
        settings: Settings, event: EventConfig, store: Store, erika: Recipient,
        clock: Clock) -> None:
    unsubscribe = link(settings, store, erika, UNSUBSCRIBE)
    answer = link(settings, store, erika, ANSWER)
    url = f"/u/{unsubscribe}"
    # A limiter whose clock stands still: the sixth write on the link is refused.
    client = TestClient(create_app(settings, event, store, clock=clock,
                                   limiter=RateLimiter(clock=lambda: 1000.0)))
    pages = {
        "asking": client.get(url),
        "one-click": client.post(url, content=b"List-Unsubscribe=One-Click", headers=FORM),
        "button": client.post(url, data={}),
        "unsubscribed": client.get(f"{url}?lang=fr"),
        "resubscribed": client.post(url, data={"action": "resubscribe"}),
        "again": client.post(url),
    }
    clock.now = event.start
    pages["too late"] = client.post(url, data={"action": "resubscribe"})
    pages["rate limited"] = client.post(url)
    pages["bad link"] = client.get(f"/u/{unsubscribe[:-3]}xyz")
    pages["answer link on /u/"] = client.get(f"/u/{answer}")
    assert {name: page.status_code for name, page in pages.items()} == {
        "asking": 200, "one-click": 200, "button": 200, "unsubscribed": 200,
        "resubscribed": 200, "again": 200, "too late": 409, "rate limited": 429,
        "bad link": 400, "answer link on /u/": 400}
    for name, page in pages.items():
        assert page.headers["referrer-policy"] == "no-referrer", name
        allowed = "" if name in ("bad link", "answer link on /u/") else unsubscribe
        assert_shows_only(page.text, allowed, answer)
    assert shown(DE.t("page.unsubscribed_answer")) in pages["button"].text


def test_no_answer_page_shows_or_links_another_token(
        settings: Settings, event: EventConfig, store: Store, erika: Recipient,
        clock: Clock) -> None:
    unsubscribe = link(settings, store, erika, UNSUBSCRIBE)
    answer = link(settings, store, erika, ANSWER)
    client = TestClient(create_app(settings, event, store, clock=clock,
                                   limiter=RateLimiter(clock=lambda: 1000.0)))
    url = f"/r/{answer}"
    yes = {"attendance": "yes", "parts": "symposium"}
    pages = [client.get(url), client.post(url, data=yes), client.post(url, data={}),
             client.get(f"/api/responses/{answer}"),
             client.put(f"/api/responses/{answer}", json={"attendance": "no"})]
    # The sixth write on the link is refused (the 422 counted too).
    pages += [client.post(url, data=yes) for _ in range(3)]
    clock.now = event.rsvp.deadline + timedelta(seconds=1)
    pages += [client.get(url), client.get(f"/r/{unsubscribe}")]
    assert [page.status_code for page in pages] == [200, 200, 422, 200, 200, 200, 200, 429,
                                                    200, 400]
    for page in pages[:-1]:
        assert set(TOKEN.findall(page.text)) <= {answer}
        assert unsubscribe not in page.text and "/u/" not in page.text
    assert answer not in pages[-1].text and unsubscribe not in pages[-1].text


def test_resubscribing_undoes_the_unsubscribe_until_the_event_starts(
        client: TestClient, settings: Settings, event: EventConfig, store: Store,
        erika: Recipient, clock: Clock) -> None:
    url = f"/u/{link(settings, store, erika, UNSUBSCRIBE)}"
    done = client.post(url)
    assert shown(DE.t("page.resubscribe_button")) in done.text
    assert '<input type="hidden" name="action" value="resubscribe">' in done.text
    assert store.find_recipient(erika.email).unsubscribed_at is not None
    clock.now = event.start - timedelta(seconds=1)
    again = client.post(f"{url}?lang=en", data={"action": "resubscribe"})
    assert again.status_code == 200
    assert shown(EN.t("page.resubscribed_heading")) in again.text
    assert shown(EN.t("page.unsubscribe_button")) in again.text
    assert store.find_recipient(erika.email).unsubscribed_at is None
    assert shown(DE.t("page.unsubscribe_button")) in client.get(url).text

    client.post(url)
    clock.now = event.start
    page = client.get(f"{url}?lang=fr")
    assert shown(FR.t("page.unsubscribed_heading")) in page.text
    assert "resubscribe" not in page.text
    refused = client.post(f"{url}?lang=fr", data={"action": "resubscribe"})
    assert refused.status_code == 409
    assert shown(FR.t("page.resubscribe_closed")) in refused.text
    assert "resubscribe" not in refused.text
    assert store.find_recipient(erika.email).unsubscribed_at is not None


@pytest.mark.parametrize("body", [
    b"List-Unsubscribe=One-Click",
    b"List-Unsubscribe=One-Click&action=resubscribe",
    b"action=resubscribe&List-Unsubscribe=One-Click",
    b"action=unsubscribe",
    b"",
])
def test_any_post_but_the_resubscribe_button_unsubscribes(
        client: TestClient, settings: Settings, store: Store, erika: Recipient,
        body: bytes) -> None:
    url = f"/u/{link(settings, store, erika, UNSUBSCRIBE)}"
    client.post(url)
    client.post(url, data={"action": "resubscribe"})
    assert store.find_recipient(erika.email).unsubscribed_at is None
    page = client.post(url, content=body, headers=FORM)
    assert page.status_code == 200
    assert store.find_recipient(erika.email).unsubscribed_at is not None


def test_resubscribing_is_a_paced_write(settings: Settings, event: EventConfig,
                                        store: Store, erika: Recipient) -> None:
    client = TestClient(create_app(settings, event, store, clock=lambda: OPEN,
                                   limiter=RateLimiter(clock=lambda: 1000.0)))
    url = f"/u/{link(settings, store, erika, UNSUBSCRIBE)}"
    for _ in range(5):
        assert client.post(url).status_code == 200
    refused = client.post(url, data={"action": "resubscribe"})
    assert refused.status_code == 429
    assert refused.headers["retry-after"]
    assert store.find_recipient(erika.email).unsubscribed_at is not None


# HEAD is GET without the body


def test_head_answers_like_get_without_a_body(client: TestClient, settings: Settings,
                                              store: Store, erika: Recipient) -> None:
    for path in (f"/r/{link(settings, store, erika, ANSWER)}",
                 f"/u/{link(settings, store, erika, UNSUBSCRIBE)}",
                 f"/api/responses/{link(settings, store, erika, ANSWER)}",
                 "/healthz", "/static/rsvp.css", "/r/broken", "/u/broken", "/nowhere"):
        got, head = client.get(path), client.head(path)
        assert head.status_code == got.status_code, path
        assert head.content == b"", path
        assert got.content, path
        for name in ("content-type", "content-length", "cache-control", "referrer-policy",
                     "content-security-policy"):
            assert head.headers.get(name) == got.headers.get(name), (path, name)
    assert client.head("/healthz").status_code == 200
    assert client.head("/r/broken").status_code == 400
    assert store.find_recipient(erika.email).unsubscribed_at is None
    assert store.response(erika.id) is None


# /healthz


def test_healthz_says_when_the_database_file_is_gone(client: TestClient,
                                                     settings: Settings) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}
    aside = settings.database.with_name("moved.db")
    settings.database.rename(aside)
    try:
        started = time.monotonic()
        gone = client.get("/healthz")
        assert time.monotonic() - started < 1.5
        assert gone.status_code == 503
        assert gone.json() == {"status": "degraded", "database": "unreachable"}
        assert not settings.database.exists()  # looking did not make an empty one
    finally:
        aside.rename(settings.database)
    assert client.get("/healthz").status_code == 200


# files


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The usual umask (files 0644) or a looser one: the mode must not depend on it."""
    previous = os.umask(0o002)
    try:
        yield
    finally:
        os.umask(previous)


def test_a_new_database_and_its_wal_and_shm_are_the_owners_only(
        tmp_path: Path, loose_umask: None) -> None:
    path = tmp_path / "invite.db"
    store = open_store(path)
    try:
        store.add_recipients([person("anna@example.org")])
        files = [path, tmp_path / "invite.db-wal", tmp_path / "invite.db-shm"]
        assert {file.name: mode(file) for file in files} == {
            "invite.db": 0o600, "invite.db-wal": 0o600, "invite.db-shm": 0o600}
    finally:
        store.close()


def test_an_existing_database_readable_by_others_is_made_the_owners_only(
        tmp_path: Path, loose_umask: None) -> None:
    path = tmp_path / "invite.db"
    open_store(path).close()
    other = sqlite3.connect(path)  # another program keeps -wal and -shm in place
    try:
        other.execute("PRAGMA journal_mode = WAL")
        other.execute("CREATE TABLE IF NOT EXISTS other (x)")
        files = [path, tmp_path / "invite.db-wal", tmp_path / "invite.db-shm"]
        for file in files:
            file.chmod(0o644)
        open_store(path).close()
        assert [mode(file) for file in files] == [0o600, 0o600, 0o600]
    finally:
        other.close()


def test_the_web_wait_for_the_lock_is_read_from_the_environment() -> None:
    assert wait_from_env({}) == 3.0
    assert wait_from_env({"INVITE_DB_WAIT": "0.5"}) == 0.5
    for bad in ("soon", "-1", "600"):
        with pytest.raises(ConfigError) as caught:
            wait_from_env({"INVITE_DB_WAIT": bad})
        assert caught.value.message == (
            f"INVITE_DB_WAIT is {bad!r}; use seconds between 0 and 60, e.g. 3")


# X-Forwarded-For counts only from a trusted proxy


def serve(workspace: Path, port: int, *args: str) -> subprocess.Popen[str]:
    """Start the real `invite serve`, rate limits on, and wait until it answers."""
    env = {**os.environ, "INVITE_SECRET_KEY": TEST_KEY, "INVITE_RATE_LIMIT": "on",
           "INVITE_BASE_URL": f"http://127.0.0.1:{port}"}
    process = subprocess.Popen(
        [sys.executable, "-m", "mailer", "serve", "--port", str(port), "--no-sender",
         "-w", str(workspace), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, env=env)
    deadline = time.monotonic() + 30
    while True:
        assert process.poll() is None, process.communicate()[0]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return process
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "invite serve did not start"
        time.sleep(0.1)


def another_client_after_60_writes(workspace: Path, links: list[str], *args: str) -> int:
    """Fill the bucket of client 198.51.100.1 (as X-Forwarded-For says) with 60 writes,
    5 on each of 12 links, then return the status of one write by another client."""
    port = free_port()
    process = serve(workspace, port, *args)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            for number in range(60):
                status = client.post(f"/u/{links[number // 5]}",
                                     headers={"X-Forwarded-For": "198.51.100.1"}).status_code
                assert status == 200, number
            return client.post(f"/u/{links[12]}",
                               headers={"X-Forwarded-For": "203.0.113.9"}).status_code
    finally:
        process.terminate()
        process.communicate(timeout=30)


@pytest.fixture
def thirteen(settings: Settings, store: Store) -> list[str]:
    store.add_recipients([person(f"p{i}@example.org") for i in range(13)])
    return [link(settings, store, who, UNSUBSCRIBE) for who in store.recipients()]


def test_without_a_trusted_proxy_x_forwarded_for_is_ignored(
        workspace: Path, thirteen: list[str]) -> None:
    """Both "clients" come from 127.0.0.1: one bucket, full after 60 writes."""
    assert another_client_after_60_writes(workspace, thirteen) == 429


def test_a_trusted_proxy_s_x_forwarded_for_names_the_client(
        workspace: Path, thirteen: list[str]) -> None:
    assert another_client_after_60_writes(
        workspace, thirteen, "--forwarded-allow-ips", "127.0.0.1") == 200
