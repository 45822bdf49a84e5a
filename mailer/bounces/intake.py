"""Take in the messages of a bounce mailbox: read each, match it to the mail it is about,
record it once, and say what happened; `take_in` is what every mailbox reader calls
(`invite bounces --maildir/--mbox`, and the IMAP reader).

A report is matched only by what proves that it is about our mail: the VERP id in the
address it came back to (mailer.delivery.verp), else our Message-ID quoted from the
original. A report that names an address but proves nothing is left alone and listed
("unmatched"): anyone can write to a bounce mailbox, and a forged report must not take
a person off the list. Messages that are neither reports nor auto-replies, or that cannot
be read at all (a stranger's broken or hostile mail), are listed as not understood, with
the reason, and left alone as well: one such message never stops the others.

A report about someone erased with `invite forget` changes nobody and keeps no address:
only its key is recorded, so it counts as seen. An auto-reply that matches nobody is
listed but not recorded (strangers could otherwise fill the database).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from mailer.bounces.dsn import AutoReply, Bounce, Notice, Reading, message_key, read_message
from mailer.bounces.mailboxes import MAX_MESSAGE_BYTES
from mailer.bounces.parts import Unreadable
from mailer.delivery import verp
from rsvp.bounce_config import BounceRules
from rsvp.bounces import (
    AUTO_REPLY,
    HARD,
    MARKED,
    SEEN,
    SOFT,
    BounceRecord,
    bounce_reason,
    known_keys,
    outbox_by_message_id,
    outbox_rows,
    record_bounces,
)
from rsvp.records import utcnow
from rsvp.settings import Settings
from rsvp.store import Store

CHUNK = 500  # messages read and recorded per transaction
CHUNK_BYTES = 16 * 1024 * 1024  # ... or fewer, when they are big: what a chunk holds
FORGOTTEN = (0, 0)  # _match: the mail was to someone erased with `invite forget`


@dataclass(frozen=True)
class Handled:
    """One report as the organiser reads it: whose address, what, and whether that person
    is now marked bounced."""

    email: str
    kind: str
    reason: str
    marked: bool = False


@dataclass
class IntakeReport:
    """What one pass over a mailbox did."""

    hard: list[Handled] = field(default_factory=list)
    soft: list[Handled] = field(default_factory=list)
    auto_replies: list[Handled] = field(default_factory=list)
    notices: int = 0  # delay warnings and other notices that are no failure
    already_seen: int = 0
    forgotten: int = 0  # reports about people erased with `invite forget`
    unmatched: list[tuple[str, str]] = field(default_factory=list)  # (source, addresses)
    not_understood: list[tuple[str, str]] = field(default_factory=list)  # (source, why)

    @property
    def marked(self) -> list[Handled]:
        """Those marked bounced by this pass."""
        return [item for item in (*self.hard, *self.soft) if item.marked]

    @property
    def total(self) -> int:
        return (len(self.hard) + len(self.soft) + len(self.auto_replies) + self.notices
                + self.already_seen + self.forgotten + len(self.unmatched) + len(self.not_understood))


def take_in(store: Store, settings: Settings, messages: Iterable[tuple[str, bytes]],
            rules: BounceRules | None = None, now: datetime | None = None) -> IntakeReport:
    """Read `messages` ((source key, raw bytes) each), record what they say, and report.

    `rules` are the event's `[bounces]` (EventConfig.bounces; default: soft_limit 3).
    Recording goes a chunk of messages per transaction; a second pass over the same
    messages changes nothing and counts them as already seen."""
    intake = _Intake(store, settings, rules or BounceRules(), now)
    for chunk in _chunks(messages):
        intake.take_chunk(chunk)
    return intake.report


def _chunks(messages: Iterable[tuple[str, bytes]]) -> Iterator[list[tuple[str, bytes]]]:
    """CHUNK messages at a time, or fewer once they hold CHUNK_BYTES."""
    chunk: list[tuple[str, bytes]] = []
    size = 0
    for source, raw in messages:
        chunk.append((source, raw))
        size += len(raw)
        if len(chunk) >= CHUNK or size >= CHUNK_BYTES:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


class _Intake:
    def __init__(self, store: Store, settings: Settings, rules: BounceRules,
                 now: datetime | None) -> None:
        self.store = store
        self.keys = settings.secret_keys
        # With VERP on, every real report names its mail by the envelope address; our
        # Message-ID is in every copy and reply of the mail, so it proves nothing then.
        self.by_message_id = not settings.bounce_address
        self.rules = rules
        self.now = now or utcnow()
        self.report = IntakeReport()
        self._by_message_id: dict[str, tuple[int, int]] | None = None
        self._emails: dict[int, str] = {}

    def take_chunk(self, chunk: list[tuple[str, bytes]]) -> None:
        keyed = [(source, message_key(raw), raw) for source, raw in chunk]
        seen = known_keys(self.store, (key for _, key, _ in keyed))
        pending: list[tuple[str, BounceRecord]] = []  # the readings are not kept
        for source, key, raw in keyed:
            if key in seen:
                self.report.already_seen += 1
                continue
            record = self._take_one(source, key, raw)
            if record is not None:
                pending.append((source, record))
        outcomes = record_bounces(self.store, (record for _, record in pending),
                                  self.rules.soft_limit, self.now)
        for (source, record), outcome in zip(pending, outcomes, strict=True):
            self._tell(source, record, outcome)

    def _take_one(self, source: str, key: str, raw: bytes) -> BounceRecord | None:
        """Read one message; one that cannot be read is listed with the reason."""
        if len(raw) > MAX_MESSAGE_BYTES:
            too_big = f"bigger than {MAX_MESSAGE_BYTES // 2**20} MB"
            self.report.not_understood.append((source, too_big))
            return None
        try:
            reading = read_message(raw)
            return self._record_for(source, key, reading)
        except Unreadable as error:
            why = str(error)
        except Exception as error:  # noqa: BLE001 - a stranger's mail must not stop the rest
            why = f"could not be read ({type(error).__name__}: {str(error)[:80]})"
        self.report.not_understood.append((source, " ".join(why.split())))
        return None

    def _record_for(self, source: str, key: str, reading: Reading) -> BounceRecord | None:
        """What to record of one message; None (and a line in the report) for the rest."""
        if reading is None:
            self.report.not_understood.append((source, "neither a report nor an auto-reply"))
            return None
        if isinstance(reading, Notice):
            self.report.notices += 1
            return None
        row = self._match(reading)
        if row == FORGOTTEN:  # only the key, so that it counts as seen; no address
            kind = AUTO_REPLY if isinstance(reading, AutoReply) else SOFT
            return BounceRecord(key, kind, None)
        if isinstance(reading, AutoReply):
            if row is None:  # listed, not kept: nobody to tell it about
                self.report.auto_replies.append(Handled("", AUTO_REPLY, reading.subject))
                return None
            return BounceRecord(key, AUTO_REPLY, row[1], row[0], reason=reading.subject)
        if row is None:
            self.report.unmatched.append((source, ", ".join(reading.addresses) or "no address"))
            return None
        moment = reading.dated if reading.dated is not None and reading.dated < self.now \
            else self.now
        return BounceRecord(key, HARD if reading.hard else SOFT, row[1], row[0],
                            reading.status, reading.reason, moment)

    def _match(self, reading: Bounce | AutoReply) -> tuple[int, int] | None:
        """(outbox row, recipient) the message proves it is about, FORGOTTEN when that
        person was erased, or None."""
        for row_id in verp.ids_in(reading.proof_text, self.keys):
            rows = outbox_rows(self.store, [row_id])
            if row_id in rows:
                recipient = rows[row_id]
                return FORGOTTEN if recipient is None else (row_id, recipient)
        if self.by_message_id and isinstance(reading, Bounce) and reading.message_ids:
            if self._by_message_id is None:  # read once, and only when a report needs it
                self._by_message_id = outbox_by_message_id(self.store)
            for message_id in reading.message_ids:
                if message_id in self._by_message_id:
                    return self._by_message_id[message_id]
        return None

    def _tell(self, source: str, record: BounceRecord, outcome: str) -> None:
        if outcome == SEEN:  # a second copy within the same pass
            self.report.already_seen += 1
            return
        if record.recipient_id is None and record.outbox_id is None:
            self.report.forgotten += 1
            return
        email = self._email(record.recipient_id)
        reason = record.reason
        if outcome == MARKED and record.kind == SOFT and record.recipient_id is not None:
            reason = bounce_reason(self.store, record.recipient_id)  # says how many
        item = Handled(email, record.kind, reason, outcome == MARKED)
        {HARD: self.report.hard, SOFT: self.report.soft,
         AUTO_REPLY: self.report.auto_replies}[record.kind].append(item)

    def _email(self, recipient_id: int | None) -> str:
        if recipient_id is None:
            return ""
        if recipient_id not in self._emails:
            person = self.store.recipient(recipient_id)
            self._emails[recipient_id] = person.email if person is not None else ""
        return self._emails[recipient_id]
