"""The SQLite ledger commit, and the process that runs it.

A check-in batch's commit is a handful of `executemany` calls; on the event loop they
were a fifth of the server's main thread at full load, and on a thread they are worse
(each statement hands the GIL back and waits for the busy loop to return it). So a file
database commits in a child process of its own (`WriterProcess`): the loop sends the
batch's rows down a pipe, the child inserts them, COMMITs (the fsync) and answers, and
the loop serves sockets meanwhile, on the other core. An in-memory database (tests)
cannot be shared with a process and runs the same `commit_rows` in place.

The rows travel as plain tuples (`PlainWrite`), pickled: the child is our own process,
started from our own interpreter, and reads nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import select
import signal
import sqlite3
import struct
import sys
from collections import deque
from collections.abc import Iterator
from typing import Any, BinaryIO

from .base import RECENT_KEEP

log = logging.getLogger(__name__)

# One write as the child needs it:
# (dedupe key, pair head (session, participant, version, inside, door_seen) or None,
#  door-scan rows appended, (scan id, device) of scans annulled, recent row body or None,
#  reply body, audit row (at, kind, device, actor, detail),
#  (session, participant, version) a write that leaves its pair alone was decided on,
#  participant whose badge it took as not revoked, id of the token it came with)
PlainWrite = tuple[
    str,
    tuple[str, str, int, int, int] | None,
    tuple[tuple[Any, ...], ...],
    tuple[tuple[str, str], ...],
    str | None,
    str,
    tuple[float, str, str, str, str],
    tuple[str, str, int] | None,
    str | None,
    str | None,
]
# Per write: COMMITTED_RAW, CONFLICT_RAW, TOKEN_REVOKED_RAW, ("d", stored reply body) for
# a request answered before, ("i", index) for the same request earlier in this batch.
COMMITTED_RAW = 1
CONFLICT_RAW = 0
TOKEN_REVOKED_RAW = 2
Raw = int | tuple[str, Any]

_UPSERT_PAIR = (
    "INSERT INTO pairs (session_id, participant_id, version, inside, door_seen)"
    " VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT(session_id, participant_id) DO UPDATE SET"
    " version = excluded.version, inside = excluded.inside, door_seen = excluded.door_seen"
)
# Compare-and-set: a pair moves only from the version its write was decided on. A first
# write (version 1) may find no row, or one a watch made (version 0); a later write
# must find its row, at the version before its own.
_UPSERT_PAIR_IF_CURRENT = _UPSERT_PAIR + " WHERE pairs.version = excluded.version - 1"
_UPDATE_PAIR_IF_CURRENT = (
    "UPDATE pairs SET version = ?3, inside = ?4, door_seen = ?5"
    " WHERE session_id = ?1 AND participant_id = ?2 AND version = ?3 - 1"
)
_INSERT_AUDIT = (
    "INSERT INTO audit (at, kind, device, actor, detail, reply_key, reply)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)

_FRAME = struct.Struct(">I")


def chunks(items: list[Any], size: int = 500) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def join_pairs(c: sqlite3.Connection, pairs: list[tuple[str, str]], select: str) -> Iterator[Any]:
    """The rows of `select`, which reads the (session, participant) `pairs` as a table
    `w(s, p)`: one statement per 400 pairs, not one per pair."""
    for chunk in chunks(pairs, 400):
        values = ",".join("(?,?)" for _ in chunk)
        yield from c.execute(
            f"WITH w(s, p) AS (VALUES {values}) {select}", [x for pair in chunk for x in pair]
        )


def pair_heads(
    c: sqlite3.Connection, pairs: list[tuple[str, str]]
) -> dict[tuple[str, str], tuple[int, bool]]:
    """(version, watched) of each stored (session, participant) pair among `pairs`."""
    rows = join_pairs(
        c,
        pairs,
        "SELECT w.s, w.p, pairs.version, pairs.watched"
        " FROM w JOIN pairs ON pairs.session_id = w.s AND pairs.participant_id = w.p",
    )
    return {(r[0], r[1]): (int(r[2]), bool(r[3])) for r in rows}


def latest(recent_rows: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The rows of a batch a dashboard can ever show: the last RECENT_KEEP per session
    (it reads the newest RECENT_KEEP only; older ones in the same batch are never seen)."""
    if len(recent_rows) <= RECENT_KEEP:
        return recent_rows
    seen: dict[str, int] = {}
    keep: list[tuple[str, str]] = []
    for row in reversed(recent_rows):
        n = seen.get(row[0], 0)
        if n < RECENT_KEEP:
            seen[row[0]] = n + 1
            keep.append(row)
    keep.reverse()
    return keep


