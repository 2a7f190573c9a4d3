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

import asyncio
import secrets
import time
from collections.abc import Callable
from typing import Any

from ..attendance import protocol
from ..attendance.answers import Answer, Refusal, SyncAnswer
from ..attendance.certificates import CertificateSigner
from ..attendance.checkin import Scanner, ScanRequest
from ..attendance.eligibility import SessionAttendance
from ..attendance.records import WatchInterval
from ..auth.badges import BadgeVerifier
from ..event.holder import EventHolder
from ..event.model import Event, Participant
from ..metrics import Metrics
from ..store.bus import LocalBus, MessageBus
from ..store.roles import Store
from .annul import Annuls
from .dashboard_feed import DashboardFeed, DashboardSubscriber
from .node_caches import BadgeChecks
from .pair_turns import ScanDone
from .reports import AttendanceReports
from .roster_cache import RosterCache
from .scan_pipeline import ScanPipeline
from .uploads import Uploads


class AttendanceService:
    """Builds and starts the parts, and answers for them: each method hands over to the
    part that owns it. Owns only the trainees' `presence` notes (kept, never counted).

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

    # -- staff: scans, uploads, annuls, search ---------------------------------------------

    async def scan(self, request: ScanRequest, scanner: Scanner, via: str = "") -> Answer:
        return await self.scans.scan(request, scanner, via)

    def answered_at_once(self, request: ScanRequest) -> Refusal | None:
        return self.scans.answered_at_once(request)

    def submit(self, request: ScanRequest, scanner: Scanner, done: ScanDone, via: str = "") -> None:
        self.scans.submit(request, scanner, done, via)

    def enqueue(
        self, request: ScanRequest, scanner: Scanner, done: ScanDone, via: str = ""
    ) -> None:
        self.scans.enqueue(request, scanner, done, via)

    def start_sync(self, sync: protocol.Sync, scanner: Scanner) -> list[asyncio.Future[Answer]]:
        return self.uploads.start_sync(sync, scanner)

    async def sync(
        self,
        sync: protocol.Sync,
        scanner: Scanner,
        answers: list[asyncio.Future[Answer]] | None = None,
    ) -> SyncAnswer:
        return await self.uploads.sync(sync, scanner, answers)

    async def annul(self, request: protocol.Annul, scanner: Scanner) -> Answer:
        return await self.annuls.annul(request, scanner)

    async def search(self, query: str, scanner: Scanner) -> list[dict[str, Any]]:
        return await self.rosters.search(query, scanner)

    async def roster(self, fresh: bool = False) -> dict[str, Participant]:
        return await self.rosters.get(fresh)

    # -- trainees: presence and online intervals -----------------------------------------

    def presence(self, session_id: str, participant_id: str, state: str) -> None:
        """Kept for the record only: a trainee's own `presence` report never counts as
        attendance; online time is what the server measured delivering."""
        self._presence[(session_id, participant_id)] = (state, self.clock())

    async def record_watch(self, interval: WatchInterval) -> None:
        """From the media meter: server-measured online presence."""
        await self.store.record_watch(interval)
        await self.feed.changed({interval.session_id})

    # -- dashboards -------------------------------------------------------------------------

    def add_subscriber(self, sub: DashboardSubscriber) -> None:
        self.feed.add_subscriber(sub)

    def remove_subscriber(self, sub: DashboardSubscriber) -> None:
        self.feed.remove_subscriber(sub)

    def session_ids(self, session: str | None) -> list[str]:
        return self.feed.session_ids(session)

    async def counts(self, session_id: str) -> dict[str, Any]:
        return await self.feed.counts(session_id)

    async def snapshot(self, session: str | None) -> dict[str, Any]:
        return await self.feed.snapshot(session)

    # -- reports and certificates -----------------------------------------------------------

    async def report(
        self, now: float | None = None
    ) -> tuple[Event, list[Participant], dict[str, dict[str, SessionAttendance]]]:
        return await self.reports.report(now)

    async def verify_certificate(self, cert_id: str) -> dict[str, Any]:
        return await self.reports.verify_certificate(cert_id)
