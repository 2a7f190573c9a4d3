"""The scan pipeline: door scans decided and written in batches (group commit).

While one batch is being made durable, the next collects. Each batch is at most one
store read (`lookup`: only what the node has not cached -- usually nothing) and one
atomic write (`commit`); a scan is answered only after its batch's commit returned. The
commit confirms every decision: a request already answered comes back a duplicate (its
first answer is sent again), and a decision made on a trainee's ledger that has moved on
since (another node, another process, a batch ahead that failed) comes back a conflict
and is decided again.

A scan's path: `submit` queues it; `_batcher` takes a batch, which the decider
(batch_decisions.py) looks up -- reading only what the node does not hold
(node_caches.py) -- and decides, each scan by scan_writes.scan_write unless it waits
behind a write of its pair in flight (pair_turns.py); `_commit` writes the batch and
calls each scan's `done` with its answer. Uploads (uploads.py) queue their scans here;
annuls (annul.py) commit on their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter, deque
from collections.abc import Callable, Coroutine
from typing import Any

from ..attendance import checkin, protocol
from ..attendance.answers import Answer, Refusal
from ..attendance.checkin import Scanner, ScanRequest
from ..errors import TokenRevoked, Unavailable
from ..event.holder import EventHolder
from ..metrics import Metrics
from ..store.records import COMMITTED, CONFLICT, TOKEN_REVOKED
from ..store.roles import AttendanceStore
from .batch_decisions import BatchDecider, Decided, Looked
from .dashboard_feed import DashboardFeed
from .node_caches import BadgeChecks, PairLedgers
from .pair_turns import PairTurns, QueuedScan, ScanDone
from .roster_cache import RosterCache
from .tasks import start_task

log = logging.getLogger(__name__)

MAX_BATCH = 1000
MAX_RETRIES = 8  # a scan (or annul) that conflicts more often than this fails


class ScanPipeline:
    """Owns the queue of scans and the batches being looked up, decided and committed.
    Answers each scan through its `done` callback once durable; tells the dashboard
    feed what changed. Its parts: the decider, the node's pair ledgers (`pair_ledgers`,
    which annuls drop copies from) and the pairs' turns (`turns`)."""

    def __init__(
        self,
        store: AttendanceStore,
        events: EventHolder,
        badges: BadgeChecks,
        roster: RosterCache,
        feed: DashboardFeed,
        clock: Callable[[], float],
        metrics: Metrics,
    ) -> None:
        self.store = store
        self.events = events
        self.pair_ledgers = PairLedgers()
        self.turns = PairTurns()
        self.decider = BatchDecider(
            store, events, roster, badges, self.pair_ledgers, self.turns, clock
        )
        self.feed = feed
        self.clock = clock
        self.metrics = metrics
        self._task: asyncio.Task[None] | None = None
        self._pending: list[QueuedScan] = []
        self._wake = asyncio.Event()
        self._committing: list[asyncio.Task[None]] = []  # oldest first
        # Batches taken from the queue and being looked up, each with the count of store
        # outages met when it was taken (see _batch_failed).
        self._looking: deque[
            tuple[list[QueuedScan], asyncio.Future[Looked] | Coroutine[Any, Any, Looked], int]
        ] = deque()
        self._outages_met = 0  # batches failed because the store could not be reached
        self._outage_error: Exception = Unavailable()
        # The batch the batcher is deciding, or whose writes wait for a commit slot.
        self._in_hand: list[QueuedScan] = []

    def start(self) -> None:
        self._task = start_task(self._batcher(), "scan-batcher")

    async def stop(self) -> None:
        """Answer every scan taken: commits under way finish (before the store closes);
        the rest is answered with an error."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        if self._committing:
            # Commits under way finish (and answer their scans) before the store closes.
            await asyncio.wait(self._committing)
            self._committing = []
        for batch, looked, _ in self._looking:  # taken from the queue, not yet decided
            if isinstance(looked, asyncio.Future):
                looked.cancel()
            else:
                looked.close()
            self._pending.extend(batch)
        self._looking.clear()
        self._pending.extend(self._in_hand)  # taken, not yet handed to a commit
        self._in_hand = []
        self._pending.extend(self.turns.take_held())
        for p in self._pending:
            p.finish(RuntimeError("server shutting down"))
        self._pending = []

    async def scan(self, request: ScanRequest, scanner: Scanner, via: str = "") -> Answer:
        """A scan's answer, once it is durable (or its earlier answer)."""
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self.submit(request, scanner, settle(future), via)
        return await future

    def answered_at_once(self, request: ScanRequest) -> Refusal | None:
        """The refusal of a scan refused before any batch -- one dated ahead of the
        server's clock -- or None. The one place that check is made."""
        if request.scanned_at is None:
            return None
        ahead = checkin.future_scan_error(request, self.clock())
        if ahead is None:
            return None
        return Refusal("bad_message", ahead)

    def submit(self, request: ScanRequest, scanner: Scanner, done: ScanDone, via: str = "") -> None:
        """Queue a scan for the next batch; `done` gets its reply once durable (no task,
        no future: the adapter's hot path). A scan `answered_at_once` is, with an error."""
        early = self.answered_at_once(request)
        if early is not None:
            done(early)
            return
        self.enqueue(request, scanner, done, via)

    def enqueue(
        self, request: ScanRequest, scanner: Scanner, done: ScanDone, via: str = ""
    ) -> None:
        """`submit` for a scan its caller found not `answered_at_once`."""
        self._pending.append(QueuedScan(request, scanner, done, via))
        self._wake.set()

    async def _batcher(self) -> None:
        """Batches overlap: while one is being committed, the next is looked up and
        decided (against the decisions of those ahead, which their commits' version
        checks confirm or turn into conflicts to decide again). Up to
        `store.lookups_in_flight` lookups and `store.commits_in_flight` commits are
        outstanding at once, so the loop does not idle waiting for one reply; batches
        are still decided one at a time, in order. Each scan is answered only after its
        own commit returned."""
        looking = self._looking
        while True:
            if not self._pending and not looking:
                await self._wake.wait()
                self._wake.clear()
                continue
            depth = max(1, self.store.lookups_in_flight)
            while self._pending and len(looking) < depth:
                batch = self._pending[:MAX_BATCH]
                del self._pending[:MAX_BATCH]
                lookup = self.decider.look_up(batch)
                # One at a time: run it when awaited, not a loop iteration later as a task.
                running = asyncio.ensure_future(lookup) if depth > 1 else lookup
                looking.append((batch, running, self._outages_met))
            batch, looked, outages_when_taken = looking.popleft()
            self._in_hand = batch  # answered by stop() if the service stops meanwhile
            try:
                decided = await self.decider.decide(batch, await looked)
            except Exception as exc:  # the store failed: fail this batch, keep serving
                self._in_hand = []
                self._batch_failed(batch, exc)
                continue
            if decided.release_held:
                self._requeue([])
            prepared = decided if decided.writes else None
            # decided: its held scans are held in `turns` now, the rest waits for a commit slot
            self._in_hand = prepared.owners if prepared is not None else []
            self._committing = [t for t in self._committing if not t.done()]
            while len(self._committing) >= max(1, self.store.commits_in_flight):
                await asyncio.wait(self._committing, return_when=asyncio.FIRST_COMPLETED)
                self._committing = [t for t in self._committing if not t.done()]
            self._in_hand = []
            if prepared is not None and self._outages_met != outages_when_taken:
                # Taken before the store failed a batch: answered now rather than made to
                # wait out the same outage's deadline once more.
                self._batch_failed(prepared.owners, self._outage_error)
                continue
            if prepared is not None:
                self._committing.append(
                    asyncio.create_task(self._commit(prepared), name="scan-commit")
                )
                await asyncio.sleep(0)  # let the commit go out before the next lookup

    def _batch_failed(self, batch: list[QueuedScan], exc: Exception) -> None:
        outage = isinstance(exc, Unavailable)
        if outage:  # retryable, and logged once per outage by the store's OutageLog
            self._outages_met += 1
            self._outage_error = exc
        else:
            log.error("scan batch of %d failed", len(batch), exc_info=exc)
        self.pair_ledgers.clear()
        self.turns.forget_writes()
        for p in batch:
            self.turns.unrelease(p)
            p.finish(exc)
        self._requeue([])
        if outage:
            # Scans queued behind this batch would each wait out the outage's deadline
            # again, stacking: they are answered `unavailable` now, with nothing recorded.
            # Scans sent from now on try the store afresh.
            queued, self._pending = self._pending, []
            for p in queued:
                self.turns.unrelease(p)
                p.finish(exc)

    def _requeue(self, retry: list[QueuedScan]) -> None:
        """Put scans to decide again, and the held scans whose pair has landed, at the
        head of the queue (they came before what is queued)."""
        released = self.turns.ready()
        if retry or released:
            self._pending[:0] = retry + released
            self._wake.set()

    async def _commit(self, decided: Decided) -> None:
        owners, writes = decided.owners, decided.writes
        ledgers, turns = self.pair_ledgers, self.turns
        try:
            results = await self.store.commit(writes)
            if len(results) != len(writes):  # a store bug; never pair answers up wrongly
                raise RuntimeError(f"the store answered {len(results)} of {len(writes)} writes")
        except Exception as exc:
            self._batch_failed(owners, exc)
            return
        touched: set[str] = set()
        retry: list[QueuedScan] = []
        committed = duplicates = 0
        outcomes: Counter[str] = Counter()
        for p, w, answer, res in zip(owners, writes, decided.answers, results, strict=True):
            pair = (w.pair.session_id, w.pair.participant_id) if w.pair is not None else None
            if pair is not None and w.pair is not None:
                turns.landed(pair, w.pair)
            if res.status == COMMITTED:
                p.finish(answer)
                committed += 1
                outcomes[answer.outcome] += 1
                if pair is not None and w.pair is not None:
                    ledgers.keep(pair, w.pair)
                    touched.add(pair[0])
            elif res.status == TOKEN_REVOKED:
                p.finish(TokenRevoked())
            elif res.status == CONFLICT:
                read = pair or (w.decided_on[:2] if w.decided_on is not None else None)
                if read is not None:
                    ledgers.drop(read)  # older than the store's: read it again
                p.tries += 1
                if p.tries > MAX_RETRIES:
                    p.finish(RuntimeError("scan kept conflicting"))
                else:
                    if read is not None:  # later scans of the pair wait behind it
                        turns.release(p, read)
                    retry.append(p)
            else:  # a retry of a request recorded before: its first answer again
                assert res.stored is not None
                p.finish(_first_answer(res.stored.reply))
                duplicates += 1
        ledgers.trim()
        self.metrics.inc("podium_scans_total", committed, "scans recorded")
        if duplicates:
            self.metrics.inc("podium_scans_duplicate_total", duplicates, "scans answered again")
        for outcome, n in outcomes.items():
            self.metrics.inc(f"podium_scan_outcome_{outcome}_total", n)
        self._requeue(retry)
        if retry:
            self.metrics.inc("podium_scan_conflicts_total", len(retry), "scans decided again")
        if touched:
            self.feed.changed_soon(touched)


def _first_answer(stored: dict[str, Any]) -> Answer | BaseException:
    """A retried request's first answer, as kept in the store."""
    try:
        return protocol.answer_from_frame(stored)
    except (ValueError, KeyError, TypeError) as err:  # never sent as it is: say so
        return RuntimeError(f"unreadable stored answer: {err}")


def settle(future: asyncio.Future[Answer]) -> ScanDone:
    """A scan's `done` callback that settles `future` (once) with its answer."""

    def done(result: Answer | BaseException) -> None:
        if future.done():
            return
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)

    return done
