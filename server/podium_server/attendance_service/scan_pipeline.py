"""The scan pipeline: door scans decided and written in batches (group commit).

While one batch is being made durable, the next collects. Each batch is at most one
store read (`lookup`: only what the node has not cached -- usually nothing) and one
atomic write (`commit`); a scan is answered only after its batch's commit returned. The
commit confirms every decision: a request already answered comes back a duplicate (its
first answer is sent again), and a decision made on a trainee's ledger that has moved on
since (another node, another process, a batch ahead that failed) comes back a conflict
and is decided again. Annuls and uploads (sync) go through here too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter, deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from ..attendance import checkin, protocol
from ..attendance.checkin import BadgeCheck, Scanner, ScanRequest
from ..attendance.records import PairLedger
from ..auth.badges import BadgeError, BadgeVerifier
from ..errors import PodiumError, TokenRevoked, Unavailable
from ..event.holder import EventHolder
from ..event.model import Participant, valid_id
from ..metrics import Metrics
from ..store.base import (
    COMMITTED,
    CONFLICT,
    TOKEN_REVOKED,
    AuditRecord,
    LedgerLookup,
    LedgerWrite,
    StoredReply,
)
from ..store.roles import AttendanceLedger
from .dashboard_feed import DashboardFeed
from .roster_cache import RosterCache
from .scan_writes import dedupe_key, pair_write, scan_write
from .tasks import start_task

log = logging.getLogger(__name__)

MAX_BATCH = 1000
PAIR_CACHE_MAX = 200_000
MAX_RETRIES = 8
BADGE_CACHE_MAX = 200_000

ScanDone = Callable[[dict[str, Any] | BaseException], None]


@dataclass(slots=True)
class _Pending:
    request: ScanRequest
    scanner: Scanner
    done: ScanDone  # called once with the reply (durable) or the exception
    via: str = ""  # the sync request id, when uploaded in a sync
    tries: int = 0
    followers: list[_Pending] | None = None  # the same request again in the same batch
    # The pair it was held for, once released back to the queue (see _requeue).
    released_from: tuple[str, str] | None = None

    def finish(self, result: dict[str, Any] | BaseException) -> None:
        self.done(result)
        if self.followers:
            for f in self.followers:
                f.done(result)


@dataclass(slots=True)
class _Looked:
    """A batch's facts from the store, ready to be decided."""

    checks: list[BadgeCheck]
    keys: list[str]
    pairs: list[tuple[str, str]]
    people: dict[str, Participant]
    found: LedgerLookup


