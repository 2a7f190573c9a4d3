"""The media service: every session's relay, WHIP/WHEP resources, and their upkeep.

One instance per app (opened and closed through `app.cleanup_ctx` in web/media.py); it
owns every peer connection and closes them all on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiortc import RTCPeerConnection

from ..attendance.records import WatchInterval
from ..errors import Conflict, NotFound
from .peer import IceSettings
from .session import RelayPolicy, SessionRelay
from .trickle import apply_fragment, check_if_match, parse_fragment
from .whep import ViewerPeer, open_viewer
from .whip import Publisher, open_publisher

log = logging.getLogger(__name__)

WatchCallback = Callable[[WatchInterval], "asyncio.Future[None] | object"]
# A trainee reloading the page or opening a second tab is normal; hundreds of peer
# connections on one token are not. Past this, the trainee's oldest viewer is closed.
MAX_VIEWERS_PER_PARTICIPANT = 3


@dataclass
class MediaStats:
    publishers_opened: int = 0
    publishers_expired: int = 0  # closed at the connect deadline, never connected
    trickled_candidates: int = 0  # remote candidates added by trickle ICE PATCHes
    viewers_opened: int = 0
    viewers_dropped: int = 0
    drop_reasons: dict[str, int] = field(default_factory=dict)
    # Packets not sent to a viewer, by reason: too-long, refused (SRTP), queue-full.
    packets_dropped: dict[str, int] = field(default_factory=dict)


class MediaService:
    """Owns every session's relay, the WHIP publishers and WHEP viewers (by resource
    id) with their peer connections, and the upkeep task that ticks the relays."""

    def __init__(
        self,
        *,
        ice: IceSettings,
        policy: RelayPolicy | None = None,
        clock: Callable[[], float] = time.time,
        record_dir: Path | None = None,
        tick_interval: float = 1.0,
    ) -> None:
        self.ice = ice
        self.policy = policy or RelayPolicy()
        self.clock = clock
        self.record_dir = record_dir
        self.tick_interval = tick_interval
        self.relays: dict[str, SessionRelay] = {}
        self.publishers: dict[str, Publisher] = {}
        self.viewers: dict[str, ViewerPeer] = {}
        self.stats = MediaStats()
        # Where watch intervals go; set by the web layer (WATCH_SINK) or kept here.
        self.watch_sink: Callable[[WatchInterval], object] | None = None
        self.watch_log: list[WatchInterval] = []
        # Told of every packet dropped on its way to a viewer (the web layer counts them).
        self.on_packet_dropped: Callable[[str], None] | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._wake_ticker = asyncio.Event()  # set: tick now (a viewer began to count)
        self._closing: set[asyncio.Task[None]] = set()
        self._recorders: dict[str, object] = {}
        # One WHIP offer at a time per session: the 409 check and the publisher's
        # registration must not interleave with a second POST's.
        self._publish_locks: dict[str, asyncio.Lock] = {}

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        if self._ticker is None:
            self._ticker = asyncio.get_running_loop().create_task(self._run_ticker())

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            try:
                await self._ticker
            except asyncio.CancelledError:
                pass
            self._ticker = None
        for viewer in list(self.viewers.values()):
            await self._close_viewer(viewer, "server shutdown")
        for publisher in list(self.publishers.values()):
            await self._close_publisher(publisher)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
        for recorder in self._recorders.values():
            close = getattr(recorder, "close", None)
            if close is not None:
                await close()
        self._recorders.clear()

    def relay(self, session_id: str) -> SessionRelay:
        relay = self.relays.get(session_id)
        if relay is None:
            relay = self.relays[session_id] = SessionRelay(session_id, self.policy, self.clock)
            relay.on_viewer_counted = self._wake_ticker.set
            self._maybe_record(relay)
        return relay

    def _maybe_record(self, relay: SessionRelay) -> None:
        if self.record_dir is None:
            return
        from .recorder import SessionRecorder

        recorder = SessionRecorder(self.record_dir, relay.session_id)
        recorder.attach(relay)
        self._recorders[relay.session_id] = recorder

    # -- WHIP / WHEP ----------------------------------------------------------------------

    async def publish(
        self, session_id: str, offer: str, *, owner: str | None = None
    ) -> tuple[str, str]:
        """Answer a WHIP offer. `owner` (the token's id) may replace its own publisher at
        once when that one has not connected or has gone silent (a speaker retrying)."""
        lock = self._publish_locks.setdefault(session_id, asyncio.Lock())
        async with lock:
            relay = self.relay(session_id)
            current = self.publishers.get(relay.publisher_id or "")
            if current is not None and current.live:
                if not self._replaceable(current, owner):
                    raise Conflict(f"session {session_id} already has a live publisher")
                log.info("publisher %s of %s replaced by its own token", current.id, session_id)
            if current is not None:
                await self._close_publisher(current)
            resource_id = secrets.token_urlsafe(12)
            publisher, answer = await open_publisher(
                resource_id,
                relay,
                offer,
                ice=self.ice,
                on_gone=self._publisher_gone,
                owner=owner,
            )
            self.publishers[resource_id] = publisher
            self.stats.publishers_opened += 1
            return resource_id, answer

    async def watch(
        self, session_id: str, offer: str, *, participant_id: str | None
    ) -> tuple[str, str]:
        relay = self.relay(session_id)
        resource_id = secrets.token_urlsafe(12)
        peer, answer = await open_viewer(
            resource_id,
            relay,
            offer,
            participant_id=participant_id,
            ice=self.ice,
            on_gone=self._viewer_gone,
            on_drop=self._packet_dropped,
        )
        self.viewers[resource_id] = peer
        self.stats.viewers_opened += 1
        if participant_id is not None:
            mine = [
                v
                for v in self.viewers.values()
                if v.viewer is not None and v.viewer.participant_id == participant_id
            ]
            # dicts keep insertion order: the first ones are the oldest
            for old in mine[: max(0, len(mine) - MAX_VIEWERS_PER_PARTICIPANT)]:
                await self._close_viewer(old, "replaced by a newer viewer")
        return resource_id, answer

    def publisher(self, session_id: str, resource_id: str) -> Publisher:
        publisher = self.publishers.get(resource_id)
        if publisher is None or publisher.session.session_id != session_id:
            raise NotFound("no such WHIP resource")
        return publisher

    def viewer(self, session_id: str, resource_id: str) -> ViewerPeer:
        peer = self.viewers.get(resource_id)
        if peer is None or peer.session.session_id != session_id:
            raise NotFound("no such WHEP resource")
        return peer

    async def trickle(
        self, pc: RTCPeerConnection, etag: str, fragment_text: str, if_match: str | None
    ) -> int:
        """Apply a trickle ICE PATCH to a publisher's or viewer's connection."""
        check_if_match(if_match, etag)
        fragment = parse_fragment(fragment_text)
        added = await apply_fragment(pc, fragment)
        self.stats.trickled_candidates += added
        return added

    async def end_publisher(self, session_id: str, resource_id: str) -> None:
        await self._close_publisher(self.publisher(session_id, resource_id))

    async def end_viewer(self, session_id: str, resource_id: str) -> None:
        await self._close_viewer(self.viewer(session_id, resource_id), "ended by client")

    # -- internals ------------------------------------------------------------------------

    def _replaceable(self, current: Publisher, owner: str | None) -> bool:
        if owner is None or current.owner != owner:
            return False
        if not current.connected:
            return True
        return current.silent_for(time.monotonic()) > self.policy.publisher_silence

    async def _expire_publishers(self) -> None:
        """Close publishers still not connected at the connect deadline."""
        now = time.monotonic()
        for publisher in list(self.publishers.values()):
            if (
                not publisher.was_connected
                and now - publisher.created > self.policy.publisher_connect_timeout
            ):
                log.info(
                    "publisher %s of %s never connected: closed",
                    publisher.id,
                    publisher.session.session_id,
                )
                self.stats.publishers_expired += 1
                await self._close_publisher(publisher)

    def _packet_dropped(self, reason: str) -> None:
        dropped = self.stats.packets_dropped
        dropped[reason] = dropped.get(reason, 0) + 1
        if self.on_packet_dropped is not None:
            self.on_packet_dropped(reason)

    def _publisher_gone(self, publisher: Publisher) -> None:
        self._background(self._close_publisher(publisher))

    def _viewer_gone(self, peer: ViewerPeer) -> None:
        self._background(self._close_viewer(peer, "connection closed"))

    def _background(self, coro: object) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)  # type: ignore[arg-type]
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _close_publisher(self, publisher: Publisher) -> None:
        self.publishers.pop(publisher.id, None)
        await publisher.close()

    async def _close_viewer(self, peer: ViewerPeer, reason: str) -> None:
        if self.viewers.pop(peer.id, None) is None and peer.closed:
            return
        intervals = peer.session.remove_viewer(peer.id, self.clock())
        await self._report(intervals)
        if reason not in ("ended by client", "server shutdown", "connection closed"):
            self.stats.viewers_dropped += 1
            self.stats.drop_reasons[reason] = self.stats.drop_reasons.get(reason, 0) + 1
        log.info("viewer %s of %s closed: %s", peer.id, peer.session.session_id, reason)
        await peer.close()

    async def _report(self, intervals: list[WatchInterval]) -> None:
        for interval in intervals:
            self.watch_log.append(interval)
            if self.watch_sink is not None:
                try:
                    result = self.watch_sink(interval)
                    if asyncio.iscoroutine(result):
                        await result
                except Exception:  # attendance trouble must not break media
                    log.exception("watch sink failed for %s", interval.interval_id)
        if len(self.watch_log) > 10_000:
            del self.watch_log[:5_000]

    async def tick(self) -> None:
        await self._expire_publishers()
        now = self.clock()
        for relay in list(self.relays.values()):
            intervals, gone = await relay.tick(now)
            await self._report(intervals)
            for viewer, reason in gone:
                peer = self.viewers.get(viewer.id)
                if peer is not None:
                    await self._close_viewer(peer, reason)
                else:
                    await self._report(relay.remove_viewer(viewer.id, now))

    async def _run_ticker(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake_ticker.wait(), self.tick_interval)
            self._wake_ticker.clear()
            try:
                await self.tick()
            except Exception:
                log.exception("media upkeep failed")
