"""The node's copy of one kind of revoked ids (badges or tokens), read whole.

Revocations are few and never taken back, so a node keeps the whole set and reads it
again at most every `fresh_s` instead of asking the store once per scan or per socket.
What must be exact is checked again where it is written: a commit refuses a write whose
badge or token was revoked meanwhile, on any node. This copy only saves round trips.

Sans-I/O: the caller reads the set (from a store thread, a Lua call, an async task)
and hands it in with the time; `RevokedIds` only keeps it and says when it is stale.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

# Check-in lookups answer badge revocation from the whole set, read at most this often:
# a revocation made through the same store counts at once, one made elsewhere (another
# node, `podium badge revoke`) within this time.
REVOKED_FRESH_S = 1.0


class RevokedIds:
    """Owns one kind's revoked ids and when they were read. `due` says when to read the
    set again, `generation` is taken before such a read and handed back to `read` with
    the result, `revoked` (a revocation seen here, or a commit refused for one) makes
    the next check read again."""

    def __init__(self, fresh_s: float | None = None) -> None:
        self._fresh_s = fresh_s  # None: REVOKED_FRESH_S
        self.ids: frozenset[str] = frozenset()
        self._read_at = -math.inf
        self._revocations = 0

    @property
    def fresh_s(self) -> float:
        return REVOKED_FRESH_S if self._fresh_s is None else self._fresh_s

    def due(self, now: float) -> bool:
        return now - self._read_at >= self.fresh_s

    def generation(self) -> int:
        """Taken before a read: a read that overlapped a revocation is not fresh."""
        return self._revocations

    def read(self, ids: Iterable[str], now: float, generation: int) -> None:
        """The set as read from the store, the read having begun at `now`."""
        self.ids = frozenset(ids)
        if self._revocations == generation:  # else read again next time
            self._read_at = now

    def read_failed(self, now: float) -> None:
        """Keep the last set and try again in a fifth of the time: one failed read
        (the store unreachable a moment) must not refuse what was fine a moment ago."""
        self._read_at = max(self._read_at, now - self.fresh_s * 0.8)

    def revoked(self) -> None:
        self._revocations += 1
        self._read_at = -math.inf

    def among(self, ids: Iterable[str]) -> frozenset[str]:
        return self.ids.intersection(ids)

    def __contains__(self, value: object) -> bool:
        return value in self.ids
