"""Fault: another process holds the database's write lock (an import, `invite send`).

The real app under a real uvicorn: a write answers 503 with Retry-After within its
bound and leaves nothing half-written, while /healthz and other people's pages stay
fast; once the lock is free, the same answer goes through.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from markupsafe import escape

from mailer.cli.catcher import free_port
from rsvp.i18n import catalogue
from rsvp.settings import Settings
from rsvp.store import Recipient, Store
from rsvp.tokens import ANSWER, UNSUBSCRIBE, LinkSigner
from rsvp.web.database import DEFAULT_WAIT
from tests.conftest import TEST_KEY, person
from tests.servers import serving

DE = catalogue("de")
ANSWER_FORM = {"attendance": "yes", "parts": ["symposium"], "comment": "Gern",
               "nominee_name": "Paul Partner", "nominee_email": "paul@partner.example",
               "nominee_organisation": "Partner GmbH", "nominee_role": "company"}
HOLDER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.read()
conn.execute("ROLLBACK")
"""


@contextmanager
def write_lock(database: Path) -> Iterator[None]:
    """Another process takes the write lock (BEGIN IMMEDIATE) and holds it for the block."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(database)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        yield
    finally:
        holder.communicate(timeout=10)


@pytest.fixture
def web(workspace: Path) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with serving(workspace, port, {"INVITE_SECRET_KEY": TEST_KEY, "INVITE_BASE_URL": base}):
        yield base


@pytest.fixture
def people(store: Store) -> tuple[Recipient, Recipient]:
    store.add_recipients([person("erika@example.org", "de", salutation="Frau",
                                 last_name="Muster"),
                          person("jean@example.org", "fr", salutation="M.", last_name="Dupont")])
    return store.find_recipient("erika@example.org"), store.find_recipient("jean@example.org")


def link(settings: Settings, store: Store, who: Recipient, purpose: str = ANSWER) -> str:
    return LinkSigner(settings.secret_keys).sign(purpose, who.id, store.event_id,
                                                 who.token_version)


def timed(call: Future[httpx.Response], started: float) -> tuple[httpx.Response, float]:
    response = call.result(timeout=30)
    return response, float(response.extensions["done"]) - started


def rows(database: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(database) as conn:
        return conn.execute(sql).fetchall()


def test_a_write_under_a_held_lock_gets_503_in_time_and_writes_nothing(
        web: str, settings: Settings, store: Store,
        people: tuple[Recipient, Recipient]) -> None:
    erika, jean = people
    answer = f"{web}/r/{link(settings, store, erika)}"
    api = f"{web}/api/responses/{link(settings, store, erika)}"
    unsubscribe = f"{web}/u/{link(settings, store, jean, UNSUBSCRIBE)}"

    def stamp(response: httpx.Response) -> None:
        response.extensions["done"] = time.monotonic()

    with httpx.Client(timeout=30, event_hooks={"response": [stamp]}) as client, \
            ThreadPoolExecutor(3) as pool, write_lock(settings.database):
        started = time.monotonic()
        # Three writes at once: the first waits the whole bound in the writer thread, the
        # others queue behind it and must not wait a bound of their own on top.
        posted = pool.submit(client.post, answer, data=ANSWER_FORM)
        put = pool.submit(client.put, api, json={"attendance": "no"})
        unsubscribed = pool.submit(client.post, unsubscribe)
        results = [timed(call, started) for call in (posted, put, unsubscribed)]
    for response, elapsed in results:
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "5"
        assert elapsed < DEFAULT_WAIT + 1, elapsed
    assert results[0][1] > DEFAULT_WAIT - 0.5  # it did wait for the lock
    assert str(escape(DE.t("errors.busy_text"))) in results[0][0].text
    assert '<html lang="de">' in results[0][0].text
    assert results[1][0].json() == {"detail": DE.t("errors.busy_text")}
    assert '<html lang="fr">' in results[2][0].text

    # Nothing half-written: no answer, no history row, no nominee, still subscribed.
    assert rows(settings.database, "SELECT count(*) FROM responses") == [(0,)]
    assert rows(settings.database, "SELECT count(*) FROM response_history") == [(0,)]
    assert rows(settings.database, "SELECT count(*) FROM recipients") == [(2,)]
    assert rows(settings.database, "SELECT unsubscribed_at FROM recipients "
                                   "WHERE email = 'jean@example.org'") == [(None,)]

    # The lock is free again: the same answer goes through, whole.
    again = httpx.post(answer, data=ANSWER_FORM, timeout=10)
    assert again.status_code == 200
    assert rows(settings.database, "SELECT attendance FROM responses") == [("yes",)]
    assert rows(settings.database, "SELECT count(*) FROM response_history") == [(1,)]
    assert rows(settings.database, "SELECT nominated_by FROM recipients "
                                   "WHERE email = 'paul@partner.example'") == [(erika.id,)]


def test_while_a_write_waits_health_and_other_pages_answer_at_once(
        web: str, settings: Settings, store: Store,
        people: tuple[Recipient, Recipient]) -> None:
    erika, jean = people
    answer = f"{web}/r/{link(settings, store, erika)}"
    form = f"{web}/r/{link(settings, store, jean)}"
    health: list[float] = []
    pages: list[float] = []
    with httpx.Client(timeout=30) as client, ThreadPoolExecutor(1) as pool, \
            write_lock(settings.database):
        waiting = pool.submit(httpx.post, answer, data={"attendance": "no"}, timeout=30)
        time.sleep(0.2)  # the answer is in the writer thread, waiting for the lock
        while not waiting.done():
            started = time.monotonic()
            checked = client.get(f"{web}/healthz")
            health.append(time.monotonic() - started)
            assert checked.json() == {"status": "ok", "database": "ok"}
            started = time.monotonic()
            page = client.get(form)
            pages.append(time.monotonic() - started)
            assert page.status_code == 200 and "Monsieur Dupont" in page.text
            time.sleep(0.05)
        assert waiting.result().status_code == 503
    assert len(health) >= 10
    assert max(health) < 0.2, health
    assert max(pages) < 0.2, pages
