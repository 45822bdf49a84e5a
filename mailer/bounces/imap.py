"""Read the bounce folder over IMAP and mark what was taken in, never deleting mail.

imap-tools (over the standard library's imaplib) opens the line: TLS from the first
byte or STARTTLS before the login, the certificate checked against the system's
authorities plus INVITE_BOUNCE_IMAP_CA_FILE, and its errors tell a refused login from a
missing folder. It is synchronous, which suits both the CLI and the background thread of
`invite serve`; an asyncio client would only move the same waiting onto a loop the web
app must keep free. Searching, fetching and flagging go through its imaplib client
directly, because imap-tools' `flag` and client-side `move` EXPUNGE the folder, which
would also remove mail someone else marked deleted.

Which messages are new: those without invite's own keyword $InviteHandled, when the
server lets clients set keywords (PERMANENTFLAGS with \\*; Dovecot, Cyrus, Gmail and
Exchange do). \\Seen is then left alone: a bounce a person has opened is still new to
invite, and one invite has handled is still unread for the person. Only on a server
without keywords is \\Seen the mark. With INVITE_BOUNCE_IMAP_MOVE_TO handled mail is also
moved. Only new messages are fetched in full, in batches, each cut at MAX_MESSAGE bytes
(a bounce's report comes before the returned message; a stranger's huge mail costs no
more). Every message read is marked handled, those not understood too (with the keyword
they stay unread, for a person to look at). Marking comes only after `take` has
returned, so a failed intake leaves the messages to be read again, and the intake
recognises what it already counted. If the server refuses the marking, the intake's
report is told first, then the error; a `Progress` kept between polls makes the next
poll go on with newer messages instead of the same oldest ones. Each message comes
with its source, its IMAP URL (RFC 5092: server, user, folder, UIDVALIDITY and UID),
which names it the same way on every run.
"""

from __future__ import annotations

import imaplib
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import quote

from imap_tools import MailBox, MailBoxStartTls
from imap_tools.errors import (
    MailboxFolderSelectError,
    MailboxLoginError,
    MailboxStarttlsError,
    UnexpectedCommandStatusError,
)
from imap_tools.mailbox import BaseMailBox
from imap_tools.utils import encode_folder

from mailer.bounces.imap_fetch import fetched_bodies
from mailer.delivery.tls import tls_context, untrusted_certificate
from rsvp.errors import MailboxError, SendError
from rsvp.imap_settings import BounceMailbox

R = TypeVar("R")
Message = tuple[str, bytes]

TIMEOUT = 30.0
BATCH = 50
MARK_BATCH = 500  # UIDs per STORE or MOVE: keeps each command line short
MAX_MESSAGE = 512 * 1024
CERTIFICATE_HINT = ("If the mail server has a certificate of its own (self-signed or from "
                    "your organisation's authority), set INVITE_BOUNCE_IMAP_CA_FILE to it (PEM).")
KEYWORD = "$InviteHandled"
MARK_HINT = ("Let INVITE_BOUNCE_IMAP_USER set flags in the folder (IMAP ACL rights w and s), "
             "and with INVITE_BOUNCE_IMAP_MOVE_TO insert into and create that folder; or unset "
             "INVITE_BOUNCE_IMAP_MOVE_TO. What was read is recorded and counts as already "
             "seen when it is read again.")


@dataclass
class Progress:
    """The highest UID taken in, under its UIDVALIDITY: kept between polls so that they
    move on even when the server refuses to mark mail handled."""

    uidvalidity: str = ""
    last_uid: int = 0


def take_in_new(mailbox: BounceMailbox, take: Callable[[Iterator[Message]], R],
                limit: int | None = None, told: Callable[[R], object] | None = None,
                progress: Progress | None = None) -> R:
    """Hand the folder's new messages to `take`, fetched as it reads them, and once it has
    returned (and `told` has been given its result) mark each message it read as handled;
    at most `limit` messages (the rest wait for the next run). If `take` fails, nothing is
    marked. With `progress`, messages up to the UID it names are not read again."""
    with opened(mailbox) as folder:
        after = progress.last_uid if progress and progress.uidvalidity == folder.uidvalidity \
            else 0
        handed: list[int] = []
        result = take(folder.messages(folder.new_uids(after)[:limit], handed))
        if told is not None:
            told(result)
        if progress is not None and handed:
            progress.uidvalidity, progress.last_uid = folder.uidvalidity, max(handed)
        try:
            for start in range(0, len(handed), MARK_BATCH):
                folder.mark_handled(handed[start:start + MARK_BATCH])
        except MailboxError as error:
            raise MailboxError(f"{error.message}; the {len(handed)} messages read are recorded "
                               "but not marked handled", hint=MARK_HINT) from None
    return result


