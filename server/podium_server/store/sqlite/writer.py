"""The SQLite writer process: commits ledger batches sent down its stdin.

A check-in batch's commit is a handful of `executemany` calls; on the event loop they
were a fifth of the server's main thread at full load, and on a thread they are worse
(each statement hands the GIL back and waits for the busy loop to return it). So a file
database commits in a child process of its own: the loop sends the batch's rows down a
pipe, this process inserts them, COMMITs (the fsync) and answers, and the loop serves
sockets meanwhile, on the other core. `writer_process.WriterProcess` starts and talks
to it; run as `python -m podium_server.store.sqlite.writer DB CHECKPOINT_PAGES`.

The rows travel pickled: this process is our own, started from our own interpreter,
and reads nothing else.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import sqlite3
import sys
from typing import Any, BinaryIO

from .commit import commit_rows
from .reply_index import ReplyIndex
from .schema import connect
from .writes import FRAME, PlainWrite, Raw, named


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
        while len(self.buffer) - at >= FRAME.size:
            (size,) = FRAME.unpack_from(self.buffer, at)
            if len(self.buffer) - at - FRAME.size < size:
                break
            frames.append(bytes(self.buffer[at + FRAME.size : at + FRAME.size + size]))
            at += FRAME.size + size
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
                flat = named([w for batch in batches for w in batch])
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
                out += FRAME.pack(len(body)) + body
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
            return ("d", flat[raw[1]].reply)
        return ("i", raw[1] - offset)
    return raw


def main() -> int:
    # Ctrl-C in a terminal reaches the whole process group: the server shuts down
    # gracefully and still needs this process to finish the commits under way; it
    # stops when the server closes its stdin.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if len(sys.argv) != 3:
        print("usage: python -m podium_server.store.sqlite.writer DB CHECKPOINT_PAGES")
        return 2
    serve(sys.argv[1], int(sys.argv[2]), sys.stdin.fileno(), sys.stdout.buffer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
