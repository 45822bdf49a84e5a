"""Take in the messages of a bounce mailbox: read each, match it to the mail it is about,
record it once, and say what happened; `take_in` is what every mailbox reader calls
(`invite bounces --maildir/--mbox`, and the IMAP reader).

A report is matched only by what proves that it is about our mail: the VERP id in the
address it came back to (mailer.delivery.verp), else our Message-ID quoted from the
original. A report that names an address but proves nothing is left alone and listed
("unmatched"): anyone can write to a bounce mailbox, and a forged report must not take
a person off the list. Messages that are neither reports nor auto-replies are listed as
not understood and left alone as well.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from mailer.bounces.dsn import AutoReply, Bounce, Notice, Reading, message_key, read_message
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
# Anyone can write to a bounce mailbox: a message bigger than any report with its
# returned original (relays refuse mail far smaller) is not read at all.
MAX_MESSAGE_BYTES = 30 * 1024 * 1024


@dataclass(frozen=True)
class Handled:
    """One report as the organiser reads it: whose address, what, and whether that person
    is now marked bounced."""

    source: str
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
    unmatched: list[tuple[str, str]] = field(default_factory=list)  # (source, addresses)
    not_understood: list[str] = field(default_factory=list)  # sources

    @property
    def marked(self) -> list[Handled]:
        """Those marked bounced by this pass."""
        return [item for item in (*self.hard, *self.soft) if item.marked]

    @property
    def total(self) -> int:
        return (len(self.hard) + len(self.soft) + len(self.auto_replies) + self.notices
                + self.already_seen + len(self.unmatched) + len(self.not_understood))


def take_in(store: Store, settings: Settings, messages: Iterable[tuple[str, bytes]],
            rules: BounceRules | None = None, now: datetime | None = None) -> IntakeReport:
    """Read `messages` ((source key, raw bytes) each), record what they say, and report.

    `rules` are the event's `[bounces]` (EventConfig.bounces; default: soft_limit 3).
    Recording goes a chunk of messages per transaction; a second pass over the same
    messages changes nothing and counts them as already seen."""
    intake = _Intake(store, settings, rules or BounceRules(), now)
    iterator = iter(messages)
    while chunk := list(itertools.islice(iterator, CHUNK)):
        intake.take_chunk(chunk)
    return intake.report


class _Intake:
    def __init__(self, store: Store, settings: Settings, rules: BounceRules,
                 now: datetime | None) -> None:
        self.store = store
        self.keys = settings.secret_keys
        self.rules = rules
        self.now = now or utcnow()
        self.report = IntakeReport()
        self._by_message_id: dict[str, tuple[int, int]] | None = None
        self._emails: dict[int, str] = {}

    def take_chunk(self, chunk: list[tuple[str, bytes]]) -> None:
        keyed = [(source, message_key(raw), raw) for source, raw in chunk]
        seen = known_keys(self.store, (key for _, key, _ in keyed))
        pending: list[tuple[str, BounceRecord, Reading]] = []
        for source, key, raw in keyed:
            if key in seen:
                self.report.already_seen += 1
                continue
            if len(raw) > MAX_MESSAGE_BYTES:
                self.report.not_understood.append(source)
                continue
            reading = read_message(raw)
            record = self._record_for(source, key, reading)
            if record is not None:
                pending.append((source, record, reading))
        outcomes = record_bounces(self.store, (record for _, record, _ in pending),
                                  self.rules.soft_limit, self.now)
        for (source, record, _), outcome in zip(pending, outcomes, strict=True):
            self._tell(source, record, outcome)

    def _record_for(self, source: str, key: str, reading: Reading) -> BounceRecord | None:
        """What to record of one message; None (and a line in the report) for the rest."""
        if reading is None:
            self.report.not_understood.append(source)
            return None
        if isinstance(reading, Notice):
            self.report.notices += 1
            return None
        row = self._match(reading)
        if isinstance(reading, AutoReply):
            return BounceRecord(key, AUTO_REPLY, row[1] if row else None,
                                row[0] if row else None, reason=reading.subject)
        if row is None:
            self.report.unmatched.append((source, ", ".join(reading.addresses) or "no address"))
            return None
        moment = reading.dated if reading.dated is not None and reading.dated < self.now \
            else self.now
        return BounceRecord(key, HARD if reading.hard else SOFT, row[1], row[0],
                            reading.status, reading.reason, moment)

    def _match(self, reading: Bounce | AutoReply) -> tuple[int, int] | None:
        """(outbox row, recipient) the message proves it is about, or None."""
        for row_id in verp.ids_in(reading.proof_text, self.keys):
            rows = outbox_rows(self.store, [row_id])
            if row_id in rows:
                return row_id, rows[row_id]
        if isinstance(reading, Bounce) and reading.message_ids:
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
        email = self._email(record.recipient_id)
        reason = record.reason
        if outcome == MARKED and record.kind == SOFT and record.recipient_id is not None:
            reason = bounce_reason(self.store, record.recipient_id)  # says how many
        item = Handled(source, email, record.kind, reason, outcome == MARKED)
        {HARD: self.report.hard, SOFT: self.report.soft,
         AUTO_REPLY: self.report.auto_replies}[record.kind].append(item)

    def _email(self, recipient_id: int | None) -> str:
        if recipient_id is None:
            return ""
        if recipient_id not in self._emails:
            person = self.store.recipient(recipient_id)
            self._emails[recipient_id] = person.email if person is not None else ""
        return self._emails[recipient_id]
