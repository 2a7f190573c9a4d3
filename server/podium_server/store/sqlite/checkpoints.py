"""WAL checkpoints of a SQLite file, run in the background, off the commit path."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor

from .schema import connect_reader

log = logging.getLogger(__name__)

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


class BackgroundCheckpoints:
    """Owns the checkpoint connection and its thread for one database file, and when
    the last checkpoint started."""

    def __init__(self, connection: sqlite3.Connection, executor: ThreadPoolExecutor) -> None:
        self._connection = connection
        self._executor = executor
        self.running: asyncio.Future[None] | None = None
        self._started_at = 0.0

    @classmethod
    async def open(cls, path: str) -> BackgroundCheckpoints:
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-checkpoint")
        loop = asyncio.get_running_loop()
        return cls(await loop.run_in_executor(executor, connect_reader, path), executor)

    def soon(self) -> None:
        """After a commit: start a PASSIVE checkpoint on the checkpoint thread, unless
        one is running or ran less than CHECKPOINT_EVERY_S ago. It copies committed WAL
        pages into the database file concurrently with the writer's commits (it never
        takes the write lock), so no COMMIT waits for it."""
        if self.running is not None and not self.running.done():
            return
        now = time.monotonic()
        if now - self._started_at < CHECKPOINT_EVERY_S:
            return
        self._started_at = now
        self.running = asyncio.get_running_loop().run_in_executor(
            self._executor, _checkpoint, self._connection
        )
        self.running.add_done_callback(_checkpoint_done)

    async def close(self) -> None:
        if self.running is not None:
            with contextlib.suppress(Exception):
                await self.running
            self.running = None
        await asyncio.get_running_loop().run_in_executor(self._executor, self._connection.close)
        self._executor.shutdown(wait=True)


def _checkpoint(c: sqlite3.Connection) -> None:
    c.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


def _checkpoint_done(future: asyncio.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("background WAL checkpoint failed", exc_info=future.exception())
