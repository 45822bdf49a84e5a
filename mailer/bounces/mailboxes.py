"""Yield the raw messages of a Maildir folder or an mbox file, read-only, each with a key
that says where it came from (for the report's "not understood" lines)."""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from pathlib import Path

from rsvp.errors import ConfigError

Message = tuple[str, bytes]
# Anyone can write to a bounce mailbox: a message bigger than any report with its
# returned original (relays refuse mail far smaller) is not read at all; only one byte
# more than this is read of it, so that the intake can tell it is too big.
MAX_MESSAGE_BYTES = 30 * 1024 * 1024


def _read(box: mailbox.Mailbox[mailbox.Message], key: str) -> bytes:
    with box.get_file(key) as file:
        return file.read(MAX_MESSAGE_BYTES + 1)


def maildir_messages(folder: Path) -> Iterator[Message]:
    """Every message in `folder` (its new/ and cur/), oldest file name first; nothing is
    moved or flagged, so the organiser's mail program sees the folder as before."""
    if not (folder / "cur").is_dir() or not (folder / "new").is_dir():
        raise ConfigError(f"{folder} is not a Maildir folder (it has no cur/ and new/)",
                          hint="Pass the folder that holds cur/, new/ and tmp/, or use --mbox "
                               "FILE for a single file.")
    box = mailbox.Maildir(folder, factory=None, create=False)
    for key in sorted(box.keys()):
        try:
            raw = _read(box, key)
        except (KeyError, FileNotFoundError):  # taken away by a mail program meanwhile
            continue
        yield f"maildir:{key}", raw


def mbox_messages(path: Path) -> Iterator[Message]:
    """Every message of the mbox file `path`, in order; the file is not changed."""
    if not path.is_file():
        raise ConfigError(f"{path} is not a file", hint="Pass the mbox file your mail program "
                          "exported, or --maildir DIR for a Maildir folder.")
    box = mailbox.mbox(path, factory=None, create=False)
    try:
        for index, key in enumerate(box.iterkeys(), start=1):
            yield f"mbox:{index}", _read(box, key)
    finally:
        box.close()
