"""WHIP ingest: one publisher's peer connection feeding a session's sources."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from aiortc import RTCPeerConnection
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import RtpPacket

from . import aiortc_private
from .peer import IceSettings, make_answer, peer_from_offer
from .relay import CodecInfo, Source
from .session import SessionRelay

log = logging.getLogger(__name__)


class _Ingest:
    """Receiver tap callback for one kind: RTP -> Source.publish, PLI -> publisher."""

    def __init__(self, publisher: Publisher, source: Source) -> None:
        self.publisher = publisher
        self.source = source
        self.tasks = publisher.tasks
        self.codecs: dict[int, CodecInfo] = {}
        self.ssrc: int | None = None
        self.tap: aiortc_private.ReceiverTap | None = None

    def on_packet(self, packet: RtpPacket, codec: RTCRtpCodecParameters) -> None:
        info = self.codecs.get(packet.payload_type)
        if info is None:
            info = self.codecs[packet.payload_type] = CodecInfo.of(
                codec.mimeType, codec.clockRate, dict(codec.parameters)
            )
        self.ssrc = packet.ssrc
        self.publisher.on_media()
        self.source.publish(
            packet.ssrc,
            packet.sequence_number,
            packet.timestamp,
            packet.marker,
            packet.payload,
            info,
        )

    def request_keyframe(self) -> None:
        if self.tap is not None and self.ssrc is not None:
            aiortc_private.spawn(self.tap.request_keyframe(self.ssrc), self.tasks)


class Publisher:
    """Owns one WHIP publisher's peer connection and the tasks that feed its tracks into
    the session's sources."""

    def __init__(
        self,
        resource_id: str,
        session: SessionRelay,
        pc: RTCPeerConnection,
        owner: str | None = None,
    ) -> None:
        self.id = resource_id
        self.session = session
        self.pc = pc
        self.etag = f'"{resource_id}"'  # names this ICE session (trickle PATCH If-Match)
        self.owner = owner  # the token that published: it may replace a dead attempt
        self.created = time.monotonic()
        self.was_connected = False
        self.tasks: set[asyncio.Task[None]] = set()
        self._ingests: dict[str, _Ingest] = {}
        self.closed = False
        self.last_media = 0.0  # monotonic time of the last RTP packet; 0: none yet

    def on_media(self) -> None:
        self.last_media = time.monotonic()
        if self.session.publisher_sending != self.id and self.session.publisher_id == self.id:
            # First packet: from here on this publisher is the session's only input.
            self.session.publisher_sending = self.id
            for kind, ingest in self._ingests.items():
                self.session.sources[kind].set_input(ingest.request_keyframe)
            log.info("publisher %s of %s: media flowing", self.id, self.session.session_id)

    @property
    def live(self) -> bool:
        return not self.closed and self.pc.connectionState not in ("failed", "closed")

    @property
    def connected(self) -> bool:
        return self.pc.connectionState == "connected"

    def silent_for(self, now: float) -> float:
        """Seconds since the last RTP packet (or since the answer, if none came yet)."""
        return now - max(self.created, self.last_media)

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for kind, ingest in self._ingests.items():
            self.session.sources[kind].clear_input(ingest.request_keyframe)
        if self.session.publisher_id == self.id:
            self.session.publisher_id = None
        if self.session.publisher_sending == self.id:
            self.session.publisher_sending = None
        await self.pc.close()
        for task in list(self.tasks):
            task.cancel()


async def open_publisher(
    resource_id: str,
    session: SessionRelay,
    offer: str,
    *,
    ice: IceSettings,
    on_gone: Callable[[Publisher], None],
    owner: str | None = None,
) -> tuple[Publisher, str]:
    """Answer a WHIP offer; the publisher becomes the session's input at its first packet."""
    pc, transceivers = await peer_from_offer(offer, direction="recvonly", ice=ice)
    publisher = Publisher(resource_id, session, pc, owner)
    try:
        for t in transceivers:
            ingest = _Ingest(publisher, session.sources[t.kind])
            ingest.tap = aiortc_private.ReceiverTap(t.receiver, ingest.on_packet)
            ingest.tap.install()
            publisher._ingests[t.kind] = ingest
        answer = await make_answer(pc)
    except BaseException:
        await publisher.close()
        raise

    @pc.on("connectionstatechange")
    def on_state() -> None:
        log.info("publisher %s of %s: %s", resource_id, session.session_id, pc.connectionState)
        if pc.connectionState == "connected":
            publisher.was_connected = True
        if pc.connectionState in ("failed", "closed"):
            on_gone(publisher)

    # The sources are ours from the first packet on (Publisher.on_media): until then a
    # synthetic feed keeps the session, and its keyframe requests go to it.
    session.publisher_id = resource_id
    return publisher, answer
