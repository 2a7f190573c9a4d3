"""The SQLite writer process: real files, a real child process."""

from __future__ import annotations

import asyncio
import io
import os
import pickle
import signal
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlite_rows import ledger_write, plain, rows

from podium_server.store.records import (
    COMMITTED,
    DUPLICATE,
)
from podium_server.store.sqlite import SqliteStore, WriterError
from podium_server.store.sqlite.writer import serve
from podium_server.store.sqlite.writer_process import WriterProcess
from podium_server.store.sqlite.writes import COMMITTED_RAW, FRAME, PlainWrite


def frames(*batches: list[PlainWrite]) -> bytes:
    out = b""
    for batch in batches:
        body = pickle.dumps(batch)
        out += FRAME.pack(len(body)) + body
    return out


def answers(raw: bytes) -> list[tuple[str, object]]:
    out = []
    stream = io.BytesIO(raw)
    while head := stream.read(FRAME.size):
        (size,) = FRAME.unpack(head)
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
    os.write(write, frames([("bad",)]))  # type: ignore[list-item]  # not a write's 10 fields
    out = io.BytesIO()
    serve_thread = threading.Thread(target=serve, args=(db, 1000, read, out))
    serve_thread.start()
    time.sleep(0.2)  # the bad batch alone in its transaction; then a good one
    os.write(write, frames([plain("g1", "p1")]))
    os.close(write)
    serve_thread.join(timeout=10)
    os.close(read)
    [(status, message), after] = answers(out.getvalue())
    assert status == "error" and "TypeError" in str(message)
    assert after == ("ok", [COMMITTED_RAW])
    assert rows(db, "SELECT reply_key FROM audit") == [("g1",)]


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


async def test_an_in_memory_store_commits_in_place() -> None:
    """Nothing to share with a process: the same commit runs on the loop and answers
    alike (an in-batch repeat, then a retry, both answered with the first reply)."""
    store = SqliteStore(":memory:")
    await store.open()
    try:
        assert store._writer is None
        first = ledger_write("k1", "p1")
        results = await store.commit([first, ledger_write("k2", "p2"), first])
        assert [r.status for r in results] == [COMMITTED, COMMITTED, DUPLICATE]
        [again] = await store.commit([first])
        assert again.status == DUPLICATE and again.stored == first.stored
        assert [s.scan_id for s in await store.list_scans()] == ["k1", "k2"]
        looked = await store.lookup([], [("s1", "p1")], ["p1"])
        assert looked.pairs[("s1", "p1")].version == 1
    finally:
        await store.close()
