"""Admission through the public interfaces: `invite admit/waitlist/decline`, answers posted
to the web app under first-come, the export's admission column and `invite status`."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from mailer.cli import app
from rsvp.admission import apply_first_come, decide
from rsvp.config import EventConfig, load_event
from rsvp.schema import MIGRATIONS, SCHEMA_VERSION
from rsvp.settings import Settings
from rsvp.store import Store, open_store
from rsvp.tokens import ANSWER, LinkSigner
from rsvp.web.app import create_app
from tests.conftest import BASE_URL, TEST_KEY, person
from tests.relay import running_relay

OPEN = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)


def invite(workspace: Path, *args: str) -> Any:
    return CliRunner().invoke(app, [*args, "-w", str(workspace)],
                              env={"INVITE_SECRET_KEY": TEST_KEY}, catch_exceptions=False)


def add_people(store: Store, role: str, *names: str, answer: str | None = "yes") -> list[int]:
    """Add `name@example.org` for each name, with `role`, and record `answer` for each."""
    store.add_recipients([person(f"{name}@example.org", role=role, last_name=name.title())
                          for name in names])
    ids = [store.find_recipient(f"{name}@example.org").id for name in names]
    if answer:
        for recipient_id in ids:
            store.record_answer(recipient_id, answer, {}, "web", now=OPEN)
    return ids


def admission(store: Store, name: str) -> str | None:
    return store.find_recipient(f"{name}@example.org").admission


def exported_admissions(workspace: Path) -> dict[str, str]:
    result = invite(workspace, "export", "--what", "responses", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = csv.DictReader(io.StringIO(result.stdout.lstrip("\ufeff")))
    return {row["email"]: row["admission"] for row in rows}


@pytest.fixture
def first_come(workspace: Path) -> EventConfig:
    """The test event with admission = "first-come" (quotas: 2 network managers, 2 companies)."""
    path = workspace / "event.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('admission = "selection"', 'admission = "first-come"'),
                    encoding="utf-8")
    return load_event(path)


@pytest.fixture
def web(settings: Settings, first_come: EventConfig, store: Store) -> TestClient:
    return TestClient(create_app(settings, first_come, store, clock=lambda: OPEN))


def answer(web: TestClient, settings: Settings, store: Store, name: str, attendance: str) -> None:
    who = store.find_recipient(f"{name}@example.org")
    link = LinkSigner(settings.secret_keys).sign(ANSWER, who.id, store.event_id, who.token_version)
    assert web.post(f"/r/{link}", data={"attendance": attendance}).status_code == 200


# selection: the organiser decides


def test_admit_waitlist_and_decline_show_in_the_export(workspace: Path, store: Store) -> None:
    add_people(store, "company", "ada", "ben", "cleo", "dan")
    admitted = invite(workspace, "admit", "ada@example.org", "BEN@example.org")
    assert admitted.exit_code == 0, admitted.output
    assert admitted.stdout.splitlines() == [
        "ada@example.org: admitted (company: 1 of 2 places taken)",
        "ben@example.org: admitted (company: 2 of 2 places taken)",
        "Next: invite send --mailing confirmation"]
    assert admitted.stderr == ""
    assert invite(workspace, "waitlist", "cleo@example.org").stdout.splitlines() == [
        "cleo@example.org: waitlisted", "Next: invite send --mailing waitlist"]
    assert invite(workspace, "decline", "dan@example.org").stdout.splitlines() == [
        "dan@example.org: declined", "Next: invite send --mailing regret"]
    assert invite(workspace, "admit", "ada@example.org").stdout.splitlines() == [
        "ada@example.org: already admitted"]
    assert exported_admissions(workspace) == {
        "ada@example.org": "admitted", "ben@example.org": "admitted",
        "cleo@example.org": "waitlisted", "dan@example.org": "declined"}


def test_admitting_beyond_the_quota_warns(workspace: Path, store: Store) -> None:
    add_people(store, "company", "ada", "ben", "cleo")
    result = invite(workspace, "admit", "ada@example.org", "ben@example.org", "cleo@example.org")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[2] == "cleo@example.org: admitted (company: 3 of 2 places taken)"
    assert result.stderr.splitlines() == ["Warning: role 'company' now has 3 admitted for 2 places"]
    quotas = json.loads(invite(workspace, "status", "--json").stdout)["quotas"]
    assert quotas["company"]["admitted"] == 3


def test_admitting_someone_who_did_not_say_yes_warns(workspace: Path, store: Store) -> None:
    add_people(store, "company", "ada", answer="no")
    add_people(store, "network_manager", "ben", answer=None)
    result = invite(workspace, "admit", "ada@example.org", "ben@example.org")
    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        "Warning: ada@example.org answered no; admitted all the same",
        "Warning: ben@example.org has not answered; admitted all the same"]


def test_an_unknown_address_is_an_error_and_changes_nobody(workspace: Path, store: Store) -> None:
    add_people(store, "company", "ada")
    result = invite(workspace, "admit", "ada@example.org", "nobody@example.org")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "Error: no recipient 'nobody@example.org' in this workspace; nothing was changed",
        "Hint: Check the spelling; `invite export --what recipients` lists everyone."]
    assert admission(store, "ada") is None


def test_under_selection_answers_change_no_decision_but_an_admitted_no_withdraws(
        settings: Settings, event: EventConfig, store: Store) -> None:
    client = TestClient(create_app(settings, event, store, clock=lambda: OPEN))
    add_people(store, "company", "ada", "ben", "cleo")
    for name, decision in (("ada", "admitted"), ("cleo", "waitlisted")):
        decide(store, event, store.find_recipient(f"{name}@example.org").id, decision)
    answer(client, settings, store, "ada", "maybe")  # undecided: she keeps her place
    answer(client, settings, store, "ben", "yes")
    answer(client, settings, store, "cleo", "no")
    assert [admission(store, n) for n in ("ada", "ben", "cleo")] == [
        "admitted", None, "waitlisted"]
    answer(client, settings, store, "ada", "no")  # the place is free: nobody moves up
    assert [admission(store, n) for n in ("ada", "ben", "cleo")] == [
        "withdrawn", None, "waitlisted"]
    answer(client, settings, store, "ada", "yes")  # an application again: you decide
    assert admission(store, "ada") is None


# first-come: the answers decide


def test_yes_answers_are_admitted_up_to_the_quota_then_waitlisted(
        web: TestClient, settings: Settings, workspace: Path, store: Store) -> None:
    add_people(store, "company", "ada", "ben", "cleo", "dan", answer=None)
    add_people(store, "", "eve", answer=None)  # a role without a quota: no limit
    for name in ("ada", "ben", "cleo", "dan", "eve"):
        answer(web, settings, store, name, "yes")
    assert exported_admissions(workspace) == {
        "ada@example.org": "admitted", "ben@example.org": "admitted",
        "cleo@example.org": "waitlisted", "dan@example.org": "waitlisted",
        "eve@example.org": "admitted"}
    quotas = json.loads(invite(workspace, "status", "--json").stdout)["quotas"]
    assert quotas["company"] == {"quota": 2, "yes": 4, "admitted": 2, "waitlisted": 2,
                                 "withdrawn": 0}


def test_an_admitted_no_promotes_the_first_on_the_waiting_list(
        web: TestClient, settings: Settings, store: Store) -> None:
    add_people(store, "company", "ada", "ben", "cleo", "dan", answer=None)
    for name in ("ada", "ben", "dan", "cleo"):  # dan said yes before cleo
        answer(web, settings, store, name, "yes")
    answer(web, settings, store, "ada", "no")
    assert [admission(store, n) for n in ("ada", "ben", "cleo", "dan")] == [
        "withdrawn", "admitted", "waitlisted", "admitted"]
    answer(web, settings, store, "cleo", "maybe")  # leaves the waiting list
    answer(web, settings, store, "ada", "yes")  # back, at the end of the line
    assert [admission(store, n) for n in ("ada", "cleo")] == ["waitlisted", None]


def test_the_person_moved_up_is_told_by_the_next_confirmation_run(
        web: TestClient, settings: Settings, workspace: Path, store: Store) -> None:
    add_people(store, "company", "ada", "ben", "cleo", answer=None)
    for name in ("ada", "ben", "cleo"):
        answer(web, settings, store, name, "yes")
    with running_relay() as (relay, port):
        def send(mailing: str) -> list[str]:
            before = len(relay.snapshot())
            result = CliRunner().invoke(
                app, ["send", "--mailing", mailing, "--yes", "-w", str(workspace)],
                env={"INVITE_SECRET_KEY": TEST_KEY, "INVITE_SMTP_HOST": "127.0.0.1",
                     "INVITE_SMTP_PORT": str(port), "INVITE_BASE_URL": BASE_URL},
                catch_exceptions=False)
            assert result.exit_code == 0, result.output
            return sorted(m.recipients[0] for m in relay.snapshot()[before:])

        assert send("confirmation") == ["ada@example.org", "ben@example.org"]
        assert send("waitlist") == ["cleo@example.org"]
        answer(web, settings, store, "ada", "no")
        assert send("confirmation") == ["cleo@example.org"]
        assert send("waitlist") == []


def test_the_organisers_decline_frees_a_place_for_the_waiting_list(
        workspace: Path, first_come: EventConfig, store: Store) -> None:
    ids = add_people(store, "company", "ada", "ben", "cleo", answer=None)
    for recipient_id in ids:
        store.record_answer(recipient_id, "yes", {}, "web", now=OPEN)
        apply_first_come(store, first_come, recipient_id, now=OPEN)
    result = invite(workspace, "decline", "ada@example.org")
    assert result.stdout.splitlines() == [
        "ada@example.org: declined",
        "cleo@example.org: admitted from the waiting list (company: 2 of 2 places taken)",
        "Next: invite send --mailing regret",
        "Next: invite send --mailing confirmation"]
    # An answer never overrides the organiser's decline.
    store.record_answer(ids[0], "yes", {}, "web", now=OPEN)
    assert apply_first_come(store, first_come, ids[0]) is not None
    assert admission(store, "ada") == "declined"


def test_concurrent_answers_never_admit_beyond_the_quota(
        settings: Settings, first_come: EventConfig, store: Store) -> None:
    names = [f"c{index}" for index in range(8)]
    ids = add_people(store, "company", *names, answer=None)
    start = threading.Barrier(len(ids))
    errors: list[BaseException] = []

    def say_yes(recipient_id: int) -> None:
        own = open_store(settings.database)
        try:
            start.wait()
            own.record_answer(recipient_id, "yes", {}, "web")
            apply_first_come(own, first_come, recipient_id)
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)
        finally:
            own.close()

    threads = [threading.Thread(target=say_yes, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    states = [admission(store, name) for name in names]
    assert states.count("admitted") == 2
    assert states.count("waitlisted") == 6


def test_record_under_first_come_says_where_the_person_stands(
        workspace: Path, first_come: EventConfig, store: Store) -> None:
    add_people(store, "company", "ada", "ben", "cleo", answer=None)
    for name in ("ada", "ben", "cleo"):
        invite(workspace, "record", f"{name}@example.org", "--attendance", "yes",
               "--answer", "parts=visits")
    assert admission(store, "cleo") == "waitlisted"
    result = invite(workspace, "record", "ada@example.org", "--attendance", "no")
    assert result.stdout.splitlines() == [
        "Recorded for ada@example.org: no.",
        "ada@example.org: withdrawn; their place is free again",
        "cleo@example.org: admitted from the waiting list"]


def test_a_version_2_database_keeps_its_decisions(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path, isolation_level=None)
    for version in (1, 2):
        old.executescript(MIGRATIONS[version])
    old.execute("INSERT INTO meta (key, value) VALUES ('event_id', 'e1')")
    old.execute("INSERT INTO recipients (email_key, email, email_ascii, role, admission, "
                "created_at, updated_at) VALUES ('a@x.org', 'a@x.org', 'a@x.org', 'company', "
                "'admitted', 'now', 'now')")
    old.execute("PRAGMA user_version = 2")
    old.close()
    store = open_store(path)
    try:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert store.find_recipient("a@x.org").admission == "admitted"
        columns = {row["name"] for row in store.conn.execute("PRAGMA table_info(recipients)")}
        assert {"admission_at", "admission_source", "admission_order"} <= columns
    finally:
        store.close()
