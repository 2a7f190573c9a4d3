"""A queued scan, and the order a trainee's scans are decided in while writes are in
flight.

Batches overlap: one is decided while those ahead are still being committed. A scan of
a pair whose write has not landed yet is held rather than decided on that unconfirmed
ledger (which would let a write pass its version check against a same-numbered version
another writer made meanwhile, and record a scan on a ledger it never saw). Once the
write lands, the held scans are released back to the head of the queue; until they are
decided, later scans of that pair wait behind them, so a trainee's scans keep their
order. A scan decided again after a conflict goes first the same way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from ..attendance.answers import Answer
from ..attendance.checkin import Scanner, ScanRequest
from ..attendance.records import PairLedger
from .node_caches import Pair

# Called once with a scan's answer (once durable) or the exception that stopped it.
ScanDone = Callable[[Answer | BaseException], None]


@dataclass(slots=True)
class QueuedScan:
    """A scan taken for deciding, with whom to answer."""

    request: ScanRequest
    scanner: Scanner
    done: ScanDone
    via: str = ""  # the sync request id, when uploaded in a sync
    tries: int = 0
    followers: list[QueuedScan] | None = None  # the same request again in the same batch
    # The pair it was held for, once released back to the queue.
    released_from: Pair | None = None

    def finish(self, result: Answer | BaseException) -> None:
        self.done(result)
        if self.followers:
            for f in self.followers:
                f.done(result)


class PairTurns:
    """Owns which pairs have a write in flight (`deciding`: the ledger it wrote), the
    scans held behind them (`held`) and the pairs whose released scans are not decided
    yet (`released`). The batcher reads the three directly in its per-scan loop."""

    def __init__(self) -> None:
        self.deciding: dict[Pair, PairLedger] = {}
        self.held: dict[Pair, list[QueuedScan]] = {}
        self.released: Counter[Pair] = Counter()

    def hold(self, pair: Pair, scan: QueuedScan) -> None:
        self.held.setdefault(pair, []).append(scan)

    def landed(self, pair: Pair, ledger: PairLedger) -> None:
        """The write of `ledger` returned: unless a later batch built on it, its pair is
        free."""
        if self.deciding.get(pair) is ledger:
            del self.deciding[pair]

    def ready(self) -> list[QueuedScan]:
        """The held scans whose pair has landed, released (oldest first). A pair whose
        released scans are still undecided keeps the scans held since: they go after."""
        out: list[QueuedScan] = []
        if not self.held:
            return out
        free = [
            pair for pair in self.held if pair not in self.deciding and not self.released.get(pair)
        ]
        for pair in free:
            for scan in self.held.pop(pair):
                self.release(scan, pair)
                out.append(scan)
        return out

    def release(self, scan: QueuedScan, pair: Pair) -> None:
        """`scan` goes back to the queue; later scans of `pair` wait behind it."""
        scan.released_from = pair
        self.released[pair] += 1

    def unrelease(self, scan: QueuedScan) -> bool:
        """`scan` is being decided (or failed): its pair no longer waits for it. False if
        it was not a released scan."""
        pair = scan.released_from
        if pair is None:
            return False
        scan.released_from = None
        self.released[pair] -= 1
        if self.released[pair] <= 0:
            del self.released[pair]
        return True

    def forget_writes(self) -> None:
        """A batch failed: no write in flight is to be built on any more."""
        self.deciding.clear()

    def take_held(self) -> list[QueuedScan]:
        """Every held scan, for answering at stop."""
        out = [scan for held in self.held.values() for scan in held]
        self.held.clear()
        return out
