"""One batch of scans, looked up and decided: what the store is asked, and each scan's
write and answer (or its wait behind a write of its pair still in flight).

A batch is at most one store read (`look_up`: only what the node does not hold --
usually nothing) and one decision pass (`decide`), which never writes: the pipeline
commits what it returns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..attendance import checkin
from ..attendance.answers import ScanAnswer
from ..attendance.checkin import BadgeCheck
from ..attendance.records import PairLedger
from ..event.holder import EventHolder
from ..event.model import Participant, valid_id
from ..store.records import LedgerLookup, LedgerWrite
from ..store.roles import AttendanceStore
from .node_caches import BadgeChecks, Pair, PairLedgers
from .pair_turns import PairTurns, QueuedScan
from .roster_cache import RosterCache
from .scan_writes import dedupe_key, scan_write


@dataclass(slots=True)
class Looked:
    """A batch's facts from the store, ready to be decided."""

    checks: list[BadgeCheck]
    keys: list[str]
    pairs: list[Pair]
    people: dict[str, Participant]
    found: LedgerLookup


@dataclass(slots=True)
class Decided:
    """A batch decided: the scans to commit, each with its write and its answer; and
    whether held scans may be released now."""

    owners: list[QueuedScan]
    writes: list[LedgerWrite]
    answers: list[ScanAnswer]
    release_held: bool = False


class BatchDecider:
    """Looks up and decides batches for the pipeline, one at a time, in order. Owns no
    state of its own: it reads and fills the node's caches (`badge_checks`,
    `pair_ledgers`) and records each pair's write in flight in `turns`."""

    def __init__(
        self,
        store: AttendanceStore,
        events: EventHolder,
        roster: RosterCache,
        badge_checks: BadgeChecks,
        pair_ledgers: PairLedgers,
        turns: PairTurns,
        clock: Callable[[], float],
    ) -> None:
        self.store = store
        self.events = events
        self.roster = roster
        self.badge_checks = badge_checks
        self.pair_ledgers = pair_ledgers
        self.turns = turns
        self.clock = clock

    async def look_up(self, batch: list[QueuedScan]) -> Looked:
        """What deciding a batch needs from the store (one lookup, no decisions)."""
        checks = [
            self.badge_checks.verify(p.request.code)
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
        cache, deciding = self.pair_ledgers.by_pair, self.turns.deciding
        # Only pairs neither cached nor in flight are read: a cached copy is decided on
        # unread (see node_caches.py). Pairs in flight wait (see pair_turns.py).
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
        return Looked(checks, keys, pairs, people, found)

    async def decide(self, batch: list[QueuedScan], looked: Looked) -> Decided:
        """Decide a looked-up batch: the scans to commit, with their writes and answers
        (none if every scan was answered or held). Held scans wait in `turns`."""
        now = self.clock()
        event = self.events.event
        checks, keys, pairs, people, found = (
            looked.checks,
            looked.keys,
            looked.pairs,
            looked.people,
            looked.found,
        )
        turns = self.turns
        cache, deciding = self.pair_ledgers.by_pair, turns.deciding
        if found.participants:  # new on the roster since the cache was loaded
            people.update(found.participants)
        # Pairs a batch ahead wrote and whose commit has not returned: their scans wait
        # for it. Deciding on that unconfirmed ledger would let a write pass its version
        # check against a same-numbered version another writer made meanwhile (an annul,
        # another node) and record a scan on a ledger it never saw.
        ahead = set(deciding)
        working: dict[Pair, PairLedger] = {}
        missing: list[Pair] = []
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
        answers: list[ScanAnswer] = []
        owners: list[QueuedScan] = []
        # The same request from the same token: one answer. Two tokens naming the same
        # device (a revoked one and its replacement) both go to the store, whose token
        # check refuses the one and whose dedupe answers the other.
        in_batch: dict[tuple[str, str], QueuedScan] = {}
        held: list[tuple[Pair, QueuedScan]] = []
        unreleased = False
        released, held_before = turns.released, turns.held
        for p, check, key in zip(batch, checks, keys, strict=True):
            was_held = p.released_from is not None and turns.unrelease(p)
            unreleased |= was_held
            first = in_batch.get((key, p.scanner.actor))
            if first is not None:  # the same request twice in one batch: one answer
                if first.followers is None:
                    first.followers = []
                first.followers.append(p)
                continue
            in_batch[(key, p.scanner.actor)] = p
            pid = check.participant_id
            if pid is not None and (ahead or released or held_before):
                pair = (p.request.session_id, pid)
                # Behind a write in flight, or behind earlier scans of the pair that
                # waited for one and are not decided yet (released, or still held). A
                # released scan, or one decided again (a conflict), is the oldest.
                older = was_held or p.tries > 0
                if pair in ahead or (not older and (pair in released or pair in held_before)):
                    held.append((pair, p))
                    continue
            write, answer = scan_write(
                event, p.request, p.scanner, p.via, check, key, people, found.revoked, working, now
            )
            if write.pair is not None:
                deciding[(write.pair.session_id, write.pair.participant_id)] = write.pair
            writes.append(write)
            answers.append(answer)
            owners.append(p)
        # Registered only now: were the batch to fail above, its held scans fail with it
        # (once), rather than also coming back later.
        for pair, p in held:
            turns.hold(pair, p)
        # A write ahead may have landed while this batch awaited; released scans decided
        # now let the scans held behind them go: the pipeline looks at once.
        return Decided(owners, writes, answers, release_held=bool(held or unreleased))
