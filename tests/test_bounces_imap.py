"""The IMAP source of bounces (#9) against a real Dovecot on 127.0.0.1 (tests/imap_server.py).

Bounces go into the server with IMAP APPEND, as a mail server would deliver them; the
source must yield each new one once, with a key that stays the same, mark it handled
(invite's keyword, \\Seen left to people; or moved) only after it was taken in, and say clearly what is wrong with the
certificate, the login or the folder.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from mailer.bounces.imap import KEYWORD, MAX_MESSAGE, Message, take_in_new
from rsvp.errors import ConfigError, MailboxError
from rsvp.imap_settings import BounceMailbox, load_bounce_mailbox
from tests.bounce_corpus import sample
from tests.imap_server import USER, ImapServer, running_or_skip


def dsn(recipient: str, sample_name: str = "postfix_user_unknown") -> bytes:
    """A bounce report about the mail to `recipient` (tests/bounce_samples)."""
    return sample(sample_name, rcpt=recipient, key=recipient.replace("@", "."))


@pytest.fixture(scope="module")
def server() -> Iterator[ImapServer]:
    yield from running_or_skip()


@pytest.fixture
def folder(request: pytest.FixtureRequest) -> str:
    """A folder of this test's own, so tests on one server do not see each other's mail."""
    return re.sub(r"[^A-Za-z0-9]+", "-", request.node.name).strip("-")


def mailbox(server: ImapServer, folder: str, tls: str = "tls", **extra: str) -> BounceMailbox:
    found = load_bounce_mailbox(server.env(tls, INVITE_BOUNCE_IMAP_FOLDER=folder, **extra))
    assert found is not None
    return found


class Recorder:
    """A `take` that keeps what it was handed."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    def __call__(self, messages: Iterator[Message]) -> int:
        self.messages += messages
        return len(self.messages)


@pytest.mark.parametrize("tls", ["tls", "starttls"])
def test_new_bounces_are_yielded_once_and_marked_handled_not_read(server: ImapServer, folder: str,
                                                      tls: str) -> None:
    sent = [dsn("gone@example.net"), dsn("moved@example.com", "exim_failed")]
    server.deliver(*sent, folder=folder)
    first = Recorder()
    assert take_in_new(mailbox(server, folder, tls), first) == 2
    assert [raw for _, raw in first.messages] == sent
    keys = [key for key, _ in first.messages]
    pattern = (rf"imap://bounces%40example.org@127\.0\.0\.1/{folder};"
               r"UIDVALIDITY=\d+/;UID=(\d+)")
    assert [re.fullmatch(pattern, key) is not None for key in keys] == [True, True]
    flags = server.flags(folder)
    assert all(KEYWORD in f and r"\Seen" not in f for f in flags), flags

    again = Recorder()
    assert take_in_new(mailbox(server, folder, tls), again) == 0
    assert again.messages == []

    server.deliver(dsn("late@example.net"), folder=folder)
    later = Recorder()
    take_in_new(mailbox(server, folder, tls), later)
    assert [raw for _, raw in later.messages] == [dsn("late@example.net")]
    assert later.messages[0][0] not in keys


def test_a_failed_intake_leaves_the_messages_unread_with_the_same_keys(
        server: ImapServer, folder: str) -> None:
    server.deliver(dsn("gone@example.net"), folder=folder)

    def broken(messages: Iterator[Message]) -> int:
        next(messages)
        raise RuntimeError("the database is locked")

    with pytest.raises(RuntimeError):
        take_in_new(mailbox(server, folder), broken)
    assert [KEYWORD in flags for flags in server.flags(folder)] == [False]
    first, second = Recorder(), Recorder()
    take_in_new(mailbox(server, folder), first)
    assert [raw for _, raw in first.messages] == [dsn("gone@example.net")]
    # A folder read again (e.g. after the flags were reset) gives the same keys.
    with server.client(folder) as client:
        client.store("1:*", "-FLAGS", f"({KEYWORD})")
    take_in_new(mailbox(server, folder), second)
    assert [key for key, _ in second.messages] == [key for key, _ in first.messages]


def test_moved_to_a_folder_when_the_organiser_asks_and_never_deleted(
        server: ImapServer, folder: str) -> None:
    done = f"{folder}-processed"
    server.deliver(dsn("a@example.net"), dsn("b@example.net"), folder=folder)
    # A bounce someone already opened in their mail program is still new to invite.
    with server.client(folder) as client:
        client.store("1", "+FLAGS", r"(\Seen)")
    taken = Recorder()
    take_in_new(mailbox(server, folder, INVITE_BOUNCE_IMAP_MOVE_TO=done), taken)
    assert len(taken.messages) == 2
    assert server.flags(folder) == []
    assert len(server.flags(done)) == 2
    assert take_in_new(mailbox(server, folder, INVITE_BOUNCE_IMAP_MOVE_TO=done),
                       Recorder()) == 0


