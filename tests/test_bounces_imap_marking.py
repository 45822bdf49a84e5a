"""What the IMAP bounce reader (#9) marks, against the tests' real Dovecot: one unreadable
message does not block the folder, people's \\Seen is left alone, and a server that
refuses the marking still gets the report told and lets later polls move on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mailer.bounces.imap import KEYWORD, MARK_HINT, Message, Progress, take_in_new
from mailer.bounces.imap_fetch import fetched_bodies
from mailer.bounces.intake import IntakeReport
from mailer.bounces.poll import BouncePoller
from mailer.delivery import verp
from mailer.delivery.outbox import Outbox, Outcome
from rsvp.bounce_config import BounceRules
from rsvp.bounces import bounced_by_id
from rsvp.errors import MailboxError
from rsvp.settings import load_settings
from rsvp.store import open_store
from tests import test_bounces_imap as shared
from tests.bounce_corpus import sample
from tests.conftest import TEST_KEY, make_workspace, person
from tests.imap_server import ImapServer
from tests.test_bounces_imap import Recorder, mailbox

server, folder = shared.server, shared.folder  # the same Dovecot, a folder per test


def report(name: str, number: int) -> bytes:
    return sample(name, rcpt=f"p{number}@example.net", key=f"{name}.{number}")


def test_an_unreadable_message_is_listed_and_never_blocks_the_folder(
        server: ImapServer, folder: str, tmp_path: Path) -> None:
    settings = load_settings(make_workspace(tmp_path), {
        "INVITE_SECRET_KEY": TEST_KEY, "INVITE_BOUNCE_ADDRESS": "bounces@example.org"})
    store = open_store(settings.database)
    store.add_recipients([person("anna@partner.example")])
    outbox = Outbox(store)
    outbox.queue("invitation")
    (item,) = list(outbox.pending("invitation"))
    outbox.claim([(item.id, "<m1@example.org>")])
    outbox.finish([Outcome(item.id, "sent", "250 OK")])
    store.close()
    address = verp.encode("bounces@example.org", item.id, (TEST_KEY,))
    server.deliver(sample("hostile_deep_multipart", address, "anna@partner.example"),
                   sample("postfix_user_unknown", address, "anna@partner.example",
                          "<m1@example.org>"), folder=folder)
    poller = BouncePoller(settings, mailbox(server, folder), BounceRules(), 60)
    first, second = poller.poll(), poller.poll()
    assert isinstance(first, IntakeReport) and isinstance(second, IntakeReport)
    assert [item.email for item in first.marked] == ["anna@partner.example"]
    assert [why for _, why in first.not_understood] == [
        "3000 MIME parts (a report has a few; at most 200 are read)"]
    assert second.total == 0
    # Both handled for invite, both still unread for the organiser's mail program.
    assert [(KEYWORD in f, r"\Seen" in f) for f in server.flags(folder)] == [(True, False)] * 2
    store = open_store(settings.database)
    try:
        assert len(bounced_by_id(store)) == 1
    finally:
        store.close()


def test_a_bounce_opened_by_a_person_is_still_read(server: ImapServer, folder: str) -> None:
    server.deliver(report("postfix_user_unknown", 1), folder=folder)
    with server.client(folder) as client:
        client.store("1", "+FLAGS", r"(\Seen)")
    taken = Recorder()
    assert take_in_new(mailbox(server, folder), taken) == 1
    assert [(KEYWORD in f, r"\Seen" in f) for f in server.flags(folder)] == [(True, True)]


def test_without_keywords_seen_marks_handled(server: ImapServer, folder: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # Dovecot always keeps keywords: the reply of a server that does not is made up here.
    monkeypatch.setattr("mailer.bounces.imap._keywords_allowed", lambda session: False)
    server.deliver(report("postfix_user_unknown", 1), folder=folder)
    assert take_in_new(mailbox(server, folder), Recorder()) == 1
    assert [(KEYWORD in f, r"\Seen" in f) for f in server.flags(folder)] == [(False, True)]
    assert take_in_new(mailbox(server, folder), Recorder()) == 0


def test_a_refused_marking_tells_the_report_first_and_later_polls_move_on(
        server: ImapServer, folder: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mailer.bounces.imap._keywords_allowed", lambda session: False)
    done = f"{folder}-done"
    server.deliver(report("postfix_user_unknown", 1), report("exim_failed", 2), folder=folder)

    def take_then_lose_the_target(messages: Iterator[Message]) -> int:
        count = len(list(messages))
        with server.client(folder) as client:  # the target goes away: MOVE is refused
            assert client.delete(done)[0] == "OK"
        return count

    told: list[int] = []
    progress = Progress()
    moving = mailbox(server, folder, INVITE_BOUNCE_IMAP_MOVE_TO=done)
    with pytest.raises(MailboxError) as caught:
        take_in_new(moving, take_then_lose_the_target, told=told.append, progress=progress)
    assert told == [2]
    assert "2 messages read are recorded but not marked handled" in caught.value.message
    assert caught.value.hint == MARK_HINT and "INVITE_BOUNCE_IMAP_MOVE_TO" in MARK_HINT
    server.deliver(report("postfix_user_unknown", 3), folder=folder)
    later = Recorder()
    assert take_in_new(moving, later, progress=progress) == 1
    assert later.messages[0][1] == report("postfix_user_unknown", 3)


def test_the_uid_is_found_before_or_after_the_body() -> None:
    assert fetched_bodies([(b"1 (UID 7 BODY[]<0> {3}", b"abc"), b")"]) == [(7, b"abc")]
    assert fetched_bodies([(b"1 (BODY[]<0> {3}", b"abc"), b" UID 8)",
                           (b"2 (FLAGS () BODY[]<0> {2}", b"de"), b" UID 9)"]) == \
        [(8, b"abc"), (9, b"de")]
    assert fetched_bodies([(b"1 (BODY[]<0> {3}", b"abc"), b")"]) == []