class _Rows:
    """The rows one batch appends, table by table."""

    def __init__(self) -> None:
        self.pairs: list[tuple[str, str, int, int, int]] = []
        self.scans: list[tuple[Any, ...]] = []
        self.annuls: list[tuple[str, str, str, str]] = []
        self.recent: list[tuple[str, str]] = []
        # audit rows, each carrying its request's key and reply (the stored answer)
        self.audit: list[tuple[float, str, str, str, str, str, str]] = []

    def add(self, w: PlainWrite) -> None:
        key, head, scans, annulled, recent, body, audit, _, _, _ = w
        if head is not None:
            self.pairs.append(head)
            self.scans.extend(scans)
            self.annuls.extend((head[0], head[1], *scan) for scan in annulled)
            if recent is not None:
                self.recent.append((head[0], recent))
        self.audit.append((*audit, key, body))

    def insert_rest(self, c: sqlite3.Connection) -> None:
        """Everything but the pairs; the audit rows last (`ReplyIndex.written` counts on
        their row ids being the last inserted)."""
        c.executemany(
            "INSERT INTO door_scans (session_id, participant_id, ver, k, scan_id,"
            " direction, at, device, received_at, annulled, seq)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            self.scans,
        )
        if self.annuls:
            c.executemany(
                "UPDATE door_scans SET annulled = 1 WHERE session_id = ?"
                " AND participant_id = ? AND scan_id = ? AND device = ? AND annulled = 0",
                self.annuls,
            )
        c.executemany("INSERT INTO recent (session_id, body) VALUES (?, ?)", latest(self.recent))
        c.executemany(_INSERT_AUDIT, self.audit)


class ReplyIndex:
    """Which requests have a stored answer, in memory: dedupe key -> the audit row that
    holds the answer (0: the replies table of files from before migration 4).

    Why not a table keyed by request: request keys arrive in no order, so each commit
    dirtied a page of that B-tree per scan -- half of the pages a commit wrote, measured.
    Answers now ride in the append-only audit rows (sequential pages) and this index
    finds them. It belongs to one connection's commits; `catch_up` (inside the write
    transaction, so nothing can slip in between) reads whatever other writers of the
    file appended since, so the index is exact whoever else writes.
    """

    def __init__(self) -> None:
        self.seqs: dict[str, int] = {}
        self.seen = -1  # the last audit row read; -1: nothing loaded yet

    def catch_up(self, c: sqlite3.Connection) -> None:
        if self.seen < 0:
            self.seqs.update((key, 0) for (key,) in c.execute("SELECT key FROM replies"))
            self.seen = 0
        rows = c.execute(
            "SELECT seq, reply_key FROM audit WHERE seq > ? ORDER BY seq", (self.seen,)
        ).fetchall()
        if rows:
            self.seqs.update((key, seq) for seq, key in rows if key is not None)
            self.seen = rows[-1][0]

    def answer(self, c: sqlite3.Connection, key: str) -> str:
        """The stored answer (JSON text) of an indexed key."""
        seq = self.seqs[key]
        if seq == 0:
            return str(c.execute("SELECT body FROM replies WHERE key = ?", (key,)).fetchone()[0])
        return str(c.execute("SELECT reply FROM audit WHERE seq = ?", (seq,)).fetchone()[0])

    def answers(self, c: sqlite3.Connection, keys: list[str]) -> dict[str, str]:
        self.catch_up(c)
        return {key: self.answer(c, key) for key in keys if key in self.seqs}

    def written(self, c: sqlite3.Connection, rows: _Rows) -> list[tuple[str, int]]:
        """The (key, audit row) of each write just inserted: its audit rows were the last
        rows inserted, one statement, ids consecutive (AUTOINCREMENT, under the write
        lock). Applied with `add` once the transaction committed."""
        if not rows.audit:
            return []
        last = int(c.execute("SELECT last_insert_rowid()").fetchone()[0])
        first = last - len(rows.audit) + 1
        return [(row[5], first + i) for i, row in enumerate(rows.audit)]

    def add(self, entries: list[tuple[str, int]]) -> None:
        for key, seq in entries:
            self.seqs[key] = seq
            self.seen = max(self.seen, seq)


