"""Fill the bounce samples of tests/bounce_samples/ for one mail, and write mailboxes."""

from __future__ import annotations

import mailbox
import secrets
from pathlib import Path

SAMPLES = Path(__file__).resolve().parent / "bounce_samples"


def sample(name: str, verp: str = "bounces@example.org", rcpt: str = "nobody@example.org",
           msgid: str = "<none@example.org>", key: str | None = None) -> bytes:
    """The sample `name` (without .eml) about the mail to `rcpt`, CRLF line ends."""
    text = (SAMPLES / f"{name}.eml").read_text(encoding="utf-8")
    for mark, value in (("{{VERP}}", verp), ("{{RCPT}}", rcpt), ("{{MSGID}}", msgid),
                        ("{{KEY}}", key or secrets.token_hex(6))):
        text = text.replace(mark, value)
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


def write_maildir(folder: Path, messages: list[bytes]) -> Path:
    box = mailbox.Maildir(folder, create=True)
    for raw in messages:
        box.add(raw)
    return folder


def write_mbox(path: Path, messages: list[bytes]) -> Path:
    box = mailbox.mbox(path, create=True)
    box.lock()
    try:
        for raw in messages:
            box.add(raw)
        box.flush()
    finally:
        box.unlock()
        box.close()
    return path
