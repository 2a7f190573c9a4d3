"""The SQLite commit and its writer process: real files, a real child process."""

from __future__ import annotations

import asyncio
import io
import os
import pickle
import signal
import sqlite3
import sys
import threading
import time
from pathlib import Path

import pytest

from podium_server.attendance.records import DoorScan, PairLedger
from podium_server.store.base import (
    COMMITTED,
    DUPLICATE,
    RECENT_KEEP,
    AuditRecord,
    LedgerWrite,
    StoredReply,
)
from podium_server.store.sqlite import SqliteStore
from podium_server.store.sqlite_writer import (
    _FRAME,
    COMMITTED_RAW,
    CONFLICT_RAW,
    PlainWrite,
    ReplyIndex,
    WriterError,
    WriterProcess,
    commit_rows,
    latest,
    serve,
)


@pytest.fixture
async def db(tmp_path: Path) -> str:
    """A migrated database file (the store creates the schema), closed again."""
    path = str(tmp_path / "w.db")
    store = SqliteStore(path)
    await store.open()
    await store.close()
    return path


def plain(key: str, pid: str | None, version: int = 1, scan_id: str = "") -> PlainWrite:
    audit = (1.0, "scan", "door", "jti", f'{{"id":"{key}"}}')
    body = f'{{"reply":{{"re":"{key}"}}}}'
    if pid is None:
        return (key, None, (), (), None, body, audit, None, None, "jti")
    scan = ("s1", pid, version, 0, scan_id or key, "in", 10.0, "door", 10.0, 0, version)
    head = ("s1", pid, version, 1, 1)
    return (key, head, (scan,), (), '{"p":1}', body, audit, None, pid, "jti")


