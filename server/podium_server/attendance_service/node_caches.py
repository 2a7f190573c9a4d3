"""What this node remembers between scans, so a batch rarely reads the store: the badge
codes it verified and the trainees' pair ledgers it wrote or read.

Both are copies that are safe to be stale or gone. A badge signature checks the same
every time. A pair ledger is decided on unread, because every decision about a pair is
confirmed by its commit (a pair write by its version, any other by `decided_on`): one
made on a copy that another node or process has moved on comes back a conflict, and is
decided again after the copy is dropped and the pair read.
"""

from __future__ import annotations

from ..attendance.checkin import BadgeCheck
from ..attendance.records import PairLedger
from ..auth.badges import BadgeError, BadgeVerifier

BADGE_CACHE_MAX = 200_000
PAIR_CACHE_MAX = 200_000

Pair = tuple[str, str]  # (session id, participant id)


class BadgeChecks:
    """Owns the node's verified badge codes: each code's signature is checked once."""

    def __init__(self, badges: BadgeVerifier) -> None:
        self.badges = badges
        self._checked: dict[str, BadgeCheck] = {}

    def verify(self, code: str) -> BadgeCheck:
        check = self._checked.get(code)
        if check is not None:
            return check
        try:
            check = BadgeCheck(self.badges.verify(code))
        except BadgeError as err:
            return BadgeCheck(None, err.reason)
        if len(self._checked) >= BADGE_CACHE_MAX:
            self._checked.clear()
        self._checked[code] = check  # a signature checks the same every time
        return check


class PairLedgers:
    """Owns the node's copies of trainees' pair ledgers, by (session, participant): the
    newest this node wrote or read. The store only confirms their version. `by_pair`
    is read directly by the batcher's loops (the hot path)."""

    def __init__(self) -> None:
        self.by_pair: dict[Pair, PairLedger] = {}

    def keep(self, pair: Pair, ledger: PairLedger) -> None:
        """A ledger the store has just confirmed; never replaces a newer copy."""
        known = self.by_pair.get(pair)
        if known is None or known.version < ledger.version:
            self.by_pair[pair] = ledger

    def drop(self, pair: Pair) -> None:
        """The copy is older than the store's (or may be): read it again next time."""
        self.by_pair.pop(pair, None)

    def clear(self) -> None:
        self.by_pair.clear()

    def trim(self) -> None:
        """Bounded: past PAIR_CACHE_MAX copies, start again (each is read when needed)."""
        if len(self.by_pair) > PAIR_CACHE_MAX:
            self.by_pair.clear()
