"""SQLite backend: the embedded default (WAL, migrations on open).

Calls run on one dedicated thread holding the writer connection, so the event loop never
blocks on disk; the check-in hot path is the exception: its lookups read on a second
connection inline (WAL readers see the last commit), and its commits go to a writer
process (`writer`), so their inserts and fsync use the other core.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TypeVar

from ...attendance.records import DoorScan, WatchInterval
from ...event.model import Event, Participant
from ...event.validation import event_from_json
from ..file_modes import make_private
from ..records import (
    AuditFilter,
    AuditPage,
    AuditRecord,
    CommitResult,
    LedgerLookup,
    LedgerWrite,
    LookupArgs,
    SessionCounts,
    SessionLive,
)
from ..revoked import RevokedIds
from .checkpoints import WRITER_CHECKPOINT_PAGES, BackgroundCheckpoints
from .commit import commit_rows
from .queries import (
    read_audit_page,
    read_audit_tail,
    read_event_json,
    read_is_revoked,
    read_ledgers,
    read_live,
    read_live_counts,
    read_participant,
    read_participants,
    read_participants_among,
    read_revoked_values,
    read_scans,
    read_watches,
)
from .reply_index import ReplyIndex
from .schema import connect, connect_reader, migrate
from .updates import (
    write_audit_line,
    write_event,
    write_participants,
    write_revocation,
    write_watch,
)
from .writer_process import WriterProcess
from .writes import CONFLICT_RAW, commit_result, named, plain_write

T = TypeVar("T")


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
    """The Store over one SQLite file (or an in-memory database): owns its connections
    (the writer thread's, the inline reader), the writer process its check-in commits
    go to, the background checkpoints, the stored-answer indexes, the revoked-badge
    cache, and the in-process pub/sub of a one-node server."""

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
        # Check-in commits, for a file: a child process (see `writer`).
        self._writer: WriterProcess | None = None
        # Background WAL checkpoints (None for an in-memory database: no WAL).
        self._checkpoints: BackgroundCheckpoints | None = None
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

    async def _read_soon(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """A short read: inline on the reader for a file, else on the writer thread.

        Why on the reader: every open socket asks some of these once a second, and a
        call queued on the writer thread would push the next batch's commit there too."""
        if self._reader is not None:
            return self._read(self._reader, fn)
        return await self._run(fn)

    def _connect(self) -> sqlite3.Connection:
        if self.path != ":memory:":
            make_private(self.path)  # 0600 before SQLite makes it (and its WAL) 0644
        conn = connect(self.path)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA wal_autocheckpoint={WRITER_CHECKPOINT_PAGES}")
        migrate(conn)
        return conn

    async def open(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        loop = asyncio.get_running_loop()
        self._conn = await loop.run_in_executor(self._executor, self._connect)
        if self.path == ":memory:":
            return
        self._reader = await loop.run_in_executor(self._executor, connect_reader, self.path)
        # A file: check-in commits go to a writer process (started on first use).
        self._writer = WriterProcess(self.path, WRITER_CHECKPOINT_PAGES)
        self._checkpoints = await BackgroundCheckpoints.open(self.path)

    async def close(self) -> None:
        if self._writer is not None:
            await self._writer.close()
            self._writer = None
        if self._checkpoints is not None:
            await self._checkpoints.close()
            self._checkpoints = None
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
        await self._run(partial(write_event, event_json=event.to_json()))

    async def load_event(self) -> Event | None:
        body = await self._run(read_event_json)
        return None if body is None else event_from_json(body)

    async def upsert_participants(self, participants: list[Participant]) -> tuple[int, int]:
        return await self._run(partial(write_participants, participants=participants))

    async def list_participants(self) -> list[Participant]:
        return await self._run(read_participants)

    async def get_participant(self, participant_id: str) -> Participant | None:
        return await self._run(partial(read_participant, participant_id=participant_id))

    # -- revocation -------------------------------------------------------------------

    async def revoke(self, kind: str, value: str, at: float) -> None:
        await self._run(partial(write_revocation, kind=kind, value=value, at=at))
        self._revoked.revoked()

    async def is_revoked(self, kind: str, value: str) -> bool:
        return await self._read_soon(partial(read_is_revoked, kind=kind, value=value))

    async def revoked_values(self, kind: str) -> frozenset[str]:
        return await self._read_soon(partial(read_revoked_values, kind=kind))

    # -- audit ------------------------------------------------------------------------

    async def append_audit(self, record: AuditRecord) -> None:
        await self._run(partial(write_audit_line, record=record))

    async def list_audit(self, limit: int = 1000) -> list[AuditRecord]:
        return await self._run(partial(read_audit_tail, limit=limit))

    async def audit_page(
        self, where: AuditFilter, *, before: int | None = None, limit: int = 50
    ) -> AuditPage:
        return await self._run(partial(read_audit_page, where=where, before=before, limit=limit))

    # -- attendance (AttendanceStore) -------------------------------------------------

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
            replies, found, unchanged = read_ledgers(c, self._read_index, keys, wanted, have)
            known = read_participants_among(c, people)
            if pids and revoked_due:
                self._revoked.read(read_revoked_values(c, "badge"), now, token)
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
        plain = [plain_write(w) for w in batch]
        writer = self._writer
        if writer is not None and writer.usable:
            raws = await writer.commit(plain)  # the child inserts, commits, fsyncs
            if self._checkpoints is not None:
                self._checkpoints.soon()
        else:
            # In memory (nothing to share with a process) on the loop; a file whose
            # writer process cannot run, on the writer thread: slower, still durable.
            index = self._commit_index
            rows = named(plain)
            raws = await self._run(lambda c: commit_rows(c, rows, index), inline=writer is None)
        if CONFLICT_RAW in raws:  # perhaps a revocation made elsewhere: read them again
            self._revoked.revoked()
        return [commit_result(raw, batch) for raw in raws]

    async def record_watch(self, interval: WatchInterval) -> None:
        await self._run(partial(write_watch, w=interval))

    async def live(self, session_id: str, now: float) -> SessionLive:
        return await self._run(partial(read_live, session_id=session_id, now=now))

    async def live_counts(self, session_id: str, now: float) -> SessionCounts:
        read = partial(read_live_counts, session_id=session_id, now=now)
        if self._reader is not None:
            return self._read(self._reader, read)
        return await self._run(read, inline=True)

    async def list_scans(self) -> list[DoorScan]:
        return await self._run(read_scans)

    async def list_watches(self) -> list[WatchInterval]:
        return await self._run(read_watches)