def _insert_all(
    c: sqlite3.Connection, batch: list[PlainWrite], index: ReplyIndex
) -> list[tuple[str, int]] | None:
    """Write the whole batch as decided, returning the answers' index entries; None (the
    caller rolls back) if a request has an answer already (or comes twice in the batch)
    or a pair is not at the version a write was decided on."""
    keys = {w[0] for w in batch}
    if len(keys) != len(batch) or not index.seqs.keys().isdisjoint(keys):
        return None
    if (
        not _decided_on_current(c, batch)
        or _revoked_among(c, "badge", batch, 8)
        or _revoked_among(c, "token", batch, 9)
    ):
        return None
    rows = _Rows()
    for w in batch:
        rows.add(w)
    before = c.total_changes
    # first writes before later ones: a pair's writes keep their order (versions rise)
    c.executemany(_UPSERT_PAIR_IF_CURRENT, [h for h in rows.pairs if h[2] == 1])
    c.executemany(_UPDATE_PAIR_IF_CURRENT, [h for h in rows.pairs if h[2] != 1])
    if c.total_changes - before != len(rows.pairs):
        return None  # some pair moved on since it was looked up
    rows.insert_rest(c)
    return index.written(c, rows)


def revoked_values(c: sqlite3.Connection, kind: str) -> frozenset[str]:
    """Every revoked value of a kind (a small table, read whole)."""
    return frozenset(r[0] for r in c.execute("SELECT value FROM revoked WHERE kind = ?", (kind,)))


def _revoked_among(
    c: sqlite3.Connection, kind: str, batch: list[PlainWrite], field: int
) -> frozenset[str]:
    """Those of the values the batch's writes name in `field` (the badges they took as
    not revoked, the tokens they came with) that are revoked by now."""
    named = list({w[field] for w in batch if w[field] is not None})
    if not named:
        return frozenset()
    found: set[str] = set()
    for chunk in chunks(named):
        marks = ",".join("?" * len(chunk))
        sql = f"SELECT value FROM revoked WHERE kind = ? AND value IN ({marks})"
        found.update(r[0] for r in c.execute(sql, (kind, *chunk)))
    return frozenset(found)


def _decided_on_current(c: sqlite3.Connection, batch: list[PlainWrite]) -> bool:
    """Whether every write decided on a pair it leaves alone finds that pair at the
    version it read: the one an earlier write of the batch leaves, else the stored one."""
    written: dict[tuple[str, str], int] = {}
    stored: list[tuple[tuple[str, str], int]] = []
    for w in batch:
        head, on = w[1], w[7]
        if on is not None:
            pk = (on[0], on[1])
            if pk in written:
                if written[pk] != on[2]:
                    return False
            else:
                stored.append((pk, on[2]))
        if head is not None:
            written[(head[0], head[1])] = head[2]
    if not stored:
        return True
    heads = pair_heads(c, list(dict.fromkeys(pk for pk, _ in stored)))
    return all(heads.get(pk, (0, False))[0] == version for pk, version in stored)


