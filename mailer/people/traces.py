"""Find the files in a workspace that may still hold a person after `invite forget`:
previews, dry-run mails, exports and import files the organiser keeps there.

Erasing the database is not enough when copies lie beside it. The search is plain: a
file mentions the person if it contains their address (in any case); an XLSX workbook
is searched inside its zipped XML. Nothing is deleted here.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

# Files the workspace itself needs, and folders that never hold copies.
SKIP_NAMES = {"event.toml", ".secret_key"}
SKIP_DIRS = {"templates", ".git", "__pycache__"}
MAX_BYTES = 64 * 1024 * 1024


def files_mentioning(folder: Path, addresses: Sequence[str], database: Path) -> list[Path]:
    """The files below `folder` that contain one of `addresses` (the address as typed and
    its ASCII form, which mail headers carry), sorted by path."""
    needles = {address.strip().lower().encode() for address in addresses if address.strip()}
    skip = {database.name, f"{database.name}-wal", f"{database.name}-shm", *SKIP_NAMES}
    return sorted(path for path in _candidates(folder, skip)
                  if any(_mentions(path, needle) for needle in needles))


def _candidates(folder: Path, skip: set[str]) -> Iterator[Path]:
    for path in folder.rglob("*"):
        if any(part in SKIP_DIRS for part in path.relative_to(folder).parts[:-1]):
            continue
        if path.is_file() and not path.is_symlink() and path.name not in skip:
            yield path


def _mentions(path: Path, needle: bytes) -> bool:
    try:
        if path.stat().st_size > MAX_BYTES:
            return False
        if zipfile.is_zipfile(path):
            return _zip_mentions(path, needle)
        data = path.read_bytes()
    except OSError:
        return False
    return needle in data.lower() or needle in _decoded(data)


def _decoded(data: bytes) -> bytes:
    """UTF-16 text (Excel's "Unicode text") as UTF-8, for the search; else nothing."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data.decode("utf-16").lower().encode()
        except UnicodeDecodeError:
            return b""
    return b""


def _zip_mentions(path: Path, needle: bytes) -> bool:
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if info.file_size <= MAX_BYTES and needle in archive.read(info).lower():
                return True
    return False
