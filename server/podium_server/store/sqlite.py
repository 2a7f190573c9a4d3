"""SQLite backend: the embedded default (WAL, migrations on open).

Calls run on one dedicated thread holding the writer connection, so the event loop never
blocks on disk; the check-in hot path is the exception: its lookups read on a second
connection inline (WAL readers see the last commit), and its commits go to a writer
process (`sqlite_writer`), so their inserts and fsync use the other core.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ..attendance.records import DoorScan, PairLedger, WatchInterval
from ..event.model import Event, Participant
from .base import (
    AUDIT_SCAN_MAX,
    COMMITTED,
    CONFLICT,
    DUPLICATE,
    ONLINE_STALE_S,
    RECENT_KEEP,
    TOKEN_REVOKED,
    AuditFilter,
    AuditPage,
    AuditRecord,
    CommitResult,
    LedgerLookup,
    LedgerWrite,
    LookupArgs,
    SessionCounts,
    SessionLive,
    StoredReply,
    audit_text,
    json_text,
    json_value,
)
from .file_modes import make_private
from .revoked import RevokedIds
from .sqlite_writer import (
    COMMITTED_RAW,
    CONFLICT_RAW,
    TOKEN_REVOKED_RAW,
    PlainWrite,
    Raw,
    ReplyIndex,
    WriterProcess,
    chunks,
    commit_rows,
    join_pairs,
    pair_heads,
    revoked_values,
)
from .sqlite_writer import connect as connect_writer

log = logging.getLogger(__name__)
T = TypeVar("T")

# WAL checkpoints run on a connection and thread of their own, off the commit path (a
# checkpoint inside a COMMIT -- SQLite's default, every 1000 WAL pages -- held a batch's
# answers back by 10-20 ms): at most one every CHECKPOINT_EVERY_S after a commit. The
# writer still checkpoints by itself past WRITER_CHECKPOINT_PAGES, should that fall behind.
# Measured at 5,000+ scans/s (~20,000 WAL pages/s): with a checkpoint every 0.25 s and the
# writer's limit at 10,000 pages, the writer itself still checkpointed now and then (the
# WAL only restarts from its start when no read is under way) and held a commit 10-40 ms;
# every 0.1 s with the limit at 25,000 pages (~100 MB of WAL at most) it no longer does.
CHECKPOINT_EVERY_S = 0.1
WRITER_CHECKPOINT_PAGES = 25_000
U = TypeVar("U")

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
    # Lookups read on the event loop: one at a time. Commits go to the writer process,
    # which takes them in order; a few queued keep it busy while the loop decides.
    lookups_in_flight = 1
    commits_in_flight = 3

    def __init__(self, path: str) -> None:
        self.path = path
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        # A second connection for the hot-path reads (lookup, dashboard counts), used
        # inline on the loop: in WAL mode it reads the last committed state while the
        # writer thread commits. None for an in-memory database (one connection only).
        self._reader: sqlite3.Connection | None = None
        self._queued = 0  # calls submitted to the writer thread and not yet finished
        # Check-in commits, for a file: a child process (see sqlite_writer).
        self._writer: WriterProcess | None = None
        # Background WAL checkpoints (None for an in-memory database: no WAL).
        self._checkpointer: sqlite3.Connection | None = None
        self._checkpoint_executor: ThreadPoolExecutor | None = None
        self._checkpoint_running: asyncio.Future[None] | None = None
        self._checkpoint_at = 0.0
        # In-process pub/sub: SQLite serves one node, so its "channel" is a set of queues.
        # Stored answers by request: for lookups (on the reader), and for commits made
        # here rather than in the writer process (which keeps its own).
        self._read_index = ReplyIndex()
        self._commit_index = ReplyIndex()
        # Revoked badges for the check-in lookups, and when they were read (monotonic).
        self._revoked = RevokedIds()

    @classmethod
    def from_url(cls, url: str) -> SqliteStore:
        return cls(path_from_url(url))

    # -- plumbing -----------------------------------------------------------------

    async def _run(self, fn: Callable[[sqlite3.Connection], T], *, inline: bool = False) -> T:
        """Run `fn` on the connection: on the writer thread, or, for the short hot-path
        calls (`inline`), right here when that thread is idle.

        Why inline: a batch's lookup or commit is a handful of statements and one fsync
        (well under a few ms), but on the thread each statement gives up the GIL and
        waits up to the switch interval (5 ms) to get it back from a busy event loop;
        measured, that made a 64-scan batch take ~30 ms. The connection is never used by
        both at once: inline runs only when nothing is queued on the thread.
        """
        if self._executor is None or self._conn is None:
            raise RuntimeError("store is not open")
        conn = self._conn
        if inline and self._queued == 0:
            return fn(conn)
        self._queued += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, conn)
        finally:
            self._queued -= 1

    def _read(self, r: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run a hot-path read inline on the reader connection `r`, in one read
        transaction (one snapshot for all its statements)."""
        r.execute("BEGIN")
        try:
            return fn(r)
        finally:
            r.execute("COMMIT")

    def _connect_reader(self) -> sqlite3.Connection | None:
        if self.path == ":memory:":
            return None
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout=1000")
        conn.execute("PRAGMA query_only=ON")
        return conn

    def _connect(self) -> sqlite3.Connection:
        if self.path != ":memory:":
            make_private(self.path)  # 0600 before SQLite makes it (and its WAL) 0644
        conn = connect_writer(self.path)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA wal_autocheckpoint={WRITER_CHECKPOINT_PAGES}")
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
        loop = asyncio.get_running_loop()
        self._conn = await loop.run_in_executor(self._executor, self._connect)
        self._reader = await loop.run_in_executor(self._executor, self._connect_reader)
        if self._reader is not None:
            # A file: check-in commits go to a writer process (started on first use).
            self._writer = WriterProcess(self.path, WRITER_CHECKPOINT_PAGES)
            self._checkpoint_executor = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="sqlite-checkpoint"
            )
            self._checkpointer = await loop.run_in_executor(
                self._checkpoint_executor, self._connect_reader
            )

    def _checkpoint_soon(self) -> None:
        """After a commit: start a PASSIVE checkpoint on the checkpoint thread, unless
        one is running or ran less than CHECKPOINT_EVERY_S ago. It copies committed WAL
        pages into the database file concurrently with the writer's commits (it never
        takes the write lock), so no COMMIT waits for it."""
        if self._checkpointer is None or self._checkpoint_executor is None:
            return
        if self._checkpoint_running is not None and not self._checkpoint_running.done():
            return
        now = time.monotonic()
        if now - self._checkpoint_at < CHECKPOINT_EVERY_S:
            return
        self._checkpoint_at = now
        self._checkpoint_running = asyncio.get_running_loop().run_in_executor(
            self._checkpoint_executor, _checkpoint, self._checkpointer
        )
        self._checkpoint_running.add_done_callback(_checkpoint_done)

    async def close(self) -> None:
        if self._writer is not None:
            await self._writer.close()
            self._writer = None
        if self._checkpoint_running is not None:
            with contextlib.suppress(Exception):
                await self._checkpoint_running
            self._checkpoint_running = None
        if self._checkpointer is not None and self._checkpoint_executor is not None:
            await asyncio.get_running_loop().run_in_executor(
                self._checkpoint_executor, self._checkpointer.close
            )
        if self._checkpoint_executor is not None:
            self._checkpoint_executor.shutdown(wait=True)
        self._checkpointer = None
        self._checkpoint_executor = None
        if self._reader is not None:
            self._reader.close()
            self._reader = None
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
        self._revoked.revoked()

    async def is_revoked(self, kind: str, value: str) -> bool:
        def read(c: sqlite3.Connection) -> bool:
            sql = "SELECT 1 FROM revoked WHERE kind = ? AND value = ?"
            return c.execute(sql, (kind, value)).fetchone() is not None

        if self._reader is not None:
            # On the reader, inline: every open socket asks once a second, and a call
            # queued on the writer thread would push the next batch's commit there too.
            return self._read(self._reader, read)
        return await self._run(read)

    async def revoked_values(self, kind: str) -> frozenset[str]:
        def read(c: sqlite3.Connection) -> frozenset[str]:
            return revoked_values(c, kind)

        if self._reader is not None:
            return self._read(self._reader, read)
        return await self._run(read)

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

    async def audit_page(
        self, where: AuditFilter, *, before: int | None = None, limit: int = 50
    ) -> AuditPage:
        clauses: list[str] = ["seq < ?", "seq >= ?"]
        params: list[str | int] = []
        if where.kind is not None:
            clauses.append("kind = ?")
            params.append(where.kind)
        if where.device is not None:  # the name, or "<name>@<token id>" (AuditFilter)
            clauses.append("(device = ? OR substr(device, 1, ?) = ?)")
            params += [where.device, len(where.device) + 1, f"{where.device}@"]
        if where.participant is not None:
            clauses.append("json_extract(detail, '$.participant') = ?")
            params.append(where.participant)

        def read(c: sqlite3.Connection) -> AuditPage:
            top = c.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM audit").fetchone()[0]
            upper = top if before is None else min(before, top)
            floor = max(1, upper - AUDIT_SCAN_MAX)
            rows = c.execute(
                f"SELECT seq, at, kind, device, actor, detail FROM audit"
                f" WHERE {' AND '.join(clauses)} ORDER BY seq DESC LIMIT ?",
                (upper, floor, *params, limit),
            ).fetchall()
            entries = [
                (
                    int(r["seq"]),
                    AuditRecord(
                        r["at"], r["kind"], r["device"], r["actor"], json.loads(r["detail"])
                    ),
                )
                for r in rows
            ]
            if len(entries) == limit and limit > 0:
                older: int | None = entries[-1][0]
            else:
                older = floor if floor > 1 else None
            return AuditPage(entries, older if older is None or older > 1 else None)

        return await self._run(read)

    # -- attendance ledger -----------------------------------------------------------

    async def lookup(
        self,
        dedupe_keys: Sequence[str],
        pairs: Sequence[tuple[str, str]],
        participant_ids: Sequence[str],
        *,
        roster_ids: Sequence[str] | None = None,
        cached: Mapping[tuple[str, str], int] | None = None,
    ) -> LedgerLookup:
        keys, wanted, pids, people, have = LookupArgs.of(
            dedupe_keys, pairs, participant_ids, roster_ids, cached
        )

        def read(c: sqlite3.Connection) -> LedgerLookup:
            replies = {
                key: StoredReply.from_json(_loads(body))
                for key, body in (self._read_index.answers(c, keys) if keys else {}).items()
            }
            found: dict[tuple[str, str], PairLedger] = {}
            unchanged: set[tuple[str, str]] = set()
            rows = pair_heads(c, wanted)
            # scans only for pairs that have some and whose cached version is stale
            stale: list[tuple[str, str]] = []
            for pair in wanted:
                version, _ = rows.get(pair, (0, False))
                if have.get(pair) == version:
                    unchanged.add(pair)
                elif version > 0:
                    stale.append(pair)
            scans = _read_scans(c, stale)
            for pair in wanted:
                if pair in unchanged:
                    continue
                version, watched = rows.get(pair, (0, False))
                found[pair] = PairLedger(
                    pair[0], pair[1], tuple(scans.get(pair, ())), version, watched
                )
            known: dict[str, Participant] = {}
            for part in chunks(people):
                marks = ",".join("?" * len(part))
                for r in c.execute(f"SELECT * FROM participants WHERE id IN ({marks})", part):
                    known[r["id"]] = Participant(**{k: r[k] for k in _PARTICIPANT_COLUMNS})
            if pids and revoked_due:
                self._revoked.read(revoked_values(c, "badge"), now, token)
            return LedgerLookup(
                replies, found, known, self._revoked.among(pids), frozenset(unchanged)
            )

        now = time.monotonic()
        revoked_due, token = self._revoked.due(now), self._revoked.generation()
        if not (keys or wanted or people or (pids and revoked_due)):
            # The usual batch: every pair cached, everyone on the roster. Nothing to read.
            return LedgerLookup({}, {}, {}, self._revoked.among(pids), frozenset())
        if keys:
            # Stored answers (an annul's lookup: rare): on the thread, since the answer
            # index reads the audit rows appended since it last looked -- on first use,
            # every one (seconds for millions of rows), which the loop must not wait for.
            return await self._run(read)
        if self._reader is not None:
            # Committed state only: a batch committing meanwhile is re-checked by its
            # successor's commit (dedupe and version, inside the write transaction).
            return self._read(self._reader, read)
        return await self._run(read, inline=True)

    async def commit(self, writes: Sequence[LedgerWrite]) -> list[CommitResult]:
        batch = list(writes)
        if not batch:
            return []
        plain = [_plain(w) for w in batch]
        writer = self._writer
        if writer is not None and writer.usable:
            raws = await writer.commit(plain)  # the child inserts, commits, fsyncs
            self._checkpoint_soon()
        else:
            # In memory (nothing to share with a process) on the loop; a file whose
            # writer process cannot run, on the writer thread: slower, still durable.
            index = self._commit_index
            raws = await self._run(lambda c: commit_rows(c, plain, index), inline=writer is None)
        if CONFLICT_RAW in raws:  # perhaps a revocation made elsewhere: read them again
            self._revoked.revoked()
        return [_commit_result(raw, batch) for raw in raws]

    async def record_watch(self, interval: WatchInterval) -> None:
        w = interval

        def write(c: sqlite3.Connection) -> None:
            c.execute("BEGIN IMMEDIATE")
            try:
                c.execute(
                    "INSERT INTO watches (interval_id, session_id, participant_id, start, end, open)"
                    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(interval_id) DO UPDATE SET"
                    " start = min(start, excluded.start), end = max(end, excluded.end),"
                    " open = excluded.open",
                    (w.interval_id, w.session_id, w.participant_id, w.start, w.end, int(w.open)),
                )
                if w.end > w.start:
                    c.execute(
                        "INSERT INTO pairs (session_id, participant_id, version, watched)"
                        " VALUES (?, ?, 0, 1) ON CONFLICT(session_id, participant_id)"
                        " DO UPDATE SET watched = 1",
                        (w.session_id, w.participant_id),
                    )
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise

        await self._run(write)

    async def live(self, session_id: str, now: float) -> SessionLive:
        def read(c: sqlite3.Connection) -> SessionLive:
            def ids(sql: str, *args: object) -> frozenset[str]:
                return frozenset(r[0] for r in c.execute(sql, (session_id, *args)))

            recent = [
                json.loads(r[0])
                for r in c.execute(
                    "SELECT body FROM recent WHERE session_id = ? ORDER BY seq DESC LIMIT ?",
                    (session_id, RECENT_KEEP),
                )
            ]
            return SessionLive(
                session_id,
                inside=ids("SELECT participant_id FROM pairs WHERE session_id = ? AND inside = 1"),
                online=ids(
                    "SELECT DISTINCT participant_id FROM watches"
                    " WHERE session_id = ? AND open = 1 AND end >= ?",
                    now - ONLINE_STALE_S,
                ),
                attended=ids(
                    "SELECT participant_id FROM pairs WHERE session_id = ?"
                    " AND (door_seen = 1 OR watched = 1)"
                ),
                recent=tuple(recent),
            )

        return await self._run(read)

    async def live_counts(self, session_id: str, now: float) -> SessionCounts:
        def read(c: sqlite3.Connection) -> SessionCounts:
            inside = c.execute(
                "SELECT count(*) FROM pairs WHERE session_id = ? AND inside = 1", (session_id,)
            ).fetchone()[0]
            online = c.execute(
                "SELECT count(DISTINCT participant_id) FROM watches"
                " WHERE session_id = ? AND open = 1 AND end >= ?",
                (session_id, now - ONLINE_STALE_S),
            ).fetchone()[0]
            provinces: dict[str, int] = {}
            org_types: dict[str, int] = {}
            attended = 0
            for province, org_type, n in c.execute(
                "SELECT coalesce(r.province, 'unknown'), coalesce(r.org_type, 'unknown'), count(*)"
                " FROM pairs p LEFT JOIN participants r ON r.id = p.participant_id"
                " WHERE p.session_id = ? AND (p.door_seen = 1 OR p.watched = 1)"
                " GROUP BY 1, 2",
                (session_id,),
            ):
                attended += n
                provinces[province] = provinces.get(province, 0) + n
                org_types[org_type] = org_types.get(org_type, 0) + n
            recent = tuple(
                _loads(r[0])
                for r in c.execute(
                    "SELECT body FROM recent WHERE session_id = ? ORDER BY seq DESC LIMIT ?",
                    (session_id, RECENT_KEEP),
                )
            )
            return SessionCounts(session_id, inside, online, attended, provinces, org_types, recent)

        if self._reader is not None:
            return self._read(self._reader, read)
        return await self._run(read, inline=True)

    async def list_scans(self) -> list[DoorScan]:
        rows = await self._run(
            lambda c: c.execute(
                f"SELECT {_SCAN_COLUMNS} FROM door_scans"
                " ORDER BY session_id, participant_id, ver, k"
            ).fetchall()
        )
        return [_scan(r) for r in rows]

    async def list_watches(self) -> list[WatchInterval]:
        rows = await self._run(
            lambda c: c.execute(
                "SELECT interval_id, session_id, participant_id, start, end, open FROM watches"
            ).fetchall()
        )
        return [WatchInterval(r[1], r[2], r[0], r[3], r[4], bool(r[5])) for r in rows]


