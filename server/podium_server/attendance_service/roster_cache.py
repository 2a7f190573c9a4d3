"""The roster as this node caches it, and the search index built from it.

Dashboards (the `registered` count), staff search and the scan pipeline (who is on the
roster) all read it. It is reloaded at most every ROSTER_TTL_S, and at once after another
node says the roster changed (see DashboardFeed); the search index is built again from
it, in a thread, on the first search after a reload.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..attendance import checkin
from ..attendance.checkin import Scanner
from ..attendance.search import SearchIndex, result_json
from ..event.holder import EventHolder
from ..event.model import Participant
from ..store.roles import EventRoster

ROSTER_TTL_S = 10.0


@dataclass
class _Cached:
    at: float = -1e18
    by_id: dict[str, Participant] = field(default_factory=dict)
    index: SearchIndex | None = None  # built on first search


class RosterCache:
    """Owns this node's copy of the roster and its search index. Reads the store,
    writes nothing; `timer` is a monotonic clock (the TTL must not jump with the wall
    clock)."""

    def __init__(
        self, store: EventRoster, events: EventHolder, timer: Callable[[], float] = time.monotonic
    ) -> None:
        self.store = store
        self.events = events
        self.timer = timer
        self._cached = _Cached()
        self._lock = asyncio.Lock()
        self._index_lock = asyncio.Lock()
        self._last_index: SearchIndex | None = None  # entries reused by the next build

    def invalidate(self) -> None:
        """Reload on next use (the roster changed, or notices of it were lost)."""
        self._cached = _Cached()

    async def get(self, fresh: bool = False) -> dict[str, Participant]:
        """The roster, cached for a few seconds (dashboards and search read it often)."""
        if fresh or self.timer() - self._cached.at > ROSTER_TTL_S:
            async with self._lock:  # one reload at a time, the others wait for it
                if fresh or self.timer() - self._cached.at > ROSTER_TTL_S:
                    people = await self.store.list_participants()
                    self._cached = _Cached(self.timer(), {p.id: p for p in people})
        return self._cached.by_id

    async def search(self, query: str, scanner: Scanner) -> list[dict[str, Any]]:
        """`search.result`'s participants: matches among those registered for the
        sessions this scanner may check people into -- everyone on the roster, for a
        token that may scan at least one door session; nobody for one that may scan
        none (an online-only session's). No badge code, no e-mail (see attendance.search)."""
        event = self.events.event
        sessions = event.sessions if event is not None else ()
        if not any(checkin.check_session(event, scanner, s.id) for s in sessions):
            return []
        index = await self.search_index()
        return [result_json(p) for p in index.find(query)]

    async def search_index(self) -> SearchIndex:
        """The roster's search index, built again (from the last one: see SearchIndex)
        when the roster is reloaded; in a thread, so a first build for a large roster
        does not hold up the scans."""
        await self.get()
        cache = self._cached
        if cache.index is None:
            async with self._index_lock:
                if cache.index is None:
                    people = list(cache.by_id.values())
                    cache.index = await asyncio.to_thread(SearchIndex, people, self._last_index)
                    self._last_index = cache.index
        return cache.index
