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


class _Policy:
    """After each full or middle (generation 1) collection, freeze what survived it.

    The heap grows with the ledger cache (one `DoorScan` object per accepted scan, tens
    of thousands in a busy hour), and CPython runs a full collection each time the
    long-lived heap grew by a quarter, walking all of it: measured on the check-in
    benchmark, pauses of 10 -> 60 ms within 30 s, the cause of the ack p99. Frozen
    survivors are no longer walked; freezing after middle collections as well leaves
    the full ones nearly nothing (at 5,000 scans/s they still paused 14-27 ms, 15 times
    in 40 s, when only their own survivors were frozen). What a freeze keeps from the cyclic GC
    is what was alive at that moment and later dies in a reference cycle (a closed
    connection's objects, say); so every FULL_GC_EVERY_S the heap is unfrozen instead
    and the next full collection walks and frees all of it once.
    """

    def __init__(self, now: float) -> None:
        self.last_full_walk = now
        self.unfrozen = False  # until the next full collection has walked everything

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase != "stop":
            return
        generation = info.get("generation")
        if generation == 2:
            now = time.monotonic()
            if now - self.last_full_walk >= FULL_GC_EVERY_S:
                self.last_full_walk = now
                gc.unfreeze()
                self.unfrozen = True
            else:
                gc.freeze()
                self.unfrozen = False
        elif generation == 1 and not self.unfrozen:
            # Survivors of a middle collection are the ledger's new long-lived objects
            # too: freezing them here leaves the full collections (14-27 ms pauses each
            # at 5,000 scans/s, measured, the ack p99) almost nothing to walk.
            gc.freeze()
