"""Create and migrate the workspace database; the schema version lives in `meta`."""

from __future__ import annotations

import os
import secrets
import sqlite3
import stat
import time

from rsvp.errors import ConfigError

SCHEMA_VERSION = 11

# Each entry migrates from version N-1 to N; append, never edit a released one.
MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS recipients (
        id INTEGER PRIMARY KEY,
        email_key TEXT NOT NULL UNIQUE,
        email TEXT NOT NULL,
        email_ascii TEXT NOT NULL,
        first_name TEXT NOT NULL DEFAULT '',
        last_name TEXT NOT NULL DEFAULT '',
        salutation TEXT NOT NULL DEFAULT '',
        title TEXT NOT NULL DEFAULT '',
        organisation TEXT NOT NULL DEFAULT '',
        role TEXT NOT NULL DEFAULT '',
        language TEXT NOT NULL DEFAULT '',
        sector TEXT NOT NULL DEFAULT '',
        extra TEXT NOT NULL DEFAULT '{}',
        token_version INTEGER NOT NULL DEFAULT 1,
        admission TEXT,
        nominated_by INTEGER REFERENCES recipients(id),
        unsubscribed_at TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS responses (
        recipient_id INTEGER PRIMARY KEY REFERENCES recipients(id),
        attendance TEXT NOT NULL,
        answers TEXT NOT NULL DEFAULT '{}',
        source TEXT NOT NULL,
        first_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS response_history (
        id INTEGER PRIMARY KEY,
        recipient_id INTEGER NOT NULL REFERENCES recipients(id),
        attendance TEXT NOT NULL,
        answers TEXT NOT NULL,
        source TEXT NOT NULL,
        recorded_at TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS response_history_recipient ON response_history(recipient_id);
    CREATE TABLE IF NOT EXISTS outbox (
        id INTEGER PRIMARY KEY,
        recipient_id INTEGER NOT NULL REFERENCES recipients(id),
        mailing TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_reply TEXT NOT NULL DEFAULT '',
        message_id TEXT NOT NULL DEFAULT '',
        queued_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        sent_at TEXT,
        UNIQUE (recipient_id, mailing)
    );
    CREATE INDEX IF NOT EXISTS outbox_state ON outbox(mailing, state);
    """,
    2: """
    ALTER TABLE recipients ADD COLUMN forgotten_at TEXT;
    CREATE TABLE IF NOT EXISTS deletions (
        id INTEGER PRIMARY KEY,
        recipient_id INTEGER NOT NULL,
        deleted_at TEXT NOT NULL
    );
    """,
    3: """
    ALTER TABLE recipients ADD COLUMN admission_at TEXT;
    ALTER TABLE recipients ADD COLUMN admission_source TEXT;
    ALTER TABLE recipients ADD COLUMN admission_order INTEGER;
    CREATE INDEX IF NOT EXISTS recipients_role_admission ON recipients(role, admission);
    """,
    4: """
    CREATE INDEX IF NOT EXISTS recipients_nominated_by ON recipients(nominated_by);
    """,
    # handed_at: committed just before the end of a message's DATA goes to the relay, so
    # a row left `sending` without it never reached the relay and is safe to send again.
    # Rows an older version left `sending` may have reached it: they count as handed over.
    # nomination: NULL for people the organiser imported; for people put forward on the
    # web 'pending' until the organiser decides, then 'approved' or 'rejected' (those
    # already invited before approvals existed count as approved).
    # forgotten: keyed hashes of forgotten addresses, so they stay forgotten.
    5: """
    ALTER TABLE outbox ADD COLUMN handed_at TEXT;
    UPDATE outbox SET handed_at = updated_at WHERE state = 'sending';
    ALTER TABLE recipients ADD COLUMN nomination TEXT;
    ALTER TABLE recipients ADD COLUMN nominated_at TEXT;
    UPDATE recipients SET nomination = 'approved', nominated_at = created_at
        WHERE nominated_by IS NOT NULL;
    CREATE INDEX IF NOT EXISTS recipients_nomination ON recipients(nomination);
    CREATE INDEX IF NOT EXISTS recipients_nominated_at ON recipients(nominated_at);
    CREATE TABLE IF NOT EXISTS forgotten (
        address_hash TEXT PRIMARY KEY,
        forgotten_at TEXT NOT NULL
    );
    """,
    # Batches and scheduled sends (#12). batch: the name of the import that first brought
    # the person in (NULL for people put forward on the web, and for those imported before
    # batches existed until their next import). scheduled_sends: `invite send --at`, one
    # row per send: its mailing (the outbox key once it started), the selection as JSON,
    # when (UTC), and its state: scheduled -> sending (queued; rows may wait for a retry)
    # -> sent, or cancelled.
    6: """
    ALTER TABLE recipients ADD COLUMN batch TEXT;
    CREATE INDEX IF NOT EXISTS recipients_batch ON recipients(batch);
    CREATE TABLE IF NOT EXISTS scheduled_sends (
        id INTEGER PRIMARY KEY,
        mailing TEXT NOT NULL,
        selection TEXT NOT NULL DEFAULT '{}',
        rate REAL,
        send_at TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'scheduled',
        created_at TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT,
        queued INTEGER NOT NULL DEFAULT 0,
        late INTEGER NOT NULL DEFAULT 0,
        note TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX IF NOT EXISTS scheduled_sends_due ON scheduled_sends(state, send_at);
    """,
    # The brokerage schedule (#11): the organiser's and the host's say on each pair, the
    # current plan (kept across re-plans, so a published meeting keeps its UID) and the
    # planner's runs. The publisher turns 'planned' into 'published', 'cancelled' into
    # 'dropped'.
    7: """
    CREATE TABLE meeting_choices (
        recipient_id INTEGER NOT NULL REFERENCES recipients(id),
        company_id TEXT NOT NULL,
        organiser TEXT,
        host TEXT,
        priority INTEGER,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (recipient_id, company_id)
    );
    CREATE TABLE meetings (
        id INTEGER PRIMARY KEY,
        recipient_id INTEGER NOT NULL REFERENCES recipients(id),
        company_id TEXT NOT NULL,
        starts_at TEXT NOT NULL,
        ends_at TEXT NOT NULL,
        table_no INTEGER NOT NULL,
        state TEXT NOT NULL,
        uid TEXT NOT NULL UNIQUE,
        sequence INTEGER NOT NULL DEFAULT 0,
        published_at TEXT,
        published_start TEXT,
        published_table INTEGER,
        changed_at TEXT NOT NULL,
        UNIQUE (recipient_id, company_id)
    );
    CREATE TABLE plan_runs (id INTEGER PRIMARY KEY, created_at TEXT NOT NULL, status TEXT NOT NULL,
        wishes_made INTEGER NOT NULL, wishes_met INTEGER NOT NULL, objective REAL, bound REAL,
        seconds REAL NOT NULL, details TEXT NOT NULL DEFAULT '{}');
    """,
    # host_of: the company id for a company's brokerage contact (#11), who gets the
    # timetable mailing only: no invitation, reminder or decision ever goes to a host.
    8: """
    ALTER TABLE recipients ADD COLUMN host_of TEXT;
    """,
    # published_state: what the meeting's last told version said, 'published' or 'dropped'
    # (#11): a meeting told cancelled and planned again is not on, as far as anyone knows,
    # until the next publish tells it.
    9: """
    ALTER TABLE meetings ADD COLUMN published_state TEXT;
    UPDATE meetings SET published_state = CASE WHEN state = 'dropped' THEN 'dropped'
        ELSE 'published' END WHERE published_at IS NOT NULL;
    """,
    # Bounces fed back (#9): a recipient whose address bounced for good (hard, or soft
    # too often) gets no further mail. bounces: one row per bounce message handled, keyed
    # by its Message-ID (or a hash of its bytes), so reading a mailbox twice counts nothing
    # twice; kind is 'hard', 'soft' or 'auto-reply'.
    10: """
    ALTER TABLE recipients ADD COLUMN bounced_at TEXT;
    ALTER TABLE recipients ADD COLUMN bounce_reason TEXT;
    ALTER TABLE recipients ADD COLUMN soft_bounces INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE bounces (
        message_key TEXT PRIMARY KEY,
        recipient_id INTEGER REFERENCES recipients(id),
        outbox_id INTEGER,
        kind TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT '',
        reason TEXT NOT NULL DEFAULT '',
        bounced_at TEXT NOT NULL,
        handled_at TEXT NOT NULL
    );
    CREATE INDEX bounces_recipient ON bounces(recipient_id);
    """,
    # relay_days: how many mails each relay took per UTC day (#9), so a relay's per_day
    # cap holds across runs and processes; quota_used: its provider said the day's quota
    # is used up.
    11: """
    CREATE TABLE IF NOT EXISTS relay_days (
        relay TEXT NOT NULL,
        day TEXT NOT NULL,
        sent INTEGER NOT NULL DEFAULT 0,
        quota_used INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (relay, day)
    );
    """,
}


# Names, addresses and answers: only the owner may read the file. SQLite gives the
# -wal and -shm files it creates the mode of the database file.
OWNER_ONLY = 0o600


def connect(path: str, wait: float = 30.0) -> sqlite3.Connection:
    """Open `path` (its owner's only) in WAL mode with explicit transactions only, waiting
    up to `wait` seconds for a lock another connection holds."""
    _owner_only(path)
    # isolation_level=None: no implicit deferred BEGIN; writers say BEGIN IMMEDIATE,
    # so a write never fails half-way with "database is locked" on lock upgrade.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=wait)
    conn.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
    _enable_wal(conn, patience=wait)
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    # Deleted and overwritten content is zeroed, so `invite forget` really erases.
    conn.execute("PRAGMA secure_delete = ON")
    migrate(conn, path)
    return conn


def _owner_only(path: str) -> None:
    """Create the database file with mode 0600, or set an existing one and its -wal and
    -shm files to 0600 (files of older versions, or made by other tools, may be 0644)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, OWNER_ONLY))
    except FileExistsError:
        pass
    except OSError:
        return  # sqlite3 says why the file cannot be opened
    for name in (path, f"{path}-wal", f"{path}-shm"):
        try:
            if stat.S_IMODE(os.stat(name).st_mode) & 0o077:
                os.chmod(name, OWNER_ONLY)
        except FileNotFoundError:
            continue
        except PermissionError as error:
            raise ConfigError(f"{name} can be read by other users and invite may not change that",
                              hint=f"Ask its owner to run: chmod 600 {name}") from error


def _enable_wal(conn: sqlite3.Connection, patience: float = 30.0) -> None:
    """Switch to WAL; that pragma does not wait on the busy timeout, so retry it."""
    deadline = time.monotonic() + patience
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def migrate(conn: sqlite3.Connection, path: str) -> None:
    """Bring the schema to SCHEMA_VERSION and make sure the event has an id."""
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    if current > SCHEMA_VERSION:
        raise ConfigError(f"{path} was written by a newer invite (schema {current})",
                          hint="Upgrade invite: pip install -U invite")
    if current == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = conn.execute("PRAGMA user_version").fetchone()[0]
        for version in range(current + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[version].split(";"):
                if statement.strip():
                    conn.execute(statement)
        conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('event_id', ?)", (secrets.token_hex(6),)
        )
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
