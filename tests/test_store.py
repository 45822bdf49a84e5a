"""The SQLite store on a real file: schema, WAL, recipients, answers, and concurrent writers."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rsvp.errors import ConfigError
from rsvp.schema import SCHEMA_VERSION
from rsvp.settings import Settings
from rsvp.store import Store, open_store
from tests.conftest import person

T1 = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
T2 = datetime(2030, 3, 2, 12, 0, tzinfo=UTC)
T3 = datetime(2030, 3, 3, 12, 0, tzinfo=UTC)


def pragma(store: Store, name: str) -> object:
    return store.conn.execute(f"PRAGMA {name}").fetchone()[0]


def test_a_new_database_has_the_schema_version_and_wal(store: Store) -> None:
    assert pragma(store, "user_version") == SCHEMA_VERSION
    assert pragma(store, "journal_mode") == "wal"
    assert pragma(store, "foreign_keys") == 1
    assert len(store.event_id) == 12


def test_reopening_keeps_the_event_id(settings: Settings) -> None:
    first = open_store(settings.database)
    event_id = first.event_id
    first.add_recipients([person("anna@example.org")])
    first.close()
    again = open_store(settings.database)
    try:
        assert again.event_id == event_id
        assert again.count_recipients() == 1
        assert pragma(again, "user_version") == SCHEMA_VERSION
    finally:
        again.close()


def test_a_database_from_a_newer_invite_is_refused(settings: Settings) -> None:
    open_store(settings.database).close()
    conn = sqlite3.connect(settings.database)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(ConfigError) as caught:
        open_store(settings.database)
    assert caught.value.message == (
        f"{settings.database} was written by a newer invite (schema {SCHEMA_VERSION + 1})")
    assert caught.value.hint == "Upgrade invite: pip install -U invite"


def test_opening_a_new_database_waits_for_another_writer(tmp_path: Path) -> None:
    """Two invite processes starting on a new workspace both switch it to WAL; the
    second must wait for the first (busy timeout), not fail with "database is locked".
    A plain connection holding the write lock for half a second stands in for the first."""
    path = tmp_path / "invite.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("CREATE TABLE other_writer (x INTEGER)")
    release = threading.Timer(0.5, other.execute, args=("COMMIT",))
    release.start()
    try:
        opened = open_store(path)
    finally:
        release.join()
        other.close()
    try:
        assert pragma(opened, "journal_mode") == "wal"
        assert pragma(opened, "user_version") == SCHEMA_VERSION
    finally:
        opened.close()


def test_add_recipients_matches_addresses_in_any_case(store: Store) -> None:
    assert store.add_recipients([person("Anna@Example.org", last_name="Schmidt")], now=T1) == (1, 0)
    assert store.add_recipients([person("anna@example.org", last_name="Schmidt-Weber",
                                        title="Dr.")], now=T2) == (0, 1)
    assert store.count_recipients() == 1
    anna = store.find_recipient("ANNA@EXAMPLE.ORG")
    # Matched in any case, and still written as she was invited (#10).
    assert (anna.email, anna.last_name, anna.title) == ("Anna@Example.org", "Schmidt-Weber", "Dr.")
    assert [r.id for r in store.recipients()] == [anna.id]
    assert store.add_recipients([person("ANNA@example.org", last_name="Schmidt-Weber",
                                        title="Dr.")], now=T3) == (0, 0)


def test_record_answer_appends_history_only_on_change(store: Store) -> None:
    store.add_recipients([person("anna@example.org")])
    anna = store.find_recipient("anna@example.org")
    first = store.record_answer(anna.id, "yes", {"parts": ["visits"], "comment": "Hallo"}, "web",
                                now=T1)
    same = store.record_answer(anna.id, "yes", {"comment": "Hallo", "parts": ["visits"]}, "web",
                               now=T2)
    assert same == first
    changed = store.record_answer(anna.id, "no", {}, "api", now=T3)
    assert (changed.attendance, changed.answers, changed.source) == ("no", {}, "api")
    assert (changed.first_at, changed.updated_at) == ("2030-03-01T12:00:00+00:00",
                                                      "2030-03-03T12:00:00+00:00")
    history = store.history(anna.id)
    assert [(h["attendance"], h["source"], h["recorded_at"]) for h in history] == [
        ("yes", "web", "2030-03-01T12:00:00+00:00"),
        ("no", "api", "2030-03-03T12:00:00+00:00"),
    ]
    assert store.attendance_counts() == {"yes": 0, "no": 1, "maybe": 0, "none": 0}


def test_record_answer_refuses_an_unknown_attendance(store: Store) -> None:
    store.add_recipients([person("anna@example.org")])
    anna = store.find_recipient("anna@example.org")
    with pytest.raises(ValueError):
        store.record_answer(anna.id, "perhaps", {}, "web")
    assert store.response(anna.id) is None
    assert store.history(anna.id) == []


def test_four_writers_at_once_never_hit_a_locked_database(settings: Settings,
                                                           store: Store) -> None:
    store.add_recipients([person(f"p{n:03d}@example.org") for n in range(400)])
    ids = [recipient.id for recipient in store.recipients()]
    barrier = threading.Barrier(4, timeout=60)
    errors: list[str] = []

    def write(mine: list[int]) -> None:
        own = open_store(settings.database)
        try:
            barrier.wait()
            for index, recipient_id in enumerate(mine):
                own.record_answer(recipient_id, "yes", {"comment": f"from {recipient_id}"}, "web")
                if index % 2 == 0:
                    own.unsubscribe(recipient_id)
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(f"{type(error).__name__}: {error}")
        finally:
            own.close()

    threads = [threading.Thread(target=write, args=(ids[n::4],)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    responses = store.responses()
    assert sorted(responses) == sorted(ids)
    assert {r.answers["comment"] for r in responses.values()} == {f"from {i}" for i in ids}
    assert sum(len(store.history(recipient_id)) for recipient_id in ids) == 400
    assert store.count_unsubscribed() == 200
    assert store.attendance_counts() == {"yes": 400, "no": 0, "maybe": 0, "none": 0}
