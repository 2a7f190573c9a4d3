"""The server process's garbage-collection policy (set by the entry point, like logging).

The check-in ledger keeps tens of thousands of long-lived objects in memory; CPython's
default full collections walk all of them, and those pauses were the ack p99 on
`bench/checkins.py`. A process-wide setting, so it is installed once by `podium serve`
and never as a side effect of building an app (tests and embedders keep the default).
"""

from __future__ import annotations

import gc
import time

# How often the whole heap is walked by one full collection anyway (see `_Policy`).
FULL_GC_EVERY_S = 600.0
# Every closed connection leaves its objects in reference cycles (asyncio's transport
# holds a bound method of itself; aiohttp's handler and WebSocket response point at each
# other), ~10-20 KB each. Frozen while the connection was open, they would wait for the
# FULL_GC_EVERY_S thaw: after this many closes the thaw comes early, but never more often
# than every CHURN_WALK_MIN_S (a full walk costs tens of ms on a big ledger).
CHURN_WALK_AFTER_CLOSES = 200
CHURN_WALK_MIN_S = 1.0


def install() -> None:
    """Once per process: move what is alive now (the imported libraries -- aiohttp,
    aiortc, av, cryptography -- the event, the app) out of the cyclic GC's reach, and
    keep doing so after every full collection. Frozen objects are still freed by
    reference counting."""
    if any(isinstance(callback, _Policy) for callback in gc.callbacks):
        return
    gc.collect()
    gc.freeze()
    gc.callbacks.append(_Policy(time.monotonic()))


def connection_closed() -> None:
    """Count a closed connection; once enough have closed, thaw and walk the heap now
    (from the caller's loop turn, not inside a collection). Nothing if not installed."""
    for callback in gc.callbacks:
        if isinstance(callback, _Policy):
            callback.closed_since_walk += 1
            now = time.monotonic()
            if callback.churn_walk_due(now):
                callback.thaw(now)
                gc.collect()  # walks everything; the callback freezes what survived
            return


class _Policy:
    """After each full or middle (generation 1) collection, freeze what survived it.

    The heap grows with the node's cache of pair ledgers (one `DoorScan` object per accepted scan, tens
    of thousands in a busy hour), and CPython runs a full collection each time the
    long-lived heap grew by a quarter, walking all of it: measured on the check-in
    benchmark, pauses of 10 -> 60 ms within 30 s, the cause of the ack p99. Frozen
    survivors are no longer walked; freezing after middle collections as well leaves
    the full ones nearly nothing (at 5,000 scans/s they still paused 14-27 ms, 15 times
    in 40 s, when only their own survivors were frozen). What a freeze keeps from the cyclic GC
    is what was alive at that moment and later dies in a reference cycle (a closed
    connection's objects, say); so every FULL_GC_EVERY_S, or once
    CHURN_WALK_AFTER_CLOSES connections have closed (at most every CHURN_WALK_MIN_S),
    the heap is unfrozen instead and a full collection walks and frees all of it once
    (the next natural one; after closes, one run right away): what closed connections
    leave is bounded by that many closes or that long, not by ten minutes.
    """

    def __init__(self, now: float) -> None:
        self.last_full_walk = now
        self.unfrozen = False  # until the next full collection has walked everything
        self.closed_since_walk = 0

    def churn_walk_due(self, now: float) -> bool:
        return (
            self.closed_since_walk >= CHURN_WALK_AFTER_CLOSES
            and now - self.last_full_walk >= CHURN_WALK_MIN_S
        )

    def thaw(self, now: float) -> None:
        self.last_full_walk = now
        self.closed_since_walk = 0
        gc.unfreeze()
        self.unfrozen = True

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase != "stop":
            return
        generation = info.get("generation")
        if generation == 2:
            now = time.monotonic()
            if self.unfrozen:
                self.unfrozen = False  # this one walked everything: keep what survived
                gc.freeze()
            elif now - self.last_full_walk >= FULL_GC_EVERY_S:
                self.thaw(now)  # the next full collection walks everything
            else:
                gc.freeze()
        elif generation == 1 and not self.unfrozen:
            # Survivors of a middle collection are the pair ledgers' new long-lived objects
            # too: freezing them here leaves the full collections (14-27 ms pauses each
            # at 5,000 scans/s, measured, the ack p99) almost nothing to walk.
            gc.freeze()