def rows(path: str, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as c:
        return list(c.execute(sql))


def test_commit_rows_fast_path_and_fallbacks(db: str) -> None:
    c = sqlite3.connect(db, isolation_level=None)
    index = ReplyIndex()
    assert (
        commit_rows(c, [plain("k1", "p1"), plain("k2", "p2"), plain("k3", None)], index)
        == [COMMITTED_RAW] * 3
    )
    # a retried request, a stale decision, the same request twice, and a fresh write
    out = commit_rows(
        c,
        [
            plain("k1", "p1"),  # answered before
            plain("k4", "p1", version=1),  # p1 is at version 1 already: conflict
            plain("k5", "p2", version=2),  # fresh: p2 moves 1 -> 2
            plain("k5", "p2", version=3),  # the same request again in this batch
        ],
        index,
    )
    assert out[0] == ("d", '{"reply":{"re":"k1"}}')
    assert out[1:] == [CONFLICT_RAW, COMMITTED_RAW, ("i", 2)]
    assert sorted(r[0] for r in rows(db, "SELECT scan_id FROM door_scans")) == ["k1", "k2", "k5"]
    assert len(rows(db, "SELECT * FROM audit WHERE kind = 'scan'")) == 4  # k1 k2 k3 k5
    assert rows(db, "SELECT version FROM pairs WHERE participant_id = 'p2'") == [(2,)]


def test_answers_ride_in_the_audit_log_and_every_writer_sees_them(db: str) -> None:
    """No table keyed by request: each answer is in its audit row, found through an
    in-memory index that catches up with what other connections wrote (inside the write
    transaction) and with the replies table of files written before migration 4."""
    one, other = sqlite3.connect(db, isolation_level=None), sqlite3.connect(db)
    with other:
        other.execute("INSERT INTO replies (key, body) VALUES ('old', '{\"reply\":1}')")
    mine, theirs = ReplyIndex(), ReplyIndex()
    assert commit_rows(one, [plain("k1", "p1")], mine) == [COMMITTED_RAW]
    assert rows(db, "SELECT reply_key, reply FROM audit") == [("k1", '{"reply":{"re":"k1"}}')]
    assert rows(db, "SELECT count(*) FROM replies") == [(1,)]  # the old answer only
    two = sqlite3.connect(db, isolation_level=None)
    # another writer (its index built from the file) refuses both, answering as stored
    out = commit_rows(two, [plain("k1", "p2"), plain("old", None), plain("k2", "p2")], theirs)
    assert out == [("d", '{"reply":{"re":"k1"}}'), ("d", '{"reply":1}'), COMMITTED_RAW]
    # and the first writer, told nothing, sees k2 answered when it commits next
    assert commit_rows(one, [plain("k2", "p3")], mine) == [("d", '{"reply":{"re":"k2"}}')]
    assert ReplyIndex().answers(one, ["k1", "k2", "old", "nope"]) == {
        "k1": '{"reply":{"re":"k1"}}',
        "k2": '{"reply":{"re":"k2"}}',
        "old": '{"reply":1}',
    }
    # a transaction that failed indexes nothing
    broken = plain("k9", "p9")
    broken = (*broken[:6], (1.0, "scan", "door", "jti", None), None, None, None)  # NOT NULL
    with pytest.raises(sqlite3.IntegrityError):
        commit_rows(one, [broken], mine)  # type: ignore[list-item]
    assert "k9" not in mine.seqs and not one.in_transaction


def frames(*batches: list[PlainWrite]) -> bytes:
    out = b""
    for batch in batches:
        body = pickle.dumps(batch)
        out += _FRAME.pack(len(body)) + body
    return out


def answers(raw: bytes) -> list[tuple[str, object]]:
    out = []
    stream = io.BytesIO(raw)
    while head := stream.read(_FRAME.size):
        (size,) = _FRAME.unpack(head)
        out.append(pickle.loads(stream.read(size)))
    return out


def test_queued_batches_share_a_transaction_and_answer_each(db: str) -> None:
    read, write = os.pipe()
    # Both batches are in the pipe before the writer looks: one commit serves both.
    # The second repeats the first's request: answered with the first's reply.
    os.write(write, frames([plain("a1", "p1")], [plain("a2", "p2"), plain("a1", "p1", 2)]))
    os.close(write)
    out = io.BytesIO()
    serve(db, 1000, read, out)
    os.close(read)
    assert answers(out.getvalue()) == [
        ("ok", [COMMITTED_RAW]),
        ("ok", [COMMITTED_RAW, ("d", '{"reply":{"re":"a1"}}')]),
    ]
    assert len(rows(db, "SELECT * FROM door_scans")) == 2


def test_a_failing_batch_is_reported_and_the_writer_keeps_serving(db: str) -> None:
    read, write = os.pipe()
    os.write(write, frames([("bad",)]))  # type: ignore[list-item]
    out = io.BytesIO()
    serve_thread = threading.Thread(target=serve, args=(db, 1000, read, out))
    serve_thread.start()
    time.sleep(0.2)  # the bad batch alone in its transaction; then a good one
    os.write(write, frames([plain("g1", "p1")]))
    os.close(write)
    serve_thread.join(timeout=10)
    os.close(read)
    [(status, message), after] = answers(out.getvalue())
    assert status == "error" and "IndexError" in str(message)
    assert after == ("ok", [COMMITTED_RAW])
    assert rows(db, "SELECT reply_key FROM audit") == [("g1",)]


def ledger_write(key: str, pid: str) -> LedgerWrite:
    scan = DoorScan(key, "s1", pid, "in", 10.0, "door", 10.0, seq=1)
    pair = PairLedger("s1", pid, (scan,), 1)
    return LedgerWrite(
        dedupe_key=key,
        stored=StoredReply({"type": "scan.result", "re": key}, "s1", pid),
        audit=AuditRecord(at=1.0, kind="scan", device="door", actor="j", detail={"id": key}),
        pair=pair,
        inside=True,
        door_seen=True,
        appended=(scan,),
    )


async def test_store_commits_through_a_child_and_restarts_it(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "s.db"))
    await store.open()
    try:
        assert [r.status for r in await store.commit([ledger_write("k1", "p1")])] == [COMMITTED]
        writer = store._writer
        assert writer is not None and writer.pid is not None
        first = writer.pid
        os.kill(first, signal.SIGKILL)
        for _ in range(200):  # the reader notices the pipe closing
            if writer.pid is None:
                break
            await asyncio.sleep(0.01)
        assert writer.pid is None
        assert [r.status for r in await store.commit([ledger_write("k2", "p2")])] == [COMMITTED]
        assert writer.pid is not None and writer.pid != first and writer.starts == 2
        assert sorted(s.scan_id for s in await store.list_scans()) == ["k1", "k2"]
    finally:
        await store.close()
    assert store._writer is None