def _write_checked(
    c: sqlite3.Connection, batch: list[PlainWrite], index: ReplyIndex
) -> tuple[list[Raw], list[tuple[str, int]]]:
    """Write a batch write by write inside the open transaction: a request whose token
    is revoked is refused, a request answered before gets its stored reply, a write
    decided on an older version of its pair a conflict (its scan is decided again), the
    others are written."""
    out: list[Raw] = []
    existing = {key: index.answer(c, key) for key in {w[0] for w in batch} if key in index.seqs}
    wanted = list(dict.fromkeys((x[0], x[1]) for w in batch for x in (w[1], w[7]) if x is not None))
    versions = {pair: head[0] for pair, head in pair_heads(c, wanted).items()}
    revoked = _revoked_among(c, "badge", batch, 8)
    revoked_tokens = _revoked_among(c, "token", batch, 9)
    written: dict[str, int] = {}
    # Versions a write of this batch would have made and did not: a later write of the
    # batch built on one was decided on a ledger that does not exist, so it is refused
    # too, even if the store holds a version of that number (another writer's ledger).
    unmade: dict[tuple[str, str], int] = {}
    rows = _Rows()
    for position, w in enumerate(batch):
        key, head, on = w[0], w[1], w[7]
        pk = (head[0], head[1]) if head is not None else None
        if w[9] in revoked_tokens:
            if pk is not None and head is not None:
                unmade[pk] = head[2]
            out.append(TOKEN_REVOKED_RAW)
            continue
        if key in existing or key in written:
            out.append(("d", existing[key]) if key in existing else ("i", written[key]))
            if pk is not None and head is not None:
                unmade[pk] = head[2]
            continue
        if on is not None:
            on_pk = (on[0], on[1])
            if unmade.get(on_pk) == on[2] or versions.get(on_pk, 0) != on[2] or w[8] in revoked:
                out.append(CONFLICT_RAW)  # answered on a ledger that moved on (or never was)
                continue
        if pk is not None and head is not None:
            stale = unmade.get(pk) == head[2] - 1 or versions.get(pk, 0) != head[2] - 1
            if stale or w[8] in revoked:
                unmade[pk] = head[2]
                out.append(CONFLICT_RAW)
                continue
            versions[pk] = head[2]
        written[key] = position
        rows.add(w)
        out.append(COMMITTED_RAW)
    c.executemany(_UPSERT_PAIR, rows.pairs)
    rows.insert_rest(c)
    return out, index.written(c, rows)


def commit_rows(c: sqlite3.Connection, batch: list[PlainWrite], index: ReplyIndex) -> list[Raw]:
    """One transaction for the batch, committed (durable) when this returns.

    Optimistic first: the batch was decided against the state its lookup read, so
    normally no request has an answer yet (the index says so, in memory) and every pair
    is at the version it was decided on (the pairs' upsert checks that itself: it only
    moves a pair from version v-1 to v), so no SELECT is needed. If either check trips,
    the savepoint is rolled back and the batch is written write by write (rare: a retry
    of a scan in flight, another writer)."""
    c.execute("BEGIN IMMEDIATE")
    try:
        index.catch_up(c)
        c.execute("SAVEPOINT optimistic")
        entries = _insert_all(c, batch, index)
        if entries is not None:
            c.execute("RELEASE optimistic")
            out: list[Raw] = [COMMITTED_RAW] * len(batch)
        else:
            c.execute("ROLLBACK TO optimistic")
            c.execute("RELEASE optimistic")
            out, entries = _write_checked(c, batch, index)
        c.execute("COMMIT")
    except BaseException:
        if c.in_transaction:
            c.execute("ROLLBACK")
        raise
    index.add(entries)
    return out


