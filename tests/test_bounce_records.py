"""Bounces (#9) in the store: hard marks, soft counts up to the limit, each report once,
waiting mail called off, no mailing queued for a dead address, proof required, forget."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mailer.bounces.intake import take_in
from mailer.delivery import verp
from mailer.delivery.outbox import Outbox, Outcome
from rsvp.bounce_config import BounceRules
from rsvp.bounces import (
    AUTO_REPLY,
    COUNTED,
    HARD,
    MARKED,
    SEEN,
    SOFT,
    BounceRecord,
    bounced_by_id,
    record_bounces,
)
from rsvp.config import load_event
from rsvp.errors import ConfigError
from rsvp.privacy import forget_person
from rsvp.schema import MIGRATIONS, SCHEMA_VERSION
from rsvp.settings import Settings
from rsvp.store import Store, open_store
from tests.bounce_corpus import sample
from tests.conftest import person

WHEN = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)


def sent_invitations(store: Store, *emails: str) -> dict[str, tuple[int, str]]:
    """Everyone in `emails` with a sent invitation: (outbox row, Message-ID) by address."""
    store.add_recipients([person(email) for email in emails])
    outbox = Outbox(store)
    outbox.queue("invitation")
    items = list(outbox.pending("invitation"))
    outbox.claim([(item.id, f"<m{item.id}@example.org>") for item in items])
    outbox.finish([Outcome(item.id, "sent", "250 OK") for item in items])
    return {item.recipient.email: (item.id, f"<m{item.id}@example.org>") for item in items}


def test_a_hard_bounce_marks_once_and_a_soft_one_only_at_the_limit(store: Store) -> None:
    ids = {email: store.find_recipient(email).id
           for email in sent_invitations(store, "a@x.org", "b@x.org")}
    hard = BounceRecord("k1", HARD, ids["a@x.org"], None, "5.1.1", "no such user", WHEN)
    assert record_bounces(store, [hard, hard], soft_limit=2) == [MARKED, SEEN]
    soft = [BounceRecord(f"s{n}", SOFT, ids["b@x.org"], None, "4.2.2", "mailbox full")
            for n in range(3)]
    assert record_bounces(store, soft, soft_limit=2, now=WHEN) == [COUNTED, MARKED, COUNTED]
    assert bounced_by_id(store) == {
        ids["a@x.org"]: ("2030-03-01T09:00:00+00:00", "no such user"),
        ids["b@x.org"]: ("2030-03-01T09:00:00+00:00", "soft bounces: 2; last: mailbox full")}
    # A later hard bounce keeps the first date and reason.
    later = BounceRecord("k2", HARD, ids["a@x.org"], None, "5.1.1", "gone", datetime.now(UTC))
    assert record_bounces(store, [later], soft_limit=2) == [COUNTED]
    assert bounced_by_id(store)[ids["a@x.org"]][1] == "no such user"
    auto = BounceRecord("k3", AUTO_REPLY, None, reason="Out of office")
    assert record_bounces(store, [auto], soft_limit=2) == [COUNTED]


def test_a_bounced_person_gets_no_further_mailing_and_waiting_mail_is_called_off(
        store: Store) -> None:
    sent_invitations(store, "a@x.org", "b@x.org")
    outbox = Outbox(store)
    assert outbox.queue("reminder") == 2
    dead = store.find_recipient("a@x.org").id
    record_bounces(store, [BounceRecord("k", HARD, dead, None, "5.1.1", "gone")], 3)
    rows = {row[0]: (row[1], row[2]) for row in store.conn.execute(
        "SELECT r.email, o.state, o.last_reply FROM outbox o JOIN recipients r "
        "ON r.id = o.recipient_id WHERE o.mailing = 'reminder'")}
    assert rows == {"a@x.org": ("cancelled", "bounced"), "b@x.org": ("queued", "")}
    store.add_recipients([person("c@x.org")])
    store.conn.execute("UPDATE recipients SET bounced_at = '2030-01-01' WHERE email = 'c@x.org'")
    assert outbox.queue("invitation") == 0  # c is new, but bounced


def test_without_verp_a_report_is_matched_by_our_message_id_and_never_by_address_alone(
        store: Store, settings: Settings) -> None:
    sent = sent_invitations(store, "a@x.org", "b@x.org")
    messages = [
        ("one", sample("postfix_user_unknown", "office@example.org", "a@x.org",
                       sent["a@x.org"][1], "r1")),
        ("two", sample("forged_no_proof", rcpt="b@x.org", key="r2")),
    ]
    report = take_in(store, settings, messages, BounceRules())
    assert [(item.email, item.marked) for item in report.hard] == [("a@x.org", True)]
    assert report.unmatched == [("two", "b@x.org")]
    assert set(bounced_by_id(store)) == {store.find_recipient("a@x.org").id}


def test_with_verp_on_our_message_id_alone_proves_nothing(
        store: Store, settings: Settings) -> None:
    """Every copy and reply of a mail carries its Message-ID; with VERP on, a real report
    names the envelope address, so a report with only the Message-ID marks nobody."""
    sent = sent_invitations(store, "a@x.org")
    report = take_in(store, replace(settings, bounce_address="bounces@example.org"),
                     [("one", sample("postfix_user_unknown", "office@example.org", "a@x.org",
                                     sent["a@x.org"][1], "r1"))], BounceRules())
    assert report.hard == [] and report.unmatched == [("one", "a@x.org")]
    assert bounced_by_id(store) == {}


def test_a_verp_id_of_a_row_that_is_gone_or_of_another_workspace_matches_nothing(
        store: Store, settings: Settings) -> None:
    sent_invitations(store, "a@x.org")
    stranger = verp.encode("bounces@example.org", 1, ("another-workspace-key-123",))
    vanished = verp.encode("bounces@example.org", 999, settings.secret_keys)
    report = take_in(store, settings, [
        ("s", sample("vague_verp_only", stranger, key="v1")),
        ("v", sample("vague_verp_only", vanished, key="v2")),
        ("o", sample("ooo_en", stranger, "a@x.org", key="v3"))])
    assert [source for source, _ in report.unmatched] == ["s", "v"]
    assert [(item.email, item.kind) for item in report.auto_replies] == [("", AUTO_REPLY)]
    assert bounced_by_id(store) == {}


def test_forgetting_a_person_blanks_the_bounce_reason(store: Store) -> None:
    sent_invitations(store, "a@x.org")
    dead = store.find_recipient("a@x.org").id
    record_bounces(store, [BounceRecord("k", HARD, dead, None, "5.1.1", "<a@x.org>: gone")], 3)
    forget_person(store, dead)
    assert store.conn.execute("SELECT reason FROM bounces").fetchone()[0] == ""
    assert bounced_by_id(store)[dead][1] == ""


def test_a_version_9_database_gets_the_bounce_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path, isolation_level=None)
    for version in range(1, 10):
        old.executescript(MIGRATIONS[version])
    old.execute("INSERT INTO meta (key, value) VALUES ('event_id', 'e1')")
    old.execute("INSERT INTO recipients (email_key, email, email_ascii, created_at, updated_at) "
                "VALUES ('a@x.org', 'a@x.org', 'a@x.org', 'now', 'now')")
    old.execute("PRAGMA user_version = 9")
    old.close()
    store = open_store(path)
    try:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        row = store.conn.execute("SELECT bounced_at, bounce_reason, soft_bounces FROM "
                                 "recipients").fetchone()
        assert tuple(row) == (None, None, 0)
    finally:
        store.close()


@pytest.mark.parametrize(("toml", "limit"), [("", 3), ("[bounces]\nsoft_limit = 5\n", 5)])
def test_the_soft_limit_comes_from_event_toml(settings: Settings, toml: str, limit: int) -> None:
    with settings.event_file.open("a", encoding="utf-8") as handle:
        handle.write("\n" + toml)
    assert load_event(settings.event_file).bounces.soft_limit == limit


@pytest.mark.parametrize(("toml", "problem"), [
    ("[bounces]\nsoft_limit = 0\n", "'bounces.soft_limit' must be 1 or more"),
    ("[bounces]\nsoft = 2\n", "'bounces.soft' is not a known setting (a typo?)"),
])
def test_a_wrong_bounce_setting_names_its_key(settings: Settings, toml: str,
                                               problem: str) -> None:
    with settings.event_file.open("a", encoding="utf-8") as handle:
        handle.write("\n" + toml)
    with pytest.raises(ConfigError) as caught:
        load_event(settings.event_file)
    assert problem in caught.value.message


def test_a_message_too_big_for_any_report_is_not_read(store: Store, settings: Settings,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    sent = sent_invitations(store, "a@x.org")
    raw = sample("postfix_user_unknown", "office@example.org", "a@x.org", sent["a@x.org"][1])
    monkeypatch.setattr("mailer.bounces.intake.MAX_MESSAGE_BYTES", len(raw) - 1)
    report = take_in(store, settings, [("big", raw)])
    assert (report.not_understood, report.hard, bounced_by_id(store)) == ([("big", "bigger than 0 MB")], [], {})
