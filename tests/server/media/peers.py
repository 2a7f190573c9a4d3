"""Real aiortc test peers over 127.0.0.1: a publisher of pre-encoded VP8 (+ Opus) and
viewers that decode what they get and time it. The pattern and its track are the
client's (`podium-client publish --test-pattern`), re-exported here for the tests."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import av
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, MediaStreamTrack

from podium_client.media.pattern import PacketTrack
from podium_client.media.pattern import encode_vp8 as encode_vp8  # the tests' pattern
from podium_server.media.ice import offer_addresses, rtc_configuration

LOOPBACK = ("127.0.0.1",)
Signal = Callable[[str], Awaitable[str]]


async def publish(
    signal: Signal, packets: list[av.Packet], *, audio: bool = True
) -> RTCPeerConnection:
    pc = RTCPeerConnection(rtc_configuration())
    if audio:
        pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
    t = pc.addTransceiver(PacketTrack(packets), direction="sendonly")
    vp8 = [
        c
        for c in t.sender.getCapabilities("video").codecs
        if c.mimeType in ("video/VP8", "video/rtx")
    ]
    t.setCodecPreferences(vp8)
    offer_addresses(pc, LOOPBACK)
    await pc.setLocalDescription(await pc.createOffer())
    answer = await signal(pc.localDescription.sdp)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    return pc


@dataclass
class ViewerResult:
    pc: RTCPeerConnection
    started: float
    video_frames: list[float] = field(default_factory=list)
    audio_frames: list[float] = field(default_factory=list)
    sizes: set[tuple[int, int]] = field(default_factory=set)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def first_frame_after(self) -> float | None:
        return self.video_frames[0] - self.started if self.video_frames else None

    async def wait_frames(self, n: int, within: float) -> bool:
        """True once `n` video frames were decoded, False if `within` seconds pass first."""
        try:
            async with asyncio.timeout(within):
                while len(self.video_frames) < n:
                    self.changed.clear()
                    await self.changed.wait()
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await self.pc.close()


async def watch(signal: Signal, *, audio: bool = True) -> ViewerResult:
    pc = RTCPeerConnection(rtc_configuration())
    result = ViewerResult(pc, time.monotonic())
    if audio:
        pc.addTransceiver("audio", direction="recvonly")
    pc.addTransceiver("video", direction="recvonly")
    offer_addresses(pc, LOOPBACK)

    async def consume(track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                frame = await track.recv()
                if isinstance(frame, av.VideoFrame):
                    result.video_frames.append(time.monotonic())
                    result.sizes.add((frame.width, frame.height))
                    result.changed.set()
                else:
                    result.audio_frames.append(time.monotonic())

    @pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        result.tasks.append(asyncio.ensure_future(consume(track)))

    await pc.setLocalDescription(await pc.createOffer())
    answer = await signal(pc.localDescription.sdp)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    return result


def pause_reading(pc: RTCPeerConnection) -> None:
    """Freeze a test viewer: its sockets stop reading (it still sends stale RTCP reports)."""
    for t in pc.getTransceivers():
        conn = t.receiver.transport.transport.iceGatherer._connection
        for protocol in conn._protocols:
            protocol.transport.pause_reading()


async def inbound_stats(pc: RTCPeerConnection, kind: str) -> tuple[int, int]:
    """(packetsReceived, packetsLost) of the viewer's inbound stream of `kind`."""
    for t in pc.getTransceivers():
        if t.kind == kind:
            for stat in (await t.receiver.getStats()).values():
                if stat.type == "inbound-rtp":
                    return stat.packetsReceived, stat.packetsLost
    return 0, 0