class ScanPipeline:
    """Owns the queue of scans, the batches being looked up, decided and committed, and
    this node's caches of verified badges and trainees' ledgers. Answers each scan
    through its `done` callback once durable; tells the dashboard feed what changed."""

    def __init__(
        self,
        store: AttendanceLedger,
        events: EventHolder,
        badges: BadgeVerifier,
        roster: RosterCache,
        feed: DashboardFeed,
        clock: Callable[[], float],
        metrics: Metrics,
    ) -> None:
        self.store = store
        self.events = events
        self.badges = badges
        self.roster = roster
        self.feed = feed
        self.clock = clock
        self.metrics = metrics
        self._task: asyncio.Task[None] | None = None
        self._pending: list[_Pending] = []
        self._wake = asyncio.Event()
        self._committing: list[asyncio.Task[None]] = []  # oldest first
        # Batches taken from the queue and being looked up, each with the count of store
        # outages met when it was taken (see _batch_failed).
        self._looking: deque[
            tuple[list[_Pending], asyncio.Future[_Looked] | Coroutine[Any, Any, _Looked], int]
        ] = deque()
        self._outages_met = 0  # batches failed because the store could not be reached
        self._outage_error: Exception = Unavailable()
        self._badge_cache: dict[str, BadgeCheck] = {}
        # Ledgers this node wrote or read, by pair; the store only confirms their version.
        self._pairs: dict[tuple[str, str], PairLedger] = {}
        # Ledgers written by a batch whose commit has not returned yet: later scans of
        # those pairs wait in `_held` until it has.
        self._deciding: dict[tuple[str, str], PairLedger] = {}
        # Scans of a pair whose write is still on its way to the store, held until it
        # lands (see _decide_batch).
        self._held: dict[tuple[str, str], list[_Pending]] = {}
        # Pairs with held scans released back to the queue and not decided yet: later
        # scans of those pairs are held behind them, so a trainee's scans keep their order.
        self._released: Counter[tuple[str, str]] = Counter()
        # The batch the batcher is deciding, or whose writes wait for a commit slot.
        self._in_hand: list[_Pending] = []

    def start(self) -> None:
        self._task = start_task(self._batcher(), "ledger-batcher")

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
        for held in self._held.values():
            self._pending.extend(held)
        self._held.clear()
        for p in self._pending:
            p.finish(RuntimeError("server shutting down"))
        self._pending = []

    async def scan(self, request: ScanRequest, scanner: Scanner, via: str = "") -> dict[str, Any]:
        """The `scan.result` for a scan, once it is durable (or its earlier answer)."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.submit(request, scanner, _settle(future), via)
        return await future

    def answered_at_once(self, request: ScanRequest) -> dict[str, Any] | None:
        """The reply to a scan refused before any batch -- one dated ahead of the
        server's clock -- or None. The one place that check is made."""
        if request.scanned_at is None:
            return None
        ahead = checkin.future_scan_error(request, self.clock())
        if ahead is None:
            return None
        return protocol.error_reply(request.request_id, "bad_message", ahead)

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
        self._pending.append(_Pending(request, scanner, done, via))
        self._wake.set()

    def start_sync(
        self, sync: protocol.Sync, scanner: Scanner
    ) -> list[asyncio.Future[dict[str, Any]]]:
        """Queue an upload's scans now, in the order sent: an adapter that calls this
        before reading its next frame keeps a socket's scans in its order. Each future
        gets its scan's answer once durable."""
        loop = asyncio.get_running_loop()
        answers: list[asyncio.Future[dict[str, Any]]] = []
        for item in sync.scans:
            future: asyncio.Future[dict[str, Any]] = loop.create_future()
            if isinstance(item, protocol.ProtocolError):
                future.set_result(item.reply())
            else:
                self.submit(item, scanner, _settle(future), via=sync.id)
            answers.append(future)
        return answers

    async def sync(
        self,
        sync: protocol.Sync,
        scanner: Scanner,
        answers: list[asyncio.Future[dict[str, Any]]] | None = None,
    ) -> dict[str, Any]:
        """`sync.result` once every scan of the upload is durable; `answers` are those
        `start_sync` queued, if it was called."""
        if answers is None:
            answers = self.start_sync(sync, scanner)
        results: list[dict[str, Any]] = []
        settled = await asyncio.gather(*answers, return_exceptions=True)
        for item, result in zip(sync.scans, settled, strict=True):
            if isinstance(result, TokenRevoked):  # every scan of it is refused
                raise result
            if isinstance(result, BaseException):  # this scan only; the others stand
                rid = item.request_id if isinstance(item, ScanRequest) else None
                if isinstance(result, PodiumError):  # `unavailable`: send it again later
                    result = protocol.error_reply(rid, result.ws_code(), result.message)
                else:
                    log.error("a scan of sync %s failed", sync.id, exc_info=result)
                    result = protocol.error_reply(rid, "internal", "internal error")
            results.append(result)
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
        return {"type": "sync.result", "re": sync.id, "results": results}

    def _verify_badge(self, code: str) -> BadgeCheck:
        check = self._badge_cache.get(code)
        if check is not None:
            return check
        try:
            check = BadgeCheck(self.badges.verify(code))
        except BadgeError as err:
            return BadgeCheck(None, err.reason)
        if len(self._badge_cache) >= BADGE_CACHE_MAX:
            self._badge_cache.clear()
        self._badge_cache[code] = check  # a signature checks the same every time
        return check

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
                lookup = self._look_up(batch)
                # One at a time: run it when awaited, not a loop iteration later as a task.
                running = asyncio.ensure_future(lookup) if depth > 1 else lookup
                looking.append((batch, running, self._outages_met))
            batch, looked, outages_when_taken = looking.popleft()
            self._in_hand = batch  # answered by stop() if the service stops meanwhile
            try:
                prepared = await self._decide_batch(batch, await looked)
            except Exception as exc:  # the store failed: fail this batch, keep serving
                self._in_hand = []
                self._batch_failed(batch, exc)
                continue
            # decided: its held scans are in _held now, the rest waits for a commit slot
            self._in_hand = prepared[0] if prepared is not None else []
            self._committing = [t for t in self._committing if not t.done()]
            while len(self._committing) >= max(1, self.store.commits_in_flight):
                await asyncio.wait(self._committing, return_when=asyncio.FIRST_COMPLETED)
                self._committing = [t for t in self._committing if not t.done()]
            self._in_hand = []
            if prepared is not None and self._outages_met != outages_when_taken:
                # Taken before the store failed a batch: answered now rather than made to
                # wait out the same outage's deadline once more.
                self._batch_failed(prepared[0], self._outage_error)
                continue
            if prepared is not None:
                self._committing.append(asyncio.create_task(self._commit(*prepared)))
                await asyncio.sleep(0)  # let the commit go out before the next lookup

    def _batch_failed(self, batch: list[_Pending], exc: Exception) -> None:
        outage = isinstance(exc, Unavailable)
        if outage:  # retryable, and logged once per outage by the store's OutageLog
            self._outages_met += 1
            self._outage_error = exc
        else:
            log.error("ledger batch of %d failed", len(batch), exc_info=exc)
        self._pairs.clear()
        self._deciding.clear()
        for p in batch:
            self._unrelease(p)
            p.finish(exc)
        self._requeue([])
        if outage:
            # Scans queued behind this batch would each wait out the outage's deadline
            # again, stacking: they are answered `unavailable` now, with nothing recorded.
            # Scans sent from now on try the store afresh.
            queued, self._pending = self._pending, []
            for p in queued:
                self._unrelease(p)
                p.finish(exc)

    def _requeue(self, retry: list[_Pending]) -> None:
        """Put scans to decide again, and the held scans whose pair has landed, at the
        head of the queue (they came before what is queued). A pair whose released
        scans are still undecided keeps the scans held since: they go after them."""
        released: list[_Pending] = []
        if self._held:
            ready = [
                pair
                for pair in self._held
                if pair not in self._deciding and not self._released.get(pair)
            ]
            for pair in ready:
                for p in self._held.pop(pair):
                    p.released_from = pair
                    self._released[pair] += 1
                    released.append(p)
        if retry or released:
            self._pending[:0] = retry + released
            self._wake.set()

    def _unrelease(self, p: _Pending) -> bool:
        """`p` is being decided (or failed): its pair no longer waits for it."""
        pair = p.released_from
        if pair is None:
            return False
        p.released_from = None
        self._released[pair] -= 1
        if self._released[pair] <= 0:
            del self._released[pair]
        return True

    async def _look_up(self, batch: list[_Pending]) -> _Looked:
        """What deciding a batch needs from the store (one lookup, no decisions)."""
        checks = [
            self._verify_badge(p.request.code)
            if p.request.participant is None
            else checkin.manual_check(p.request.participant)
            for p in batch
        ]
        keys = [dedupe_key(p.scanner.device, p.request.request_id) for p in batch]
        pairs = list(
            dict.fromkeys(
                (p.request.session_id, c.participant_id)
                for p, c in zip(batch, checks, strict=True)
                if c.participant_id is not None and valid_id(p.request.session_id)
            )
        )
        pids = list(dict.fromkeys(pid for _, pid in pairs))
        people = await self.roster.get()
        cache, deciding = self._pairs, self._deciding
        # Only pairs neither cached nor in flight are read: a cached copy is decided on
        # unread, since every decision about a pair is confirmed by the commit (a pair
        # write by its version, any other by `decided_on`), and one made on a copy that
        # another node or process has moved on comes back a conflict, decided again
        # after the copy is dropped and the pair read. Pairs in flight wait (see
        # _decide_batch).
        ask = [pair for pair in pairs if pair not in deciding and pair not in cache]
        found = await self.store.lookup(
            # No dedupe keys: a new request id is the rule and its commit refuses a
            # duplicate itself (answering with the stored reply), so reading every id
            # first would cost each batch a probe per scan to find the rare retry.
            [],
            ask,
            pids,
            roster_ids=[pid for pid in pids if pid not in people],
        )
        return _Looked(checks, keys, pairs, people, found)

    async def _decide_batch(
        self, batch: list[_Pending], looked: _Looked
    ) -> tuple[list[_Pending], list[LedgerWrite]] | None:
        """Decide a looked-up batch; None if every scan was answered already."""
        now = self.clock()
        event = self.events.event
        checks, keys, pairs, people, found = (
            looked.checks,
            looked.keys,
            looked.pairs,
            looked.people,
            looked.found,
        )
        cache, deciding = self._pairs, self._deciding
        if found.participants:  # new on the roster since the cache was loaded
            people.update(found.participants)
        # Pairs a batch ahead wrote and whose commit has not returned: their scans wait
        # for it. Deciding on that unconfirmed ledger would let a write pass its version
        # check against a same-numbered version another writer made meanwhile (an annul,
        # another node) and record a scan on a ledger it never saw.
        ahead = set(deciding)
        working: dict[tuple[str, str], PairLedger] = {}
        missing: list[tuple[str, str]] = []
        for pair in pairs:
            if pair in ahead:
                continue
            # What the lookup read, unless a commit since left a newer ledger cached.
            cached = cache.get(pair)
            ledger = found.pairs.get(pair)
            if ledger is None and pair in found.unchanged:
                ledger = cached
            if cached is not None and (ledger is None or cached.version > ledger.version):
                ledger = cached
            if ledger is None:
                missing.append(pair)  # decided ahead when looked up, dropped since
            else:
                working[pair] = ledger
        if missing:
            again = await self.store.lookup([], missing, [])
            working.update(again.pairs)
        writes: list[LedgerWrite] = []
        owners: list[_Pending] = []
        # The same request from the same token: one answer. Two tokens naming the same
        # device (a revoked one and its replacement) both go to the store, whose token
        # check refuses the one and whose dedupe answers the other.
        in_batch: dict[tuple[str, str], _Pending] = {}
        held: list[tuple[tuple[str, str], _Pending]] = []
        unreleased = False
        for p, check, key in zip(batch, checks, keys, strict=True):
            was_held = p.released_from is not None and self._unrelease(p)
            unreleased |= was_held
            first = in_batch.get((key, p.scanner.actor))
            if first is not None:  # the same request twice in one batch: one answer
                if first.followers is None:
                    first.followers = []
                first.followers.append(p)
                continue
            in_batch[(key, p.scanner.actor)] = p
            pid = check.participant_id
            if pid is not None and (ahead or self._released or self._held):
                pair = (p.request.session_id, pid)
                # Behind a write in flight, or behind earlier scans of the pair that
                # waited for one and are not decided yet (released, or still held). A
                # released scan, or one decided again (a conflict), is the oldest.
                older = was_held or p.tries > 0
                if pair in ahead or (not older and (pair in self._released or pair in self._held)):
                    held.append((pair, p))
                    continue
            write = scan_write(
                event, p.request, p.scanner, p.via, check, key, people, found.revoked, working, now
            )
            if write.pair is not None:
                deciding[(write.pair.session_id, write.pair.participant_id)] = write.pair
            writes.append(write)
            owners.append(p)
        # Registered only now: were the batch to fail above, its held scans fail with it
        # (once), rather than also coming back later.
        for pair, p in held:
            self._held.setdefault(pair, []).append(p)
        if held or unreleased:
            # a write ahead may have landed while this batch awaited; released scans
            # decided now let the scans held behind them go
            self._requeue([])
        return (owners, writes) if writes else None

    async def _commit(self, owners: list[_Pending], writes: list[LedgerWrite]) -> None:
        cache, deciding = self._pairs, self._deciding
        try:
            results = await self.store.commit(writes)
            if len(results) != len(writes):  # a store bug; never pair answers up wrongly
                raise RuntimeError(f"the store answered {len(results)} of {len(writes)} writes")
        except Exception as exc:
            self._batch_failed(owners, exc)
            return
        touched: set[str] = set()
        retry: list[_Pending] = []
        committed = duplicates = 0
        outcomes: Counter[str] = Counter()
        for p, w, res in zip(owners, writes, results, strict=True):
            pair = (w.pair.session_id, w.pair.participant_id) if w.pair is not None else None
            if pair is not None and deciding.get(pair) is w.pair:
                del deciding[pair]  # no later batch built on it
            if res.status == COMMITTED:
                p.finish(w.stored.reply)
                committed += 1
                outcomes[w.audit.detail["outcome"]] += 1
                if pair is not None and w.pair is not None:
                    known = cache.get(pair)
                    if known is None or known.version < w.pair.version:  # never go back
                        cache[pair] = w.pair
                    touched.add(pair[0])
            elif res.status == TOKEN_REVOKED:
                p.finish(TokenRevoked())
            elif res.status == CONFLICT:
                read = pair or (w.decided_on[:2] if w.decided_on is not None else None)
                if read is not None:
                    cache.pop(read, None)  # older than the store's: read it again
                p.tries += 1
                if p.tries > MAX_RETRIES:
                    p.finish(RuntimeError("scan kept conflicting"))
                else:
                    if read is not None:  # later scans of the pair wait behind it
                        p.released_from = read
                        self._released[read] += 1
                    retry.append(p)
            else:  # a retry of a request recorded before: its first answer again
                assert res.stored is not None
                p.finish(res.stored.reply)
                duplicates += 1
        if len(cache) > PAIR_CACHE_MAX:
            cache.clear()
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

    async def annul(self, request: protocol.Annul, scanner: Scanner) -> dict[str, Any]:
        """`annul.result`, or an `error` (not_found / forbidden) for the adapter to send."""
        key = dedupe_key(scanner.device, request.id)
        target_key = dedupe_key(scanner.device, request.scan_id)
        for _ in range(MAX_RETRIES):
            now = self.clock()
            # A retry (this id answered before) is decided again too: its commit answers
            # it with the first answer, unless its token is revoked by then.
            first = await self.store.lookup([target_key], [], [])
            target = first.replies.get(target_key)
            pair: PairLedger | None = None
            if target is not None and target.session_id and target.participant_id:
                pair_key = (target.session_id, target.participant_id)
                pair = (await self.store.lookup([], [pair_key], [])).pairs[pair_key]
            decision = checkin.decide_annul(pair, request.scan_id, scanner.device, now)
            if decision.outcome == checkin.ANNULLED:
                reply: dict[str, Any] = {
                    "type": "annul.result",
                    "re": request.id,
                    "scan_id": request.scan_id,
                    "outcome": "annulled",
                }
            else:
                reply = protocol.error_reply(request.id, decision.outcome, decision.reason)
            audit = AuditRecord(
                at=now,
                kind="annul",
                device=scanner.device,
                actor=scanner.actor,
                detail={"id": request.id, "scan_id": request.scan_id, "outcome": decision.outcome},
            )
            new_pair = decision.new_pair
            if new_pair is None:
                write = LedgerWrite(key, StoredReply(reply), audit, token=scanner.actor)
            else:
                recent = {
                    "scan_id": request.scan_id,
                    "participant": new_pair.participant_id,
                    "direction": "annulled",
                    "at": now,
                    "device": scanner.device,
                }
                assert decision.scan is not None
                annulled = ((decision.scan.scan_id, decision.scan.device),)
                write = pair_write(
                    key, reply, audit, new_pair, now, recent, annulled=annulled, token=scanner.actor
                )
            (res,) = await self.store.commit([write])
            if new_pair is not None:
                # The batcher's copy is older now (or, on a conflict, was): drop it, so
                # the next scan of this pair reads it.
                self._pairs.pop((new_pair.session_id, new_pair.participant_id), None)
            if res.status == TOKEN_REVOKED:
                raise TokenRevoked()
            if res.status == CONFLICT:
                continue
            if res.stored is not None:
                return res.stored.reply
            if new_pair is not None:
                await self.feed.changed({new_pair.session_id})
            return reply
        raise RuntimeError("annul kept conflicting")


def _settle(future: asyncio.Future[dict[str, Any]]) -> ScanDone:
    """A scan's `done` callback that settles `future` (once) with its answer."""

    def done(result: dict[str, Any] | BaseException) -> None:
        if future.done():
            return
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)

    return done