class BounceFolder:
    """The selected bounce folder of one logged-in session."""

    def __init__(self, mailbox: BounceMailbox, session: BaseMailBox, uidvalidity: str,
                 keywords: bool = False) -> None:
        self.mailbox = mailbox
        self.client = session.client
        self.session = session
        self.uidvalidity = uidvalidity
        self.keywords = keywords  # the server keeps $InviteHandled; else \\Seen marks

    def new_uids(self, after: int = 0) -> list[int]:
        """The UIDs above `after` of messages not yet handled, oldest first (only numbers
        go over the line)."""
        if self.keywords:
            criteria = f"UNKEYWORD {KEYWORD} UNDELETED"
        else:
            criteria = "UNDELETED" if self.mailbox.move_to else "UNSEEN UNDELETED"
        typ, data = self.client.uid("SEARCH", criteria)
        self._check(typ, data, "search the folder")
        return sorted(uid for uid in map(int, (data[0] or b"").split()) if uid > after)

    def messages(self, uids: list[int], handed: list[int]) -> Iterator[Message]:
        """The messages `uids`, fetched BATCH at a time; each UID goes into `handed` as
        its message is handed on."""
        for start in range(0, len(uids), BATCH):
            for uid, message in self.fetch(uids[start:start + BATCH]):
                handed.append(uid)
                yield message

    def fetch(self, uids: list[int]) -> list[tuple[int, Message]]:
        """The messages `uids` as (uid, (key, bytes)), without marking them \\Seen."""
        if not uids:
            return []
        typ, data = self.client.uid("FETCH", ",".join(map(str, uids)),
                                    f"(UID BODY.PEEK[]<0.{MAX_MESSAGE}>)")
        self._check(typ, data, "fetch messages")
        bodies = fetched_bodies(data)
        if not bodies and any(isinstance(item, tuple) for item in data):
            raise MailboxError(f"{self.mailbox.address} answered the fetch of {len(uids)} "
                               f"messages in {self.mailbox.folder!r} without their UIDs")
        return [(uid, (self.key(uid), raw)) for uid, raw in bodies]

    def key(self, uid: int) -> str:
        """The message's IMAP URL (RFC 5092), the same on every run while the folder lives."""
        return (f"imap://{quote(self.mailbox.user, safe='')}@{self.mailbox.host}/"
                f"{quote(self.mailbox.folder)};UIDVALIDITY={self.uidvalidity}/;UID={uid}")

    def mark_handled(self, uids: list[int]) -> None:
        """Set $InviteHandled on `uids` (\\Seen without keywords), and move them to
        INVITE_BOUNCE_IMAP_MOVE_TO if set; never expunge."""
        if not uids:
            return
        uid_set = ",".join(map(str, uids))
        if self.keywords:  # first: a refused move then still leaves them handled
            typ, data = self.client.uid("STORE", uid_set, "+FLAGS.SILENT", f"({KEYWORD})")
            self._check(typ, data, f"flag handled messages {KEYWORD}")
        if self.mailbox.move_to:
            target = encode_folder(self.mailbox.move_to).decode("ascii")  # quoted, UTF-7
            typ, data = self.client.uid("MOVE", uid_set, target)
            self._check(typ, data, f"move handled messages to {self.mailbox.move_to!r}")
        elif not self.keywords:
            typ, data = self.client.uid("STORE", uid_set, "+FLAGS.SILENT", r"(\Seen)")
            self._check(typ, data, "flag handled messages as read")

    def _check(self, typ: str, data: list[object], what: str) -> None:
        if typ != "OK":
            raise MailboxError(f"{self.mailbox.address} refused to {what} in "
                               f"{self.mailbox.folder!r}: {_text(data)}")


@contextmanager
def opened(mailbox: BounceMailbox) -> Iterator[BounceFolder]:
    """Log in and select the bounce folder; raise MailboxError saying what to fix."""
    where = mailbox.address
    try:
        session = _connect(mailbox)
    except ssl.SSLError as error:
        refused = untrusted_certificate(error)
        if refused is not None:
            raise MailboxError(f"the certificate of the bounce mailbox {where} is not trusted: "
                               f"{refused.verify_message}", hint=CERTIFICATE_HINT) from None
        raise MailboxError(f"could not start TLS with the bounce mailbox {where}: {error}",
                           hint=_TLS_HINT) from None
    except (MailboxStarttlsError, imaplib.IMAP4.error) as error:
        raise MailboxError(f"the bounce mailbox {where} does not offer STARTTLS ({error})",
                           hint=_TLS_HINT) from None
    except OSError as error:
        raise MailboxError(f"cannot reach the bounce mailbox {where}: {error}",
                           hint="Check INVITE_BOUNCE_IMAP_HOST and INVITE_BOUNCE_IMAP_PORT.") \
            from None
    try:
        yield _log_in(mailbox, session)
    except (imaplib.IMAP4.error, OSError) as error:  # the line broke, or an odd reply
        raise MailboxError(f"the bounce mailbox {where} broke off: {error}") from None
    finally:
        try:
            session.logout()
        except (UnexpectedCommandStatusError, imaplib.IMAP4.error, OSError):
            pass  # the line is gone already; nothing is left to tidy


