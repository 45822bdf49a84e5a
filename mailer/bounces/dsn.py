"""Read one returned message: a bounce (hard or soft, with its reason), an auto-reply,
or neither.

RFC 3464 reports are read here, per recipient block (Action, Status, Diagnostic-Code),
because the Status decides hard or soft. The other formats (Exim's X-Failed-Recipients,
qmail, old Exchange, plain-text reports of all kinds) are left to flufl.bounce, which
knows them, with the status code read from the text where there is one. A report only
says which address failed; which of our mails it was is proven by the VERP id or our
Message-ID, which this module collects for `mailer.bounces.intake`.

Auto-replies come to the envelope sender too: `mailer.bounces.autoreply` tells them
apart, after the reports, since a report may carry Auto-Submitted as well.
"""

from __future__ import annotations

import email
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.utils import parsedate_to_datetime

from flufl.bounce import all_failures

from mailer.bounces.autoreply import is_auto_reply, subject_of
from mailer.bounces.parts import TEXT_BYTES, check_shape, decoded, proof_text

REASON_LIMIT = 200
ADDRESS_LIMIT = 254  # RFC 5321's longest path
UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# X.2.2 (mailbox full) and X.7.x (policy: spam filters, sender reputation) say nothing
# about whether the address exists: even with class 5 they count as soft.
SOFT_DETAILS = re.compile(r"^\d\.(2\.2|7\.\d{1,3})$")
STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
SMTP_REPLY = re.compile(r"\b([45])\d\d[ -]")
MESSAGE_ID = re.compile(r"^Message-ID:\s*(<[^<>\s]{3,250}>)", re.IGNORECASE | re.MULTILINE)
# Who sends failure reports, and how they are titled, when nothing else says so.
DAEMON = re.compile(r"mailer-daemon|postmaster|mail delivery (sub)?system", re.IGNORECASE)
FAILURE_SUBJECT = re.compile(
    r"undeliver|delivery status notification|returned mail|mail delivery failed|"
    r"failure notice|delivery failure|non remis|nicht zustellbar|unzustellbar|"
    r"non distribuable", re.IGNORECASE)
# Plain-text notices that are no failure: delay warnings (the MTA keeps trying) and
# list moderation; without a permanent sign they are notices, not bounces.
WARNING = re.compile(
    r"warning message only|will keep trying|still being retried|has been delayed|"
    r"delivery (is |has been )?delayed|delayed mail|verz(ö|oe)gert|retard(é|e)|"
    r"moderator|awaiting approval", re.IGNORECASE)
