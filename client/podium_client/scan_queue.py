"""The scanner's local queue: every scan is written here (durably) before it is sent, and
marked done only when the server has answered it. A scan sent but not answered -- the
link dropped, the server restarted, this process was killed -- is sent again with the
same id, which the server records once; so nothing is lost and nothing doubled."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS scans (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,        -- the request id, sent again unchanged on retries
    server TEXT NOT NULL,
    session TEXT NOT NULL,
    code TEXT NOT NULL,
    direction TEXT NOT NULL,
    scanned_at REAL NOT NULL,       -- when it was read here: the server records this time
    token_hash TEXT NOT NULL,       -- which token queued it (a device's ids are per token)
    attempts INTEGER NOT NULL DEFAULT 0,
    answer TEXT,                    -- the server's reply, JSON; NULL while pending
    answered_at REAL
);
CREATE INDEX IF NOT EXISTS scans_pending ON scans (server, answered_at, seq);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


KEEP_ANSWERED_S = 30 * 86400


def default_queue_path() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "podium-client" / "scans.db"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class QueuedScan:
    seq: int
    id: str
    session: str
    code: str
    direction: str
    scanned_at: float
    attempts: int

    def message(self) -> dict[str, Any]:
        return {
            "type": "scan",
            "id": self.id,
            "code": self.code,
            "session": self.session,
            "direction": self.direction,
            "scanned_at": self.scanned_at,
        }


class ScanQueue:
    def __init__(self, path: Path, server: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not path.exists()
        self.db = sqlite3.connect(path, isolation_level=None)
        if fresh:
            os.chmod(path, 0o600)  # badge codes: for this user only
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")  # a queued scan survives power loss
        self.db.execute("PRAGMA busy_timeout=5000")
        self.db.executescript(SCHEMA)
        self.server = server.rstrip("/")
        self.path = path
        # Answered scans are kept a while as this scanner's own log, then let go.
        self.db.execute(
            "DELETE FROM scans WHERE answered_at IS NOT NULL AND answered_at < ?",
            (time.time() - KEEP_ANSWERED_S,),
        )

    def close(self) -> None:
        self.db.close()

    def setting(self, key: str, default: str) -> str:
        """A value kept across runs (the device name): the first run's `default` sticks."""
        self.db.execute("INSERT OR IGNORE INTO settings VALUES (?, ?)", (key, default))
        row = self.db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return str(row[0])

    def add(
        self, code: str, session: str, direction: str, token: str, at: float | None = None
    ) -> QueuedScan:
        scan_id = f"cli-{uuid.uuid4().hex}"
        scanned_at = round(time.time() if at is None else at, 3)
        cur = self.db.execute(
            "INSERT INTO scans (id, server, session, code, direction, scanned_at, token_hash)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (scan_id, self.server, session, code, direction, scanned_at, token_hash(token)),
        )
        assert cur.lastrowid is not None
        return QueuedScan(cur.lastrowid, scan_id, session, code, direction, scanned_at, 0)

    def pending(self, limit: int = 500) -> list[QueuedScan]:
        rows = self.db.execute(
            "SELECT seq, id, session, code, direction, scanned_at, attempts FROM scans"
            " WHERE server = ? AND answered_at IS NULL ORDER BY seq LIMIT ?",
            (self.server, limit),
        ).fetchall()
        return [QueuedScan(*row) for row in rows]

    def count_pending(self) -> int:
        row = self.db.execute(
            "SELECT count(*) FROM scans WHERE server = ? AND answered_at IS NULL", (self.server,)
        ).fetchone()
        return int(row[0])

    def other_tokens(self, token: str) -> int:
        """Pending scans queued with another token than `token`."""
        row = self.db.execute(
            "SELECT count(*) FROM scans WHERE server = ? AND answered_at IS NULL"
            " AND token_hash != ?",
            (self.server, token_hash(token)),
        ).fetchone()
        return int(row[0])

    def mark_sent(self, scans: list[QueuedScan]) -> None:
        self.db.executemany(
            "UPDATE scans SET attempts = attempts + 1 WHERE seq = ?", [(s.seq,) for s in scans]
        )

    def answer(self, answered: list[tuple[QueuedScan, dict[str, Any]]]) -> None:
        """Mark scans answered, in one transaction."""
        now = time.time()
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.executemany(
                "UPDATE scans SET answer = ?, answered_at = ? WHERE seq = ?"
                " AND answered_at IS NULL",
                [(json.dumps(r, ensure_ascii=False), now, s.seq) for s, r in answered],
            )
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def answers(self) -> list[tuple[str, dict[str, Any]]]:
        """(id, reply) of every answered scan, oldest first."""
        rows = self.db.execute(
            "SELECT id, answer FROM scans WHERE server = ? AND answered_at IS NOT NULL"
            " ORDER BY seq",
            (self.server,),
        ).fetchall()
        return [(str(i), json.loads(a)) for i, a in rows]