def connect(path: str) -> sqlite3.Connection:
    """A writer connection with the settings every writer of a Podium file uses."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    # FULL: an acknowledged write survives power loss, not only a process crash.
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


# -- the child process -------------------------------------------------------------------


class _Frames:
    """Length-prefixed frames from a pipe: blocks for the first, then takes whatever
    else has already arrived (so queued batches can share one transaction)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = bytearray()
        self.closed = False

    def _complete(self) -> list[bytes]:
        frames: list[bytes] = []
        at = 0
        while len(self.buffer) - at >= _FRAME.size:
            (size,) = _FRAME.unpack_from(self.buffer, at)
            if len(self.buffer) - at - _FRAME.size < size:
                break
            frames.append(bytes(self.buffer[at + _FRAME.size : at + _FRAME.size + size]))
            at += _FRAME.size + size
        del self.buffer[:at]
        return frames

    def arrived(self) -> list[bytes]:
        """The frames already here, without waiting for more."""
        while not self.closed and select.select([self.fd], [], [], 0)[0]:
            chunk = os.read(self.fd, 1 << 20)
            if not chunk:
                self.closed = True
            self.buffer += chunk
        return self._complete()

    def next_frames(self) -> list[bytes]:
        """At least one frame, or [] once the parent closed the pipe."""
        while not self.closed:
            frames = self._complete()
            if frames:
                return frames
            chunk = os.read(self.fd, 1 << 20)
            if not chunk:
                self.closed = True
            self.buffer += chunk
        return []


def serve(path: str, wal_autocheckpoint: int, stdin_fd: int, stdout: BinaryIO) -> None:
    """Answer commit requests until stdin closes: each frame is a pickled batch, each
    answer a pickled ("ok", raws) or ("error", message), in order. Batches that queued up
    while the previous commit ran are committed together: one transaction, one fsync
    (each is still checked against the ones before it, in order)."""
    conn = connect(path)
    conn.execute(f"PRAGMA wal_autocheckpoint={wal_autocheckpoint}")
    index = ReplyIndex()
    index.catch_up(conn)  # the whole audit log, before any commit holds the write lock
    frames = _Frames(stdin_fd)
    try:
        while batches := [pickle.loads(f) for f in frames.next_frames()]:
            replies: list[tuple[str, Any]]
            try:
                flat = [w for batch in batches for w in batch]
                raws = commit_rows(conn, flat, index)
                replies = []
                offset = 0
                for batch in batches:
                    part = raws[offset : offset + len(batch)]
                    # an in-batch duplicate's index counts from its own batch's start
                    replies.append(("ok", [_rebase(raw, offset, flat) for raw in part]))
                    offset += len(batch)
            except Exception as exc:  # reported to the batches; the writer keeps serving
                error = ("error", f"{type(exc).__name__}: {exc}")
                replies = [error] * len(batches)
                if _locked(exc):
                    # The database is held by another process: batches that queued up
                    # during this busy wait would each wait it out again. They fail
                    # with it, uncommitted; the next batch sent tries afresh.
                    replies += [error] * len(frames.arrived())
            out = bytearray()
            for reply in replies:
                body = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
                out += _FRAME.pack(len(body)) + body
            stdout.write(out)
            stdout.flush()
    finally:
        conn.close()


def _locked(exc: Exception) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and (
        "locked" in str(exc) or "busy" in str(exc)
    )


def _rebase(raw: Raw, offset: int, flat: list[PlainWrite]) -> Raw:
    """A result of the merged commit as its own batch's: "the same request earlier in
    this batch" points into the batch, or becomes "answered before" when that earlier
    write was in a batch ahead (its reply body is the stored answer)."""
    if isinstance(raw, tuple) and raw[0] == "i":
        if raw[1] < offset:
            return ("d", flat[raw[1]][5])
        return ("i", raw[1] - offset)
    return raw


def main() -> int:
    # Ctrl-C in a terminal reaches the whole process group: the server shuts down
    # gracefully and still needs this process to finish the commits under way; it
    # stops when the server closes its stdin.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if len(sys.argv) != 3:
        print("usage: python -m podium_server.store.sqlite_writer DB CHECKPOINT_PAGES")
        return 2
    serve(sys.argv[1], int(sys.argv[2]), sys.stdin.fileno(), sys.stdout.buffer)
    return 0


# -- the parent's handle on it -------------------------------------------------------------


class WriterError(RuntimeError):
    """The writer process failed a commit, or is gone."""


