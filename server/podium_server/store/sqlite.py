"""SQLite backend: the embedded default (WAL, one writer thread, migrations on open).

Every call runs on one dedicated thread holding one connection, so writes are
serialized without Python-level locks and the event loop never blocks on disk.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from ..event.model import Event, Participant
from .base import AuditRecord

log = logging.getLogger(__name__)
T = TypeVar("T")

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
]

_PARTICIPANT_COLUMNS = ("id", "name", "email", "organization", "org_type", "province", "mode")


def path_from_url(url: str) -> str:
    """sqlite:///./podium.db -> ./podium.db; sqlite:////abs/p.db -> /abs/p.db."""
    if not url.startswith("sqlite://"):
        raise ValueError(f"not a sqlite URL: {url!r}")
    rest = url[len("sqlite://") :]
    if rest in ("", "/", "/:memory:", ":memory:"):
        return ":memory:"
    if not rest.startswith("/"):
        raise ValueError(f"sqlite URL needs three slashes: {url!r}")
    return rest[1:]


class SqliteStore:
    def __init__(self, path: str) -> None:
        self.path = path
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None

    @classmethod
    def from_url(cls, url: str) -> SqliteStore:
        return cls(path_from_url(url))

    # -- plumbing -----------------------------------------------------------------

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._executor is None or self._conn is None:
            raise RuntimeError("store is not open")
        conn = self._conn
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, conn)

    def _connect(self) -> sqlite3.Connection:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        # FULL: an acknowledged write survives power loss, not only a process crash.
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=5000")
        self._migrate(conn)
        return conn

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in _split_sql(script):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version={number}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            log.info("sqlite store migrated to schema %d", number)

    async def open(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._conn = await asyncio.get_running_loop().run_in_executor(self._executor, self._connect)

    async def close(self) -> None:
        if self._conn is not None and self._executor is not None:
            conn = self._conn
            await asyncio.get_running_loop().run_in_executor(self._executor, conn.close)
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        self._conn = None
        self._executor = None

    async def ping(self) -> bool:
        return await self._run(lambda c: c.execute("SELECT 1").fetchone()[0] == 1)

    # -- event and roster -----------------------------------------------------------

    async def save_event(self, event: Event) -> None:
        body = json.dumps(event.to_json())

        def write(c: sqlite3.Connection) -> None:
            c.execute(
                "INSERT INTO event (singleton, body) VALUES (1, ?) "
                "ON CONFLICT(singleton) DO UPDATE SET body = excluded.body",
                (body,),
            )

        await self._run(write)

    async def load_event(self) -> Event | None:
        from ..event.loaders import event_from_json

        row = await self._run(lambda c: c.execute("SELECT body FROM event").fetchone())
        return None if row is None else event_from_json(json.loads(row["body"]))

    async def upsert_participants(self, participants: list[Participant]) -> tuple[int, int]:
        rows = [tuple(getattr(p, col) for col in _PARTICIPANT_COLUMNS) for p in participants]

        def write(c: sqlite3.Connection) -> tuple[int, int]:
            c.execute("BEGIN IMMEDIATE")
            try:
                ids = [r[0] for r in rows]
                existing: set[str] = set()
                for chunk in range(0, len(ids), 500):
                    part = ids[chunk : chunk + 500]
                    marks = ",".join("?" * len(part))
                    existing.update(
                        r[0]
                        for r in c.execute(
                            f"SELECT id FROM participants WHERE id IN ({marks})", part
                        )
                    )
                c.executemany(
                    "INSERT INTO participants (id, name, email, organization, org_type, province, mode)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET"
                    " name=excluded.name, email=excluded.email, organization=excluded.organization,"
                    " org_type=excluded.org_type, province=excluded.province, mode=excluded.mode",
                    rows,
                )
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
            updated = len(existing)
            return len(set(ids)) - updated, updated

        return await self._run(write)

    async def list_participants(self) -> list[Participant]:
        rows = await self._run(
            lambda c: c.execute("SELECT * FROM participants ORDER BY id").fetchall()
        )
        return [Participant(**{k: r[k] for k in _PARTICIPANT_COLUMNS}) for r in rows]

    async def get_participant(self, participant_id: str) -> Participant | None:
        row = await self._run(
            lambda c: c.execute(
                "SELECT * FROM participants WHERE id = ?", (participant_id,)
            ).fetchone()
        )
        return None if row is None else Participant(**{k: row[k] for k in _PARTICIPANT_COLUMNS})

    # -- revocation -------------------------------------------------------------------

    async def revoke(self, kind: str, value: str, at: float) -> None:
        await self._run(
            lambda c: c.execute(
                "INSERT OR IGNORE INTO revoked (kind, value, at) VALUES (?, ?, ?)",
                (kind, value, at),
            )
        )

    async def is_revoked(self, kind: str, value: str) -> bool:
        row = await self._run(
            lambda c: c.execute(
                "SELECT 1 FROM revoked WHERE kind = ? AND value = ?", (kind, value)
            ).fetchone()
        )
        return row is not None

    # -- audit ------------------------------------------------------------------------

    async def append_audit(self, record: AuditRecord) -> None:
        detail = json.dumps(record.detail, sort_keys=True, default=str)
        await self._run(
            lambda c: c.execute(
                "INSERT INTO audit (at, kind, device, actor, detail) VALUES (?, ?, ?, ?, ?)",
                (record.at, record.kind, record.device, record.actor, detail),
            )
        )

    async def list_audit(self, limit: int = 1000) -> list[AuditRecord]:
        rows = await self._run(
            lambda c: c.execute(
                "SELECT * FROM (SELECT * FROM audit ORDER BY seq DESC LIMIT ?) ORDER BY seq",
                (limit,),
            ).fetchall()
        )
        return [
            AuditRecord(
                at=r["at"],
                kind=r["kind"],
                device=r["device"],
                actor=r["actor"],
                detail=json.loads(r["detail"]),
            )
            for r in rows
        ]


def _split_sql(script: str) -> list[str]:
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