HEAD_END = re.compile(rb"\r?\n\r?\n")
FROM_QUOTE = re.compile(rb"^>(>*From )", re.MULTILINE)
KEY_BYTES = 256 * 1024  # hashed of a message without Message-ID: see message_key
OWN_ID = re.compile(rb"^Message-ID:[ \t]*(<[^<>\s]{3,250}>)", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class Bounce:
    """A failure report: hard or soft, the status (e.g. "5.1.1", "" when none), a one-line
    reason, the failed addresses it names, and what proves which mail it was."""

    hard: bool
    status: str
    reason: str
    addresses: tuple[str, ...]
    message_ids: tuple[str, ...]
    proof_text: str  # the headers and returned text where our VERP id may stand
    dated: datetime | None = None  # the report's Date, if it has a readable one


@dataclass(frozen=True)
class AutoReply:
    """An automatic answer (out of office and the like): not a bounce."""

    subject: str
    proof_text: str


@dataclass(frozen=True)
class Notice:
    """A delivery notice that is no failure: a delay warning (still trying), or a report
    of delivery."""

    action: str


Reading = Bounce | AutoReply | Notice | None


def read_message(raw: bytes) -> Reading:
    """Say what one raw message is; None for one that is neither report nor auto-reply.
    Raises parts.Unreadable for a message shaped like no report (too many parts)."""
    check_shape(raw)
    message = email.message_from_bytes(raw)  # compat32: what flufl.bounce reads
    blocks = _status_blocks(message)
    if blocks:
        return _from_report(message, raw, blocks)
    if _looks_like_failure(message):
        return _from_text(message, raw)
    if is_auto_reply(message):
        return AutoReply(_clean(subject_of(message)), proof_text(message, raw))
    return _from_text(message, raw, vague_ok=False)


def message_key(raw: bytes) -> str:
    """What names a message across exports (a Maildir and an mbox of the same folder, the
    IMAP folder): its Message-ID, else a hash of its bytes as every source gives them:
    line ends as LF, mbox's `>From ` quoting undone, trailing blank lines dropped, and only
    the first KEY_BYTES (IMAP fetches 512 KiB of CRLF text, at least 256 KiB as LF)."""
    head = HEAD_END.split(raw, maxsplit=1)[0]
    found = OWN_ID.search(head)
    if found:
        return "mid:" + found.group(1).decode("ascii", "replace")
    text = FROM_QUOTE.sub(rb"\1", raw.replace(b"\r\n", b"\n"))[:KEY_BYTES].rstrip(b"\n")
    return "sha256:" + hashlib.sha256(text).hexdigest()


def _status_blocks(message: Message) -> list[Message]:
    """The per-recipient blocks of every message/delivery-status part."""
    blocks: list[Message] = []
    for part in message.walk():
        if part.get_content_type() == "message/delivery-status" and part.is_multipart():
            payload = part.get_payload()
            if isinstance(payload, list):  # the first block is the report's, the rest per recipient
                blocks += [block for block in payload[1:] if isinstance(block, Message)]
    return blocks


def _from_report(message: Message, raw: bytes, blocks: list[Message]) -> Reading:
    failed = [b for b in blocks if str(b.get("Action", "")).lower().startswith(("fail", "error"))]
    if not failed:
        actions = {str(b.get("Action", "")).strip().lower() for b in blocks}
        return Notice(", ".join(sorted(a for a in actions if a)) or "unknown")
    statuses = [_status(str(b.get("Status", ""))) for b in failed]
    reasons = [_diagnostic(b) for b in failed]
    status = next((s for s in statuses if s), "")
    hard = any(_is_hard(s) for s in statuses) if any(statuses) else True
    addresses = tuple(dict.fromkeys(a for b in failed if (a := _recipient(b))))
    reason = next((r for r in reasons if r), "") or _describe(status)
    proof = proof_text(message, raw)
    return Bounce(hard, status, reason, addresses, _message_ids(message, proof), proof,
                  _dated(message))


def _from_text(message: Message, raw: bytes, vague_ok: bool = True) -> Reading:
    """A report in no standard form: flufl.bounce finds the addresses, the text the rest.
    flufl.bounce reads only the first TEXT_BYTES (its scans cost ~1 s per 512 KiB of
    crafted lines); a report names the failed addresses near its top."""
    short = message if len(raw) <= TEXT_BYTES else email.message_from_bytes(raw[:TEXT_BYTES])
    temporary, permanent = all_failures(short)
    if not (temporary or permanent) and not vague_ok:
        return None
    text = _body_text(message)
    status = _status(text)
    reply = SMTP_REPLY.search(text)
    # Hard only on a permanent sign: a 5.x.x status, a 5xx reply, or a failure flufl.bounce
    # reads as permanent; a vague report (only our VERP id says who) is soft at most.
    if status:
        hard = _is_hard(status)
    elif reply is not None:
        hard = reply.group(1) == "5"
    else:
        hard = bool(permanent) and not temporary
    if not (status.startswith("5") or (reply and reply.group(1) == "5") or permanent) \
            and WARNING.search(f"{subject_of(message)}\n{text}"):
        return Notice("delayed")
    addresses = tuple(sorted(_clean(a.decode("utf-8", "replace").lower())[:ADDRESS_LIMIT]
                             for a in (permanent | temporary)))
    proof = proof_text(message, raw)
    return Bounce(hard, status, _reason_line(text, status) or _describe(status), addresses,
                  _message_ids(message, proof), proof, _dated(message))


def _looks_like_failure(message: Message) -> bool:
    if message.get("X-Failed-Recipients"):
        return True
    sender = str(message.get("From", ""))
    return bool(DAEMON.search(sender)) or bool(FAILURE_SUBJECT.search(subject_of(message)))


def _status(value: str) -> str:
    found = STATUS.search(value)
    return ".".join(found.groups()) if found else ""


def _is_hard(status: str) -> bool:
    return status.startswith("5") and not SOFT_DETAILS.match(status)


def _recipient(block: Message) -> str:
    """The failed address of one block: Original-Recipient, else Final-Recipient."""
    for name in ("Original-Recipient", "Final-Recipient"):
        value = str(block.get(name, ""))
        kind, _, address = value.partition(";")
        if address.strip() and kind.strip().lower() == "rfc822":
            return _clean(address.strip().strip("<>").lower())[:ADDRESS_LIMIT]
    return ""


def _diagnostic(block: Message) -> str:
    value = str(block.get("Diagnostic-Code", ""))
    kind, _, text = value.partition(";")
    return _clean(text if text.strip() else kind)


def _describe(status: str) -> str:
    """Words for a bare status code (RFC 3463), when the report gives no reason."""
    if not status:
        return "delivery failed (no reason given)"
    detail = status.split(".", 1)[1]
    words = {"1.1": "no such mailbox", "1.2": "no such domain", "1.10": "no such mailbox",
             "2.1": "mailbox disabled", "2.2": "mailbox full", "4.7": "delivery time expired",
             "7.1": "refused by policy"}.get(detail, "delivery failed")
    return f"{status} {words}"


def _reason_line(text: str, status: str) -> str:
    """The line of a plain-text report that gives the reason: the one with the status code
    or an SMTP reply in it."""
    for line in text.splitlines():
        if (status and status in line) or SMTP_REPLY.search(line):
            return _clean(line)
    return ""


def _body_text(message: Message) -> str:
    """The report's own text parts (not the returned original)."""
    texts: list[str] = []
    for part in message.walk():
        if part.get_content_type() == "message/rfc822":
            break
        if part.get_content_maintype() == "text" and part.get_content_type() != "text/rfc822-headers":
            texts.append(decoded(part))
    return "\n".join(texts)


def _message_ids(message: Message, proof: str) -> tuple[str, ...]:
    """Message-IDs of the returned original (its headers are quoted in the report); the
    report's own Message-ID is not one of them."""
    own = str(message.get("Message-ID", "")).strip()
    found = MESSAGE_ID.findall(proof.replace("\r\n", "\n"))
    return tuple(dict.fromkeys(one for one in found if one != own))


def _dated(message: Message) -> datetime | None:
    """The report's Date in UTC; None if it has none or an unreadable one."""
    try:
        moment = parsedate_to_datetime(str(message.get("Date", "")))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return moment.astimezone(UTC) if moment.tzinfo is not None else None


def _clean(text: str) -> str:
    """One line of at most REASON_LIMIT characters, without control characters or
    direction overrides: what a stranger wrote goes to the organiser's terminal."""
    line = " ".join(UNPRINTABLE.sub(" ", text).split())
    return line if len(line) <= REASON_LIMIT else line[:REASON_LIMIT - 1] + "…"