class _Child:
    """One running writer process and the batches it owes answers for, in order."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.waiting: deque[asyncio.Future[list[Raw]]] = deque()
        self.reader: asyncio.Task[None] | None = None
        self.answered = False


class WriterProcess:
    """The child that commits ledger batches for one database file; started on first
    use (once, however many commits arrive meanwhile), restarted on the next call if it
    died, stopped by `close`. Each child's answers go to the batches sent to it, in
    order; batches a dying child owed fail (their scans are not acknowledged)."""

    # A child that dies before answering anything this many times in a row is given up
    # on: `usable` turns False and the store commits on its own thread instead.
    MAX_FAILED_STARTS = 3

    def __init__(
        self, path: str, wal_autocheckpoint: int, command: list[str] | None = None
    ) -> None:
        self.path = path
        self.wal_autocheckpoint = wal_autocheckpoint
        self.command = command or [sys.executable, "-m", __name__]
        self._child: _Child | None = None
        self._starting = asyncio.Lock()
        self._failed_starts = 0
        self.starts = 0  # processes started so far

    @property
    def usable(self) -> bool:
        return self._failed_starts < self.MAX_FAILED_STARTS

    @property
    def pid(self) -> int | None:
        return self._child.proc.pid if self._child is not None else None

    async def _running(self) -> _Child:
        child = self._child
        if child is not None:
            return child
        async with self._starting:  # concurrent first commits: one process, not several
            if self._child is None:
                self._child = await self._start()
            return self._child

    async def _start(self) -> _Child:
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.command,
                self.path,
                str(self.wal_autocheckpoint),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            self._failed_starts += 1
            raise WriterError(f"cannot start the sqlite writer process: {exc}") from exc
        self.starts += 1
        child = _Child(proc)
        child.reader = asyncio.create_task(self._read_answers(child), name="sqlite-writer")
        log.info("sqlite writer process %d started", proc.pid)
        return child

    async def _read_answers(self, child: _Child) -> None:
        stdout = child.proc.stdout
        assert stdout is not None
        error: BaseException = WriterError("the sqlite writer process exited")
        try:
            while True:
                (size,) = _FRAME.unpack(await stdout.readexactly(_FRAME.size))
                status, value = pickle.loads(await stdout.readexactly(size))
                if not child.answered:
                    child.answered, self._failed_starts = True, 0
                future = child.waiting.popleft()
                if future.done():
                    continue
                if status == "ok":
                    future.set_result(value)
                else:
                    future.set_exception(WriterError(value))
        except (asyncio.IncompleteReadError, ConnectionError, IndexError) as exc:
            error = WriterError(f"the sqlite writer process exited ({exc!r})")
        except asyncio.CancelledError:
            error = WriterError("the sqlite writer was closed")
            raise
        finally:
            if not child.answered:
                self._failed_starts += 1
                log.error("sqlite writer process %d exited before answering", child.proc.pid)
            if self._child is child:
                self._child = None
            if child.proc.returncode is None:
                child.proc.kill()  # it said something we did not ask for: not to be trusted
            while child.waiting:  # nothing more will answer these: their batches fail
                future = child.waiting.popleft()
                if not future.done():
                    future.set_exception(error)

    async def commit(self, batch: list[PlainWrite]) -> list[Raw]:
        child = await self._running()
        stdin = child.proc.stdin
        assert stdin is not None
        future: asyncio.Future[list[Raw]] = asyncio.get_running_loop().create_future()
        body = pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)
        child.waiting.append(future)
        stdin.write(_FRAME.pack(len(body)) + body)
        await stdin.drain()
        raws = await future
        if len(raws) != len(batch):
            raise WriterError(f"the writer answered {len(raws)} of {len(batch)} writes")
        return raws

    async def close(self) -> None:
        child, self._child = self._child, None
        if child is None:
            return
        if child.proc.stdin is not None:
            child.proc.stdin.close()
        try:
            await asyncio.wait_for(child.proc.wait(), timeout=10)
        except TimeoutError:
            child.proc.kill()
            await child.proc.wait()
        if child.reader is not None:
            child.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await child.reader


if __name__ == "__main__":
    sys.exit(main())