async def test_the_child_outlives_a_ctrl_c_to_finish_the_commits(tmp_path: Path) -> None:
    """Ctrl-C reaches the whole process group; the server shuts down gracefully and its
    writer must still be there for the commits under way."""
    store = SqliteStore(str(tmp_path / "s.db"))
    await store.open()
    try:
        await store.commit([ledger_write("k1", "p1")])
        assert store._writer is not None and store._writer.pid is not None
        pid = store._writer.pid
        os.kill(pid, signal.SIGINT)
        await asyncio.sleep(0.2)
        assert [r.status for r in await store.commit([ledger_write("k2", "p2")])] == [COMMITTED]
        assert store._writer.pid == pid
    finally:
        await store.close()


async def test_concurrent_first_commits_start_one_child_and_get_their_own_answers(
    tmp_path: Path,
) -> None:
    """The batcher keeps several commits in flight: the first ones must not each start
    a process, and every batch must get the answers for its own writes."""
    store = SqliteStore(str(tmp_path / "s.db"))
    await store.open()
    try:
        first = ledger_write("a1", "p1")
        batches = [
            [first],
            [ledger_write("b1", "p2"), first],  # a1 again: answered as a duplicate
            [ledger_write("c1", "p3"), ledger_write("c2", "p4"), ledger_write("c3", "p5")],
        ]
        results = await asyncio.gather(*(store.commit(b) for b in batches))
        assert store._writer is not None and store._writer.starts == 1
        assert [[r.status for r in res] for res in results] == [
            [COMMITTED],
            [COMMITTED, DUPLICATE],
            [COMMITTED] * 3,
        ]
        assert results[1][1].stored is not None and results[1][1].stored.reply["re"] == "a1"
    finally:
        await store.close()


async def test_a_commit_in_flight_when_the_child_dies_fails_loudly(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "s.db"))
    await store.open()
    try:
        await store.commit([ledger_write("k1", "p1")])
        writer = store._writer
        assert writer is not None and writer.pid is not None
        pid = writer.pid
        os.kill(pid, signal.SIGSTOP)  # it takes the batch but never answers
        pending = asyncio.ensure_future(store.commit([ledger_write("k2", "p2")]))
        await asyncio.sleep(0.1)
        assert not pending.done()
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(WriterError):
            await asyncio.wait_for(pending, 5)
    finally:
        await store.close()


async def test_a_writer_that_cannot_run_is_given_up_for_the_thread(tmp_path: Path) -> None:
    """A child that exits before answering (say, a broken install) fails the batches
    sent to it; after three such starts the store commits on its own writer thread."""
    store = SqliteStore(str(tmp_path / "s.db"))
    await store.open()
    try:
        assert store._writer is not None
        broken = WriterProcess(store.path, 1000, command=[sys.executable, "-c", "pass"])
        store._writer = broken
        for n in range(WriterProcess.MAX_FAILED_STARTS):
            with pytest.raises(WriterError):
                await store.commit([ledger_write(f"k{n}", f"p{n}")])
        assert not broken.usable
        assert [r.status for r in await store.commit([ledger_write("ok", "p9")])] == [COMMITTED]
        assert [s.scan_id for s in await store.list_scans()] == ["ok"]
    finally:
        await store.close()


def test_a_batch_writes_only_the_recent_items_a_dashboard_can_show() -> None:
    rows = [("a" if i % 3 else "b", str(i)) for i in range(100)]
    kept = latest(rows)
    for session in ("a", "b"):
        mine = [row for row in rows if row[0] == session]
        assert [row for row in kept if row[0] == session] == mine[-RECENT_KEEP:]
    assert kept == [row for row in rows if row in kept]  # order kept
    assert latest(rows[:5]) == rows[:5]
