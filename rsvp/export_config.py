"""Read `[export]` of event.toml: how `invite export` writes CSV for this workspace.

A programme office that opens every list in Excel sets `excel = true` once instead of
typing `--excel` at every export; JSON and XLSX are not affected by it.
"""

from __future__ import annotations

from dataclasses import dataclass

from rsvp.toml_table import TomlTable


@dataclass(frozen=True)
class ExportSettings:
    """`excel`: CSV for Excel in the event's language (`;`, BOM, local dates, labels)."""

    excel: bool = False


def read_export(top: TomlTable) -> ExportSettings:
    """Read the optional `[export]` table, naming the key of any mistake."""
    table = top.sub("export", required=False)
    settings = ExportSettings(excel=table.get("excel", bool, False, False))
    table.done()
    return settings
