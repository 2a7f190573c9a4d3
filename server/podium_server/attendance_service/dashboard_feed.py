"""Dashboards' live feed: which sessions changed, and pushing their fresh figures.

Every commit marks its sessions dirty here and, through the store's pub/sub, on every
other node; a coalescer pushes at most one update per UPDATE_INTERVAL_S to each view
(every session, or one), read fresh from the store. Session ends, roster imports and a
programme loaded on any node mark sessions dirty too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..attendance import checkin, protocol
from ..event.holder import EventHolder
from ..metrics import Metrics
from ..store.bus import MessageBus, sessions_changed
from ..store.roles import Store
from .roster_cache import RosterCache
from .tasks import start_task

log = logging.getLogger(__name__)

UPDATE_INTERVAL_S = 0.1  # a dashboard gets at most 10 updates a second
SESSION_END_LOOK_S = 1.0  # how often the session ends are looked at (see _session_ends)


@dataclass(eq=False)
class DashboardSubscriber:
    """One organizer's live view; `session` None means every session."""

    session: str | None
    push: Callable[[dict[str, Any], str], None]  # the update, and its wire text


class DashboardFeed:
    """Owns the dashboard subscribers, the dirty sessions, the pub/sub subscription and
    the tasks that push updates. `clock` is the wall clock the figures are dated by;
    `timer` the monotonic one that paces pushes and measures their lag."""

    def __init__(
        self,
        store: Store,
        bus: MessageBus,
        events: EventHolder,
        roster: RosterCache,
        clock: Callable[[], float],
        metrics: Metrics,
        node_id: str,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.bus = bus
        self.events = events
        self.roster = roster
        self.clock = clock
        self.metrics = metrics
        self.node_id = node_id
        self.timer = timer
        self._dirty: set[str] = set()
        self._dirty_event = asyncio.Event()
        self._subscribers: set[DashboardSubscriber] = set()
        self._subscription: Any = None
        self._to_publish: set[str] = set()
        # Changed sessions not pushed to their dashboards yet, and since when (timer).
        self._dirty_since: dict[str, float] = {}
        self._publisher: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._subscription = await self.bus.subscribe()
        self._tasks = [
            start_task(self._listen(), "dashboard-pubsub"),
            start_task(self._coalescer(), "dashboard-push"),
            start_task(self._session_ends(), "dashboard-session-ends"),
        ]
        self.metrics.gauge(
            "podium_dashboard_subscribers", lambda: len(self._subscribers), "live dashboards"
        )

    async def stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.aclose()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []

    def add_subscriber(self, sub: DashboardSubscriber) -> None:
        self._subscribers.add(sub)

    def remove_subscriber(self, sub: DashboardSubscriber) -> None:
        self._subscribers.discard(sub)

    def session_ids(self, session: str | None) -> list[str]:
        event = self.events.event
        if event is None:
            return []
        return [s.id for s in event.sessions if session is None or s.id == session]

    async def counts(self, session_id: str) -> dict[str, Any]:
        """One session's dashboard figures; the store aggregates (no id sets come back)."""
        now = self.clock()
        live = await self.store.live_counts(session_id, now)
        roster = await self.roster.get()
        event = self.events.event
        session = event.session(session_id) if event is not None else None
        return {
            "registered": len(roster),
            "inside": checkin.inside_now(live.inside, session, now),
            "online": live.online,
            "attended": live.attended,
            "by_province": dict(sorted(live.by_province.items())),
            "by_org_type": dict(sorted(live.by_org_type.items())),
            "recent": list(live.recent),
        }

    async def snapshot(self, session: str | None) -> dict[str, Any]:
        ids = self.session_ids(session)
        values = await asyncio.gather(*(self.counts(s) for s in ids))
        return {"server_time": self.clock(), "sessions": dict(zip(ids, values, strict=True))}

    async def changed(self, sessions: Iterable[str]) -> None:
        sessions = set(sessions)
        self.mark_dirty(sessions)
        try:
            await self.bus.publish(sessions_changed(self.node_id, sessions))
        except Exception:
            log.exception("could not publish a dashboard update")

    def changed_soon(self, sessions: set[str]) -> None:
        """Mark dirty now; tell other nodes from a background task, one message at a time
        carrying every session changed meanwhile (the commit path does not wait on it)."""
        self.mark_dirty(sessions)
        self._to_publish.update(sessions)
        if self._publisher is None or self._publisher.done():
            self._publisher = asyncio.create_task(self._publish_changes())

    async def _publish_changes(self) -> None:
        while self._to_publish:
            sessions, self._to_publish = self._to_publish, set()
            try:
                await self.bus.publish(sessions_changed(self.node_id, sessions))
            except Exception:
                log.exception("could not publish a dashboard update")

    def mark_dirty(self, sessions: Iterable[str]) -> None:
        sessions = set(sessions)
        self._dirty.update(sessions)
        self._dirty_event.set()
        if self._subscribers:  # since when each is owed to dashboards (push lag)
            now = self.timer()
            for session in sessions:
                self._dirty_since.setdefault(session, now)

    async def _listen(self) -> None:
        assert self._subscription is not None
        async for msg in self._subscription:
            sessions = msg.get("sessions")
            if msg.get("resync"):  # notices were lost with the connection: refresh all
                self.roster.invalidate()
                event = self.events.event
                if event is not None:
                    self.mark_dirty(s.id for s in event.sessions)
                continue
            if msg.get("roster"):  # a roster import, on any node: reload on next use
                self.roster.invalidate()
                event = self.events.event
                if event is not None:  # `registered` changed on every dashboard
                    self.mark_dirty(s.id for s in event.sessions)
                continue
            if msg.get("event"):  # a programme loaded on /admin, on any node
                await self._reload_event()
                continue
            if msg.get("node") == self.node_id and self.node_id:
                continue  # our own change, already marked
            if isinstance(sessions, list):
                self.mark_dirty(s for s in sessions if isinstance(s, str))

    async def _reload_event(self) -> None:
        try:
            event = await self.store.load_event()
        except Exception:
            log.exception("could not reload the programme")
            return
        if event is not None:
            self.events.event = event
            self.mark_dirty(s.id for s in event.sessions)

    async def _session_ends(self) -> None:
        """Mark each session changed as it ends, so its dashboards see `inside` drop to 0
        then (see checkin.inside_now), not at the next scan. Looked at every
        SESSION_END_LOOK_S at most: the clock may be stepped, the programme reloaded."""
        last = self.clock()
        while True:
            now = self.clock()
            event = self.events.event
            sessions = event.sessions if event is not None else ()
            ended = [s.id for s in sessions if last < s.end_ts <= now]
            if ended:
                self.mark_dirty(ended)
            last = now
            upcoming = [s.end_ts - now for s in sessions if s.end_ts > now]
            await asyncio.sleep(min([SESSION_END_LOOK_S, *upcoming]) + 0.01)

    async def _coalescer(self) -> None:
        """Push coalesced updates, at most one per UPDATE_INTERVAL_S per view (a view:
        every session, or one). Each view keeps its own pace, so a quiet room's
        dashboard shows its change at once (leading edge) even while the main hall's
        changes keep the event-wide view at its 10 a second."""
        last: dict[str | None, float] = {}  # view -> when it was last pushed
        owed: dict[str | None, set[str]] = {}  # view -> changed sessions not pushed yet
        while True:
            now = self.timer()
            due = [last.get(v, -math.inf) + UPDATE_INTERVAL_S for v in owed]
            timeout = max(0.0, min(due) - now) if due else None
            if not self._dirty_event.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._dirty_event.wait(), timeout)
            self._dirty_event.clear()
            dirty, self._dirty = self._dirty, set()
            views = {sub.session for sub in self._subscribers}
            known = set(self.session_ids(None))
            for view in views:
                mine = {s for s in dirty if s in known and view in (None, s)}
                if mine:
                    owed.setdefault(view, set()).update(mine)
            for view in [v for v in owed if v not in views]:
                del owed[view]  # nobody watches it any more
            for session in dirty - set().union(*owed.values()):
                self._dirty_since.pop(session, None)  # no dashboard waits for it
            now = self.timer()
            ready = {
                v: owed.pop(v)
                for v in list(owed)
                if now - last.get(v, -math.inf) >= UPDATE_INTERVAL_S
            }
            if not ready:
                continue
            for view in ready:
                last[view] = now
            try:
                await self._push(ready)
            except Exception:
                log.exception("dashboard update failed")

    async def _push(self, ready: dict[str | None, set[str]]) -> None:
        """Send each ready view its changed sessions' figures (each counted once)."""
        wanted = sorted(set().union(*ready.values()))
        values = await asyncio.gather(*(self.counts(s) for s in wanted))
        pushed_at = self.timer()
        for session in wanted:
            since = self._dirty_since.pop(session, None)
            if since is not None:
                self.metrics.push_lag.observe(pushed_at - since)
        fresh = dict(zip(wanted, values, strict=True))
        now = self.clock()
        # Subscribers to the same view share one message, encoded once.
        encoded: dict[str | None, tuple[dict[str, Any], str]] = {}
        for view, sessions in ready.items():
            msg = {
                "type": "update",
                "server_time": now,
                "sessions": {s: fresh[s] for s in sorted(sessions)},
            }
            encoded[view] = (msg, protocol.encode(msg))
        for sub in list(self._subscribers):
            item = encoded.get(sub.session)
            if item is not None:
                sub.push(*item)
