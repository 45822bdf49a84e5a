"""Write files only their owner may read: exports, previews and dry-run mails hold
names, addresses, answers and personal links, and a shared machine's other users
must not read them (a plain `open` leaves them 0644 under the usual umask)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

PRIVATE_MODE = 0o600
# Never write through a symbolic link someone planted where the file is to go.
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)


def open_private(path: Path) -> BinaryIO:
    """Open `path` for writing as a new, empty file readable by its owner only (0600).

    An existing file keeps its mode when opened, so it is narrowed here too.
    """
    fd = os.open(path, _FLAGS, PRIVATE_MODE)
    try:
        os.fchmod(fd, PRIVATE_MODE)
        return os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        raise


def write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path`, readable by its owner only (0600)."""
    with open_private(path) as stream:
        stream.write(data)


def private_folder(path: Path) -> None:
    """Create `path` (and its parents) readable by its owner only: the names of preview
    and dry-run files hold recipients' addresses. An existing folder is left as it is."""
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True)
        os.chmod(path, 0o700)