_TLS_HINT = ("Port 993 speaks TLS at once (INVITE_BOUNCE_IMAP_TLS=tls); port 143 upgrades "
             "with STARTTLS (INVITE_BOUNCE_IMAP_TLS=starttls).")


def _connect(mailbox: BounceMailbox) -> BaseMailBox:
    context = _context(mailbox)
    if mailbox.tls == "starttls":
        return MailBoxStartTls(mailbox.host, mailbox.port, timeout=TIMEOUT, ssl_context=context)
    return MailBox(mailbox.host, mailbox.port, timeout=TIMEOUT, ssl_context=context)


def _context(mailbox: BounceMailbox) -> ssl.SSLContext:
    try:
        return tls_context(mailbox.ca_file)
    except SendError as error:  # its wording names the relay's INVITE_SMTP_CA_FILE
        raise MailboxError(f"INVITE_BOUNCE_IMAP_CA_FILE {mailbox.ca_file} holds no usable "
                           "certificate", hint="Give the certificate in PEM form (text "
                           "beginning with -----BEGIN CERTIFICATE-----).") from error


def _log_in(mailbox: BounceMailbox, session: BaseMailBox) -> BounceFolder:
    where = mailbox.address
    try:
        if mailbox.user.isascii() and mailbox.password.isascii():
            session.login(mailbox.user, mailbox.password, initial_folder=None)
        else:  # LOGIN carries ASCII only; AUTHENTICATE PLAIN carries UTF-8
            session.login_utf8(mailbox.user, mailbox.password, initial_folder=None)
    except MailboxLoginError as error:
        raise MailboxError(f"the bounce mailbox {where} refused the login for "
                           f"{mailbox.user!r}: {_text(error.command_result[1])}",
                           hint="Check INVITE_BOUNCE_IMAP_USER and INVITE_BOUNCE_IMAP_PASSWORD.") \
            from None
    try:
        session.folder.set(mailbox.folder)
    except MailboxFolderSelectError as error:
        raise MailboxError(f"the bounce mailbox {where} has no folder {mailbox.folder!r} for "
                           f"{mailbox.user!r}: {_text(error.command_result[1])}",
                           hint=_folder_hint(session)) from None
    _, data = session.client.response("UIDVALIDITY")
    uidvalidity = _text(data) if data and data[0] else "0"
    keywords = _keywords_allowed(session)
    if mailbox.move_to:
        _prepare_move(mailbox, session)
    return BounceFolder(mailbox, session, uidvalidity, keywords)


def _keywords_allowed(session: BaseMailBox) -> bool:
    """Whether the selected folder keeps keywords a client makes up (\\* in PERMANENTFLAGS)."""
    _, flags = session.client.response("PERMANENTFLAGS")
    return any(isinstance(item, bytes) and b"\\*" in item for item in flags or [])


def _prepare_move(mailbox: BounceMailbox, session: BaseMailBox) -> None:
    """Refuse a server without MOVE (copy and expunge could remove others' mail) and
    create the folder handled mail goes to."""
    # Asked again: servers tell more after the login than in their greeting.
    _, data = session.client.capability()
    if b"MOVE" not in (data[0] or b"").upper().split():
        raise MailboxError(f"the bounce mailbox {mailbox.address} cannot move messages (no "
                           "IMAP MOVE)", hint="Unset INVITE_BOUNCE_IMAP_MOVE_TO: handled "
                           "bounces are then marked as read where they are.")
    if not session.folder.exists(mailbox.move_to):
        session.folder.create(mailbox.move_to)


def _folder_hint(session: BaseMailBox) -> str:
    """Name the folders there are, so the organiser can copy the right spelling."""
    try:
        names = [folder.name for folder in session.folder.list()][:12]
    except (UnexpectedCommandStatusError, imaplib.IMAP4.error, OSError):
        names = []
    there = f" The mailbox has: {', '.join(names)}." if names else ""
    return f"Set INVITE_BOUNCE_IMAP_FOLDER to the folder the bounces arrive in.{there}"


def _text(data: object) -> str:
    """The server's words from an imaplib reply, for a message."""
    items = data if isinstance(data, list) else [data]
    return " ".join(item.decode(errors="replace") if isinstance(item, bytes) else str(item)
                    for item in items if item is not None).strip()
