"""The workspace's recipients, responses and their history in one SQLite file.

The row types (`Recipient`, `Response`, ...) live in `rsvp.records` and are imported
from here as well.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rsvp.errors import UnknownRecipientError
from rsvp.records import (
    ATTENDANCE,
    RECIPIENT_FIELDS,
    AnswerView,
    NewRecipient,
    Recipient,
    Response,
    recipient_from_row,
    response_from_row,
    stamp,
    utcnow,
)
from rsvp.schema import connect

if TYPE_CHECKING:
    import sqlite_utils

# A company's brokerage contact (#11) is a recipient for the timetable mail only: no
# invitee, so left out of the lists, exports and counts of the people invited.
NOT_HOST = "host_of IS NULL"


# Columns in the order of Recipient's fields, then the response's, then a nominee flag.
_ANSWER_VIEW = (
    "SELECT r.id, r.email, r.email_ascii, " + ", ".join(f"r.{name}" for name in RECIPIENT_FIELDS)
    + ", r.extra, r.token_version, r.admission, r.nominated_by, r.unsubscribed_at, "
    "s.attendance, s.answers, s.source, s.first_at, s.updated_at, EXISTS (SELECT 1 FROM "
    "recipients n WHERE n.nominated_by = r.id AND n.forgotten_at IS NULL) "
    "FROM recipients r LEFT JOIN responses s ON s.recipient_id = r.id WHERE r.id = ?")


class Store:
    """One open workspace database; every write is a BEGIN IMMEDIATE transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.conn.row_factory = sqlite3.Row
        self.event_id: str = self.conn.execute(
            "SELECT value FROM meta WHERE key = 'event_id'").fetchone()["value"]

    def close(self) -> None:
        self.conn.close()

    @functools.cached_property
    def db(self) -> sqlite_utils.Database:
        """sqlite-utils over the same connection, for reports and exports. Made on first
        use: importing sqlite-utils costs 40 ms that `invite send` need not pay."""
        from sqlite_utils import Database

        return Database(self.conn, execute_plugins=False)

    @contextmanager
    def write(self) -> Iterator[None]:
        """Run the block as one transaction that holds the write lock from its start."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # recipients

    def add_recipients(self, rows: list[NewRecipient], now: datetime | None = None) -> tuple[int, int]:
        """Insert new people and update changed ones (by case-insensitive email); returns
        (added, updated). The import's own counts, unchanged too, come from rsvp.enrolment."""
        from rsvp.enrolment import enrol  # it builds on this module: imported when used

        done = enrol(self, rows, now)
        return done.added, done.updated

    def recipient(self, recipient_id: int) -> Recipient | None:
        row = self.conn.execute("SELECT * FROM recipients WHERE id = ?", (recipient_id,)).fetchone()
        return recipient_from_row(row) if row else None

    def find_recipient(self, email: str) -> Recipient:
        """Return the recipient with `email` (any case) or raise UnknownRecipientError."""
        row = self.conn.execute("SELECT * FROM recipients WHERE email_key = ?",
                                (email.strip().casefold(),)).fetchone()
        if row is None:
            raise UnknownRecipientError(f"no recipient {email!r} in this workspace",
                                        hint="`invite export --what recipients` lists everyone.")
        return recipient_from_row(row)

    def recipients(self) -> Iterator[Recipient]:
        for row in self.conn.execute(
                f"SELECT * FROM recipients WHERE forgotten_at IS NULL AND {NOT_HOST} ORDER BY id"):
            yield recipient_from_row(row)

    def count_recipients(self) -> int:
        return int(self.conn.execute(
            f"SELECT count(*) AS n FROM recipients WHERE {NOT_HOST}").fetchone()["n"])

    def unsubscribe(self, recipient_id: int, now: datetime | None = None) -> None:
        """Mark the person as not wanting further mail; repeating it changes nothing."""
        self.conn.execute(
            "UPDATE recipients SET unsubscribed_at = coalesce(unsubscribed_at, ?) WHERE id = ?",
            (stamp(now or utcnow()), recipient_id))

    def revoke_link(self, recipient_id: int) -> int:
        """Invalidate the person's links; new mails carry new ones. Returns the new version."""
        row = self.conn.execute(
            "UPDATE recipients SET token_version = token_version + 1 WHERE id = ? "
            "RETURNING token_version", (recipient_id,)).fetchone()
        return int(row["token_version"])

    # responses

    def response(self, recipient_id: int) -> Response | None:
        row = self.conn.execute("SELECT * FROM responses WHERE recipient_id = ?",
                                (recipient_id,)).fetchone()
        return response_from_row(row) if row else None

    def answer_view(self, recipient_id: int) -> AnswerView | None:
        """Read a person, their current answer and whether they put anyone forward, in one
        query: the form page's hot path (a row of plain values, no json for an empty extra)."""
        cursor = self.conn.cursor()
        cursor.row_factory = None
        row = cursor.execute(_ANSWER_VIEW, (recipient_id,)).fetchone()
        if row is None:
            return None
        extra = json.loads(row[11]) if row[11] != "{}" else {}
        # Positional, in the order of _ANSWER_VIEW; mypy cannot count a slice's length.
        recipient = Recipient(*row[:11], extra, *row[12:16])  # type: ignore[call-arg]
        response = None
        if row[16] is not None:
            response = Response(row[0], row[16], json.loads(row[17]), *row[18:21])
        return AnswerView(recipient, response, bool(row[21]))

    def waitlist_position(self, recipient_id: int) -> int | None:
        """Where the person stands on their role's waiting list (1 = next), or None if not on it.

        The order is the one in which rsvp.admission gives freed places: waitlisted people
        of the role who still say yes, by admission_order, then id.
        """
        row = self.conn.execute(
            "SELECT position FROM (SELECT r.id, row_number() OVER "
            "(ORDER BY r.admission_order, r.id) AS position FROM recipients r "
            "JOIN responses s ON s.recipient_id = r.id "
            "WHERE r.role = (SELECT role FROM recipients WHERE id = :id) "
            "AND r.admission = 'waitlisted' AND s.attendance = 'yes' AND r.forgotten_at IS NULL) "
            "WHERE id = :id", {"id": recipient_id}).fetchone()
        return int(row["position"]) if row else None

    def responses(self) -> dict[int, Response]:
        return {row["recipient_id"]: response_from_row(row)
                for row in self.conn.execute("SELECT * FROM responses")}

    def record_answer(self, recipient_id: int, attendance: str, answers: dict[str, Any],
                      source: str, now: datetime | None = None) -> Response:
        """Store the current answer and append it to the history, in one transaction."""
        if attendance not in ATTENDANCE:
            raise ValueError(f"attendance must be one of {ATTENDANCE}, not {attendance!r}")
        when = stamp(now or utcnow())
        encoded = json.dumps(answers, ensure_ascii=False, sort_keys=True)
        with self.write():
            current = self.conn.execute(
                "SELECT attendance, answers FROM responses WHERE recipient_id = ?",
                (recipient_id,)).fetchone()
            if current is None or (current["attendance"], current["answers"]) != (attendance, encoded):
                self.conn.execute(
                    "INSERT INTO responses (recipient_id, attendance, answers, source, first_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (recipient_id) DO UPDATE SET "
                    "attendance = excluded.attendance, answers = excluded.answers, "
                    "source = excluded.source, updated_at = excluded.updated_at",
                    (recipient_id, attendance, encoded, source, when, when))
                self.conn.execute(
                    "INSERT INTO response_history (recipient_id, attendance, answers, source, recorded_at) "
                    "VALUES (?, ?, ?, ?, ?)", (recipient_id, attendance, encoded, source, when))
            row = self.conn.execute("SELECT * FROM responses WHERE recipient_id = ?",
                                    (recipient_id,)).fetchone()
        return response_from_row(row)

    def history(self, recipient_id: int) -> list[dict[str, Any]]:
        return list(self.db.query(
            "SELECT attendance, answers, source, recorded_at FROM response_history "
            "WHERE recipient_id = ? ORDER BY id", [recipient_id]))

    def attendance_counts(self) -> dict[str, int]:
        counts = {name: 0 for name in (*ATTENDANCE, "none")}
        for row in self.conn.execute(
                "SELECT coalesce(s.attendance, 'none') AS a, count(*) AS n FROM recipients r "
                f"LEFT JOIN responses s ON s.recipient_id = r.id WHERE r.{NOT_HOST} GROUP BY a"):
            counts[row["a"]] = row["n"]
        return counts

    # exports and status

    def people(self) -> Iterator[tuple[Recipient, Response | None, str | None]]:
        """Stream everyone with their current response and their nominator's address."""
        for row in self.conn.execute(
                "SELECT r.*, n.email AS nominator_email, s.recipient_id AS s_recipient_id, "
                "s.attendance AS s_attendance, s.answers AS s_answers, s.source AS s_source, "
                "s.first_at AS s_first_at, s.updated_at AS s_updated_at FROM recipients r "
                "LEFT JOIN responses s ON s.recipient_id = r.id "
                "LEFT JOIN recipients n ON n.id = r.nominated_by "
                f"WHERE r.forgotten_at IS NULL AND r.{NOT_HOST} ORDER BY r.id"):
            response = None
            if row["s_recipient_id"] is not None:
                response = Response(
                    recipient_id=row["s_recipient_id"], attendance=row["s_attendance"],
                    answers=json.loads(row["s_answers"]), source=row["s_source"],
                    first_at=row["s_first_at"], updated_at=row["s_updated_at"])
            yield recipient_from_row(row), response, row["nominator_email"]

    def count_unsubscribed(self) -> int:
        row = self.conn.execute(
            f"SELECT count(*) AS n FROM recipients WHERE unsubscribed_at IS NOT NULL "
            f"AND {NOT_HOST}").fetchone()
        return int(row["n"])

    def role_counts(self) -> dict[str, dict[str, int]]:
        """Per role: how many answered yes, are admitted (quota use) and are waiting."""
        return {row["role"]: {"yes": row["yes"], "admitted": row["admitted"],
                              "waitlisted": row["waitlisted"]}
                for row in self.conn.execute(
                    "SELECT r.role, count(CASE WHEN s.attendance = 'yes' THEN 1 END) AS yes, "
                    "count(CASE WHEN r.admission = 'admitted' THEN 1 END) AS admitted, "
                    "count(CASE WHEN r.admission = 'waitlisted' THEN 1 END) AS waitlisted "
                    "FROM recipients r LEFT JOIN responses s ON s.recipient_id = r.id "
                    "GROUP BY r.role")}

    # the web's own needs: undoing an unsubscribe, a bounded wait, a health probe

    def resubscribe(self, recipient_id: int) -> None:
        """Undo `unsubscribe`: the person gets the mailings again (not once forgotten)."""
        self.conn.execute("UPDATE recipients SET unsubscribed_at = NULL "
                          "WHERE id = ? AND forgotten_at IS NULL", (recipient_id,))

    def set_wait(self, seconds: float) -> None:
        """Wait up to `seconds` (0: not at all) for a lock another connection holds."""
        self.conn.execute(f"PRAGMA busy_timeout = {max(0, int(seconds * 1000))}")

    @staticmethod
    def reachable(path: Path, wait: float) -> bool:
        """Tell whether the database at `path` can be opened and read now, on a connection
        of its own (read-only, never creating the file), waiting at most `wait` seconds."""
        try:
            conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=wait)
            try:
                conn.execute("SELECT value FROM meta WHERE key = 'event_id'").fetchone()
            finally:
                conn.close()
        except sqlite3.Error:
            return False
        return True


def open_store(path: Path, wait: float = 30.0) -> Store:
    """Open (and create or migrate) the workspace database at `path`; writes and reads
    wait up to `wait` seconds for a lock another connection holds."""
    return Store(connect(str(path), wait=wait))


__all__ = ["ATTENDANCE", "NOT_HOST", "RECIPIENT_FIELDS", "AnswerView", "NewRecipient",
           "Recipient", "Response", "Store", "open_store", "recipient_from_row", "stamp",
           "utcnow"]