def _checkpoint(c: sqlite3.Connection) -> None:
    c.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


def _checkpoint_done(future: asyncio.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("background WAL checkpoint failed", exc_info=future.exception())


_dumps = json_text
_loads = json_value
_dumps_audit = audit_text

_COMMITTED = CommitResult(COMMITTED)  # immutable: one for every committed write
_CONFLICT = CommitResult(CONFLICT)
_TOKEN_REVOKED = CommitResult(TOKEN_REVOKED)


def _plain(w: LedgerWrite) -> PlainWrite:
    """A ledger write as the rows the writer inserts (encoded here, once)."""
    p = w.pair
    a = w.audit
    audit = (a.at, a.kind, a.device, a.actor, _dumps_audit(a.detail))
    if p is None:
        body = _dumps(w.stored.to_json())
        return (
            w.dedupe_key,
            None,
            (),
            (),
            None,
            body,
            audit,
            w.decided_on,
            w.unrevoked_badge,
            w.token,
        )
    return (
        w.dedupe_key,
        (p.session_id, p.participant_id, p.version, int(w.inside), int(w.door_seen)),
        tuple(
            (
                p.session_id,
                p.participant_id,
                p.version,
                k,
                d.scan_id,
                d.direction,
                d.at,
                d.device,
                d.received_at,
                int(d.annulled),
                d.seq,
            )
            for k, d in enumerate(w.appended)
        ),
        tuple(w.annulled),
        _dumps(w.recent) if w.recent is not None else None,
        _dumps(w.stored.to_json()),
        audit,
        None,
        w.unrevoked_badge,
        w.token,
    )


def _commit_result(raw: Raw, batch: list[LedgerWrite]) -> CommitResult:
    if raw == COMMITTED_RAW:
        return _COMMITTED
    if raw == CONFLICT_RAW:
        return _CONFLICT
    if raw == TOKEN_REVOKED_RAW:
        return _TOKEN_REVOKED
    assert isinstance(raw, tuple)
    kind, value = raw
    if kind == "i":  # the same request earlier in the batch, written now
        return CommitResult(DUPLICATE, batch[value].stored)
    return CommitResult(DUPLICATE, StoredReply.from_json(_loads(value)))


_SCAN_COLUMNS = (
    "session_id, participant_id, scan_id, direction, at, device, received_at, annulled, seq"
)


def _scan(r: Any) -> DoorScan:
    return DoorScan(r[2], r[0], r[1], r[3], float(r[4]), r[5], float(r[6]), bool(r[7]), r[8])


def _read_scans(
    c: sqlite3.Connection, pairs: list[tuple[str, str]]
) -> dict[tuple[str, str], list[DoorScan]]:
    """The door scans of `pairs`, each pair's in order."""
    out: dict[tuple[str, str], list[DoorScan]] = {}
    for r in join_pairs(
        c,
        pairs,
        f"SELECT {_SCAN_COLUMNS}"
        " FROM w JOIN door_scans d ON d.session_id = w.s AND d.participant_id = w.p"
        " ORDER BY d.session_id, d.participant_id, d.ver, d.k",
    ):
        out.setdefault((r[0], r[1]), []).append(_scan(r))
    return out


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
