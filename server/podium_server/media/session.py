"""One streamed session in the relay: its two sources, its viewers, their RTCP and upkeep.

`SessionRelay.tick()` (called about once a second by the service) sends each viewer's
sender reports, advances the watch-time meters and drops viewers that are gone: transport
failed, outbox stalled, or no progressing receiver report for `viewer_timeout` seconds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiortc.clock import current_ntp_time
from aiortc.rtp import (
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    AnyRtcpPacket,
    RtcpPsfbPacket,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtcpSenderInfo,
    RtcpSrPacket,
)

from ..attendance.records import WatchInterval
from .meter import WatchMeter
from .relay import Source, ViewerTrack
from .rtp import clock_rate_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RelayPolicy:
    """The relay's timeouts and sizes, one set per media service."""

    viewer_timeout: float = 20.0  # no progressing receiver report: the viewer is gone
    # A WHIP publisher not connected this long after its answer is closed (the deadline
    # viewers have); one sending nothing this long may be replaced by its own token.
    publisher_connect_timeout: float = 20.0
    publisher_silence: float = 5.0
    stall_timeout: float = 5.0  # outbox full for this long: the viewer is dropped
    rr_timeout: float = 10.0  # watch-time: silence that closes an interval
    report_every: float = 15.0  # watch-time: refresh of an open interval
    gop_cache_packets: int = 1500
    # Sender reports only carry lip sync (RTP <-> wall clock) and counters: one compound
    # SR per viewer every 2 s is plenty (RFC 3550 suggests >= 5 s), and each costs an
    # SRTCP protect and a datagram per viewer.
    sender_report_every: float = 2.0

    def __post_init__(self) -> None:
        if (
            min(
                self.viewer_timeout,
                self.publisher_connect_timeout,
                self.publisher_silence,
                self.stall_timeout,
                self.rr_timeout,
                self.report_every,
                self.sender_report_every,
            )
            <= 0
        ):
            raise ValueError("relay timeouts must be positive")