def test_fetched_in_batches_up_to_a_limit_and_huge_mail_cut(server: ImapServer, folder: str,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mailer.bounces.imap.BATCH", 2)
    huge = dsn("huge@example.net") + b"x" * (MAX_MESSAGE + 1000) + b"\r\n"
    server.deliver(*(dsn(f"p{n}@example.net") for n in range(4)), huge, folder=folder)
    taken = Recorder()
    assert take_in_new(mailbox(server, folder), taken, limit=3) == 3
    assert [KEYWORD in flags for flags in server.flags(folder)] == [True] * 3 + [False] * 2
    rest = Recorder()
    assert take_in_new(mailbox(server, folder), rest) == 2
    assert rest.messages[0][1] == dsn("p3@example.net")
    assert rest.messages[1][1] == huge[:MAX_MESSAGE]


def test_an_untrusted_certificate_is_refused(server: ImapServer, folder: str) -> None:
    untrusted = mailbox(server, folder, INVITE_BOUNCE_IMAP_CA_FILE="")
    with pytest.raises(MailboxError) as caught:
        take_in_new(untrusted, Recorder())
    assert str(caught.value).startswith(
        f"the certificate of the bounce mailbox 127.0.0.1:{server.imaps_port} is not trusted: ")
    assert caught.value.hint is not None and "INVITE_BOUNCE_IMAP_CA_FILE" in caught.value.hint


def test_a_refused_login_says_which_settings_to_check(server: ImapServer, folder: str) -> None:
    wrong = mailbox(server, folder, INVITE_BOUNCE_IMAP_PASSWORD="not-the-password")
    with pytest.raises(MailboxError) as caught:
        take_in_new(wrong, Recorder())
    assert str(caught.value).startswith(
        f"the bounce mailbox 127.0.0.1:{server.imaps_port} refused the login for {USER!r}: ")
    assert caught.value.hint == "Check INVITE_BOUNCE_IMAP_USER and INVITE_BOUNCE_IMAP_PASSWORD."
    assert "not-the-password" not in str(caught.value)


def test_a_missing_folder_is_named_with_the_folders_there_are(server: ImapServer) -> None:
    with pytest.raises(MailboxError) as caught:
        take_in_new(mailbox(server, "Bounces"), Recorder())
    assert str(caught.value).startswith(
        f"the bounce mailbox 127.0.0.1:{server.imaps_port} has no folder 'Bounces' for {USER!r}")
    assert caught.value.hint is not None and "INBOX" in caught.value.hint


def test_the_wrong_tls_mode_for_a_port_is_explained(server: ImapServer, folder: str) -> None:
    tls_on_plain = mailbox(server, folder, INVITE_BOUNCE_IMAP_PORT=str(server.imap_port))
    with pytest.raises(MailboxError) as caught:
        take_in_new(tls_on_plain, Recorder())
    assert str(caught.value).startswith(
        f"could not start TLS with the bounce mailbox 127.0.0.1:{server.imap_port}: ")
    assert caught.value.hint is not None and "INVITE_BOUNCE_IMAP_TLS=tls" in caught.value.hint


def test_nothing_listening_is_a_clear_error(folder: str) -> None:
    from mailer.cli.catcher import free_port
    closed = load_bounce_mailbox({"INVITE_BOUNCE_IMAP_HOST": "127.0.0.1",
                                  "INVITE_BOUNCE_IMAP_PORT": str(free_port()),
                                  "INVITE_BOUNCE_IMAP_USER": USER,
                                  "INVITE_BOUNCE_IMAP_PASSWORD": "x"})
    assert closed is not None
    with pytest.raises(MailboxError, match=r"^cannot reach the bounce mailbox 127\.0\.0\.1:"):
        take_in_new(closed, Recorder())


@pytest.mark.parametrize(("env", "message"), [
    ({"INVITE_BOUNCE_IMAP_TLS": "none"}, "INVITE_BOUNCE_IMAP_TLS is 'none'; use tls"),
    ({"INVITE_BOUNCE_IMAP_PASSWORD": ""}, "INVITE_BOUNCE_IMAP_HOST is set but"),
    ({"INVITE_BOUNCE_IMAP_PORT": "imaps"}, "INVITE_BOUNCE_IMAP_PORT is 'imaps', not a port"),
    ({"INVITE_BOUNCE_IMAP_MOVE_TO": "INBOX"}, "INVITE_BOUNCE_IMAP_MOVE_TO is the folder"),
    ({"INVITE_BOUNCE_IMAP_FOLDER": 'a"b'}, "INVITE_BOUNCE_IMAP_FOLDER is 'a\"b', which holds"),
    ({"INVITE_BOUNCE_IMAP_CA_FILE": "/nonexistent.pem"}, "INVITE_BOUNCE_IMAP_CA_FILE is"),
])
def test_settings_are_checked(env: dict[str, str], message: str) -> None:
    base = {"INVITE_BOUNCE_IMAP_HOST": "imap.example.org", "INVITE_BOUNCE_IMAP_USER": USER,
            "INVITE_BOUNCE_IMAP_PASSWORD": "secret"}
    with pytest.raises(ConfigError) as caught:
        load_bounce_mailbox({**base, **env})
    assert str(caught.value).startswith(message)


def test_settings_defaults_and_the_password_kept_out_of_repr() -> None:
    assert load_bounce_mailbox({}) is None
    found = load_bounce_mailbox({"INVITE_BOUNCE_IMAP_HOST": "imap.example.org",
                                 "INVITE_BOUNCE_IMAP_USER": USER,
                                 "INVITE_BOUNCE_IMAP_PASSWORD": "secret",
                                 "INVITE_BOUNCE_IMAP_TLS": "STARTTLS"})
    assert found is not None
    assert (found.port, found.tls, found.folder, found.move_to) == (143, "starttls", "INBOX", "")
    assert "secret" not in repr(found)
