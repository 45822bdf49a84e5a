"""Repair a development database that skipped the bounce migration.

For a few hours an interim main had MIGRATIONS[10] = "" (a placeholder) while schema 11
was already there, so a database made then is at version 11 without the bounce columns
and table, and every bounce query would fail on it. `repair_bounce_columns` runs
migration 10 again on such a database, each statement only if its column, table or index
is missing, so it is a no-op on every sound one (one PRAGMA per opening).
"""

from __future__ import annotations

import re
import sqlite3

_ADD_COLUMN = re.compile(r"ALTER TABLE (\w+) ADD COLUMN (\w+)", re.IGNORECASE)
_CREATE = re.compile(r"CREATE (TABLE|INDEX) (\w+)", re.IGNORECASE)


def repair_bounce_columns(conn: sqlite3.Connection, migration: str) -> None:
    """Apply the missing parts of `migration` (schema 10) if recipients lacks bounced_at."""
    if "bounced_at" in _columns(conn, "recipients"):
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in (part.strip() for part in migration.split(";")):
            added = _ADD_COLUMN.match(statement)
            if added and added.group(2) in _columns(conn, added.group(1)):
                continue
            if statement:
                conn.execute(_CREATE.sub(r"CREATE \1 IF NOT EXISTS \2", statement, count=1))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