class Viewer:
    """One WHEP viewer: up to two tracks, its meter, its RTCP."""

    def __init__(
        self,
        viewer_id: str,
        session: SessionRelay,
        *,
        participant_id: str | None,
        send_rtcp: Callable[[bytes], Awaitable[None]],
        is_connected: Callable[[], bool],
        now: float,
    ) -> None:
        self.id = viewer_id
        self.session = session
        self.participant_id = participant_id
        self.tracks: dict[str, ViewerTrack] = {}
        self._send_rtcp = send_rtcp
        self._is_connected = is_connected
        self.meter = (
            WatchMeter(
                session.session_id,
                participant_id,
                rr_timeout=session.policy.rr_timeout,
                report_every=session.policy.report_every,
            )
            if participant_id
            else None
        )
        self.created = now
        self.last_progress = now
        self._rr_highest: dict[int, int] = {}
        self._packets_at_rr: dict[int, int] = {}
        self._next_sr = 0.0  # monotonic; the first report goes out at the first tick
        self.closed = False

    def add_track(self, track: ViewerTrack) -> None:
        self.tracks[track.kind] = track
        self.session.sources[track.kind].attach(track, time.monotonic())

    async def handle_rtcp(self, packet: AnyRtcpPacket) -> None:
        """RTCP from this viewer about one of our SSRCs (routed by aiortc)."""
        now = self.session.clock()
        if isinstance(packet, RtcpRrPacket | RtcpSrPacket):
            for report in packet.reports:
                self._on_report(report.ssrc, report.highest_sequence, now)
        elif isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
            for track in self.tracks.values():
                if track.ssrc == packet.media_ssrc:
                    for seq in packet.lost:
                        track.retransmit(seq)
        elif isinstance(packet, RtcpPsfbPacket) and packet.fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
            self.session.sources["video"].request_keyframe(time.monotonic())

    def _on_report(self, ssrc: int, highest: int, now: float) -> None:
        track = next((t for t in self.tracks.values() if t.ssrc == ssrc), None)
        if track is None:
            return
        # Progress: the viewer acknowledges a newer packet than last time, or we sent it
        # nothing new since (an idle publisher must not end a viewer).
        progressed = self._rr_highest.get(ssrc) != highest
        delivered = track.packets != self._packets_at_rr.get(ssrc)
        self._rr_highest[ssrc] = highest
        self._packets_at_rr[ssrc] = track.packets
        if progressed or not delivered:
            self.last_progress = now
        if self.meter is not None:
            was_open = self.meter.is_open
            self.meter.on_report(now, progressed=progressed and delivered)
            if not was_open and self.meter.is_open and self.session.on_viewer_counted:
                self.session.on_viewer_counted()

    async def send_sender_reports(self, now_wall: float) -> None:
        """One compound SR for all started tracks, at most every `sender_report_every`."""
        mono = time.monotonic()
        if mono < self._next_sr:
            return
        reports = b""
        for track in self.tracks.values():
            if not track.started:
                continue
            source = self.session.sources[track.kind]
            sr = RtcpSrPacket(
                ssrc=track.ssrc,
                sender_info=RtcpSenderInfo(
                    ntp_timestamp=current_ntp_time(),
                    rtp_timestamp=track.rtp_time_at(
                        source.last_time, mono, clock_rate_of(track.kind)
                    ),
                    packet_count=track.packets & 0xFFFFFFFF,
                    octet_count=track.octets & 0xFFFFFFFF,
                ),
            )
            reports += bytes(sr)
        if reports:
            self._next_sr = mono + self.session.policy.sender_report_every
            await self._send_rtcp(reports)

    def gone_reason(self, now: float, policy: RelayPolicy) -> str | None:
        if not self._is_connected() and now - self.created > policy.viewer_timeout:
            return "transport not connected"
        for track in self.tracks.values():
            if track.outbox.failed:
                return "transport failed"
            stalled = track.outbox.stalled_since
            if stalled is not None and time.monotonic() - stalled > policy.stall_timeout:
                return "outbox stalled"
        if now - self.last_progress > policy.viewer_timeout:
            return "no receiver reports"
        return None

    def detach(self, now: float) -> list[WatchInterval]:
        if self.closed:
            return []
        self.closed = True
        for track in self.tracks.values():
            self.session.sources[track.kind].detach(track)
            track.outbox.close()
        return self.meter.close(now) if self.meter is not None else []


class SessionRelay:
    """Owns one session's two sources (audio, video), its viewers and which publisher
    feeds it."""

    def __init__(
        self, session_id: str, policy: RelayPolicy, clock: Callable[[], float] = time.time
    ) -> None:
        self.session_id = session_id
        self.policy = policy
        self.clock = clock
        self.sources: dict[str, Source] = {
            "audio": Source("audio"),
            "video": Source("video", gop_cache_packets=policy.gop_cache_packets),
        }
        self.viewers: dict[str, Viewer] = {}
        self.publisher_id: str | None = None
        # The WHIP publisher whose media is flowing: a synthetic feed yields to it.
        self.publisher_sending: str | None = None
        # Called when a viewer starts being counted online, so its interval is reported
        # now rather than at the next periodic tick (dashboards show it within a second).
        self.on_viewer_counted: Callable[[], None] | None = None

    def add_viewer(self, viewer: Viewer) -> None:
        self.viewers[viewer.id] = viewer

    def remove_viewer(self, viewer_id: str, now: float) -> list[WatchInterval]:
        viewer = self.viewers.pop(viewer_id, None)
        return viewer.detach(now) if viewer is not None else []

    async def tick(self, now: float) -> tuple[list[WatchInterval], list[tuple[Viewer, str]]]:
        """Sender reports, meters, and the viewers to drop (with why)."""
        intervals: list[WatchInterval] = []
        gone: list[tuple[Viewer, str]] = []
        for viewer in list(self.viewers.values()):
            reason = viewer.gone_reason(now, self.policy)
            if reason is not None:
                gone.append((viewer, reason))
                continue
            await viewer.send_sender_reports(now)
            if viewer.meter is not None:
                intervals.extend(viewer.meter.tick(now))
        return intervals, gone
