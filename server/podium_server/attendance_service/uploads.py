"""Uploads (`sync`): the scans a scanner made while offline, sent in one message.

Each scan of an upload goes through the scan pipeline like any other, in the order
sent; the upload is answered once every one of them is durable, each scan with its own
answer, and audited once (a retried upload, same id, is not audited again).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from ..attendance import protocol
from ..attendance.answers import Answer, Refusal, SyncAnswer
from ..attendance.checkin import Scanner, ScanRequest
from ..errors import PodiumError, TokenRevoked
from ..store.records import AuditRecord, LedgerWrite, StoredReply
from ..store.roles import AttendanceStore
from .scan_pipeline import ScanPipeline, settle
from .scan_writes import dedupe_key

log = logging.getLogger(__name__)


class Uploads:
    """Queues an upload's scans on the pipeline and answers the upload. Owns nothing
    between calls."""

    def __init__(
        self, store: AttendanceStore, scans: ScanPipeline, clock: Callable[[], float]
    ) -> None:
        self.store = store
        self.scans = scans
        self.clock = clock

    def start_sync(self, sync: protocol.Sync, scanner: Scanner) -> list[asyncio.Future[Answer]]:
        """Queue an upload's scans now, in the order sent: an adapter that calls this
        before reading its next frame keeps a socket's scans in its order. Each future
        gets its scan's answer once durable."""
        loop = asyncio.get_running_loop()
        answers: list[asyncio.Future[Answer]] = []
        for item in sync.scans:
            future: asyncio.Future[Answer] = loop.create_future()
            if isinstance(item, protocol.ProtocolError):
                future.set_result(Refusal(item.code, item.message))
            else:
                self.scans.submit(item, scanner, settle(future), via=sync.id)
            answers.append(future)
        return answers

    async def sync(
        self,
        sync: protocol.Sync,
        scanner: Scanner,
        answers: list[asyncio.Future[Answer]] | None = None,
    ) -> SyncAnswer:
        """Every scan of the upload answered, once all are durable; `answers` are those
        `start_sync` queued, if it was called."""
        if answers is None:
            answers = self.start_sync(sync, scanner)
        results: list[tuple[str | None, Answer]] = []
        settled = await asyncio.gather(*answers, return_exceptions=True)
        for item, result in zip(sync.scans, settled, strict=True):
            rid = item.request_id if isinstance(item, ScanRequest) else item.re
            if isinstance(result, TokenRevoked):  # every scan of it is refused
                raise result
            if isinstance(result, BaseException):  # this scan only; the others stand
                if isinstance(result, PodiumError):  # `unavailable`: send it again later
                    result = Refusal(result.ws_code(), result.message)
                else:
                    log.error("a scan of sync %s failed", sync.id, exc_info=result)
                    result = Refusal("internal", "internal error")
            results.append((rid, result))
        audit = AuditRecord(
            at=self.clock(),
            kind="sync",
            device=scanner.device,
            actor=scanner.actor,
            detail={"id": sync.id, "count": len(sync.scans)},
        )
        # Kept once per upload, like its scans: a retried sync (same id) is not audited
        # again. Its own key, apart from any scan's (ids hold no control characters).
        key = dedupe_key(scanner.device, f"\x1esync {sync.id}")
        note = {"type": "sync.result", "re": sync.id, "count": len(sync.scans)}
        # No token check here: its scans were checked, each by its commit, and once they
        # are recorded the upload is audited and answered whatever happens since.
        await self.store.commit([LedgerWrite(key, StoredReply(note), audit)])
        return SyncAnswer(tuple(results))
