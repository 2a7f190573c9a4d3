"""The attendance side of a node, as the web layer sees it: one object built by the app
factory, made of parts that each own one concept. They answer with plain values
(attendance/answers.py); the web layer makes the frames.

- `ScanPipeline` (scan_pipeline.py): door scans, decided and written in batches (group
  commit), each answered once durable; its parts are the batch decider
  (batch_decisions.py), the node's caches (node_caches.py) and the order of each
  trainee's scans (pair_turns.py);
- `Uploads` (uploads.py): a scanner's offline scans, sent at once, through the pipeline;
- `Annuls` (annul.py): a scan taken back, committed on its own;
- `DashboardFeed` (dashboard_feed.py): which sessions changed, pushed to dashboards at
  most 10 times a second, across nodes through the store's pub/sub;
- `RosterCache` (roster_cache.py): the roster this node caches, and staff search;
- `AttendanceReports` (reports.py): attendance so far, and certificate checks.

The web layer holds this one object (`appkeys.ATTENDANCE`) rather than each part under
a key of its own: the parts share caches and must start and stop in order (the feed
before the pipeline; commits under way finish before the store closes), which is done
here, in one place.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from ..attendance.certificates import CertificateSigner
from ..attendance.records import WatchInterval
from ..auth.badges import BadgeVerifier
from ..event.holder import EventHolder
from ..metrics import Metrics
from ..store.bus import LocalBus, MessageBus
from ..store.roles import Store
from .annul import Annuls
from .dashboard_feed import DashboardFeed
from .node_caches import BadgeChecks
from .reports import AttendanceReports
from .roster_cache import RosterCache
from .scan_pipeline import ScanPipeline
from .uploads import Uploads


class AttendanceService:
    """Builds the attendance parts in order and starts and stops them; callers use the
    parts themselves: `scans` (door scans), `uploads` (offline scans), `annuls`,
    `rosters` (roster and staff search), `feed` (dashboards), `reports`. Owns only the
    media meter's way in (`record_watch`) and the trainees' `presence` notes (kept,
    never counted).

    `clock` is the wall clock scans and figures are dated by; `timer` a monotonic one for
    cache ages and dashboard pacing."""

    def __init__(
        self,
        store: Store,
        events: EventHolder,
        badges: BadgeVerifier,
        certificates: CertificateSigner,
        clock: Callable[[], float],
        metrics: Metrics | None = None,
        node_id: str = "",
        timer: Callable[[], float] = time.monotonic,
        bus: MessageBus | None = None,
    ) -> None:
        self.store = store
        # Without a bus, dashboards hear of this node's changes only: one node.
        self.bus = bus or LocalBus()
        self.events = events
        self.certificates = certificates
        self.clock = clock
        self.metrics = metrics or Metrics()
        self.node_id = node_id or secrets.token_hex(4)
        self.rosters = RosterCache(store, events, timer)
        self.feed = DashboardFeed(
            store, self.bus, events, self.rosters, clock, self.metrics, self.node_id, timer
        )
        self.scans = ScanPipeline(
            store, events, BadgeChecks(badges), self.rosters, self.feed, clock, self.metrics
        )
        self.uploads = Uploads(store, self.scans, clock)
        self.annuls = Annuls(store, self.scans.pair_ledgers, self.feed, clock)
        self.reports = AttendanceReports(store, events, certificates, clock)
        self._presence: dict[tuple[str, str], tuple[str, float]] = {}

    async def start(self) -> None:
        await self.feed.start()
        self.scans.start()

    async def stop(self) -> None:
        await self.feed.stop()
        await self.scans.stop()

    # -- trainees: presence and online intervals -----------------------------------------

    def presence(self, session_id: str, participant_id: str, state: str) -> None:
        """Kept for the record only: a trainee's own `presence` report never counts as
        attendance; online time is what the server measured delivering."""
        self._presence[(session_id, participant_id)] = (state, self.clock())

    async def record_watch(self, interval: WatchInterval) -> None:
        """From the media meter: server-measured online presence."""
        await self.store.record_watch(interval)
        await self.feed.changed({interval.session_id})
