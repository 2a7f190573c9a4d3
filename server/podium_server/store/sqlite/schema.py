"""The SQLite schema: its migrations, and the connections every user of a file opens.

Each migration runs once, in order, in a transaction of its own; `PRAGMA user_version`
records how far a file has come, so a file of any earlier version opens and catches up.
"""

from __future__ import annotations

import logging
import sqlite3

log = logging.getLogger(__name__)

# Each step runs once, in order; PRAGMA user_version records how far a file has come.
MIGRATIONS: list[str] = [
    # 1: foundation
    """
    CREATE TABLE event (
        singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
        body TEXT NOT NULL
    );
    CREATE TABLE participants (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        email TEXT NOT NULL,
        organization TEXT NOT NULL,
        org_type TEXT NOT NULL,
        province TEXT NOT NULL,
        mode TEXT NOT NULL
    );
    CREATE TABLE revoked (
        kind TEXT NOT NULL,
        value TEXT NOT NULL,
        at REAL NOT NULL,
        PRIMARY KEY (kind, value)
    );
    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        kind TEXT NOT NULL,
        device TEXT NOT NULL,
        actor TEXT NOT NULL,
        detail TEXT NOT NULL
    );
    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
    """,
    # 2: attendance ledger
    """
    CREATE TABLE replies (
        key TEXT PRIMARY KEY,
        body TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE pairs (
        session_id TEXT NOT NULL,
        participant_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        scans TEXT NOT NULL,
        inside INTEGER NOT NULL DEFAULT 0,
        door_seen INTEGER NOT NULL DEFAULT 0,
        watched INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (session_id, participant_id)
    ) WITHOUT ROWID;
    CREATE TABLE watches (
        interval_id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL,
        participant_id TEXT NOT NULL,
        start REAL NOT NULL,
        end REAL NOT NULL,
        open INTEGER NOT NULL
    );
    CREATE INDEX watches_online ON watches (session_id, open, end);
    CREATE TABLE recent (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id TEXT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX recent_session ON recent (session_id, seq);
    """,
    # 3: append-only door scans: one row per scan (a write no longer rewrites the pair's
    # whole history as one JSON value); a pair's rows in order are (ver, k): the pair
    # version that appended it and its place in that write. Existing JSON histories
    # move into rows (ver 0, k = position). Rows are never deleted; only `annulled` may
    # change, and only from 0 to 1.
    """
    CREATE TABLE door_scans (
        session_id TEXT NOT NULL,
        participant_id TEXT NOT NULL,
        ver INTEGER NOT NULL,
        k INTEGER NOT NULL,
        scan_id TEXT NOT NULL,
        direction TEXT NOT NULL,
        at REAL NOT NULL,
        device TEXT NOT NULL,
        received_at REAL NOT NULL,
        annulled INTEGER NOT NULL DEFAULT 0,
        seq INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (session_id, participant_id, ver, k)
    ) WITHOUT ROWID;
    INSERT INTO door_scans (session_id, participant_id, ver, k, scan_id, direction, at,
                            device, received_at, annulled, seq)
        SELECT p.session_id, p.participant_id, 0, CAST(j.key AS INTEGER),
               json_extract(j.value, '$.scan_id'), json_extract(j.value, '$.direction'),
               json_extract(j.value, '$.at'), coalesce(json_extract(j.value, '$.device'), ''),
               json_extract(j.value, '$.received_at'),
               coalesce(json_extract(j.value, '$.annulled'), 0),
               coalesce(json_extract(j.value, '$.seq'), 0)
        FROM pairs p, json_each(p.scans) j;
    ALTER TABLE pairs DROP COLUMN scans;
    CREATE TRIGGER door_scans_no_delete BEFORE DELETE ON door_scans
        BEGIN SELECT RAISE(ABORT, 'door scans are append-only'); END;
    CREATE TRIGGER door_scans_no_rewrite BEFORE UPDATE OF session_id, participant_id, ver, k,
        scan_id, direction, at, device, received_at, seq ON door_scans
        BEGIN SELECT RAISE(ABORT, 'door scans are append-only'); END;
    CREATE TRIGGER door_scans_no_unannul BEFORE UPDATE OF annulled ON door_scans
        WHEN NEW.annulled < OLD.annulled
        BEGIN SELECT RAISE(ABORT, 'door scans are append-only'); END;
    """,
    # 4: a request's stored answer rides in its audit row (append-only, written in
    # order) instead of a table keyed by request, whose random inserts were half the
    # pages each commit wrote; `ReplyIndex` finds them. `replies` keeps older answers.
    """
    ALTER TABLE audit ADD COLUMN reply_key TEXT;
    ALTER TABLE audit ADD COLUMN reply TEXT;
    """,
]


def connect(path: str) -> sqlite3.Connection:
    """A writer connection with the settings every writer of a Podium file uses."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    # FULL: an acknowledged write survives power loss, not only a process crash.
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


def connect_reader(path: str) -> sqlite3.Connection:
    """A read-only connection to a file (in WAL mode it reads the last commit)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout=1000")
    conn.execute("PRAGMA query_only=ON")
    return conn


def migrate(conn: sqlite3.Connection) -> None:
    """Run the migrations a file has not had yet."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in split_sql(script):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version={number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        log.info("sqlite store migrated to schema %d", number)


def split_sql(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies (BEGIN ... END;) whole."""
    statements: list[str] = []
    current = ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                statements.append(current.strip())
            current = ""
    if current.strip():
        statements.append(current.strip())
    return statements
