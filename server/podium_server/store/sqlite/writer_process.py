"""The parent's handle on the SQLite writer process (`writer`): start it on first use,
send it batches, hand each batch its answers, restart it if it died."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pickle
import sys
from collections import deque

from .writes import FRAME, Raw, WireWrite

log = logging.getLogger(__name__)

# The child's module, run with `python -m` (named here, not imported: the parent has no
# use for it, and `-m` warns about a module its package already imported).
WRITER_MODULE = f"{__package__}.writer"


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
        self.command = command or [sys.executable, "-m", WRITER_MODULE]
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
                (size,) = FRAME.unpack(await stdout.readexactly(FRAME.size))
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

    async def commit(self, batch: list[WireWrite]) -> list[Raw]:
        child = await self._running()
        stdin = child.proc.stdin
        assert stdin is not None
        future: asyncio.Future[list[Raw]] = asyncio.get_running_loop().create_future()
        body = pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)
        child.waiting.append(future)
        stdin.write(FRAME.pack(len(body)) + body)
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
