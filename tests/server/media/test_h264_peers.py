"""H.264 end to end over 127.0.0.1: an aiortc publisher forced to H.264, the relay, a
viewer that decodes. The relay forwards H.264 as it is (RFC 6184 packets), so what the
viewer decodes is what the publisher's encoder produced."""

from __future__ import annotations

import asyncio
import time
from fractions import Fraction

import av
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from podium_server.media.ice import offer_addresses, rtc_configuration
from podium_server.media.service import MediaService

from .peers import LOOPBACK, Signal, watch

pytestmark = pytest.mark.media

WIDTH, HEIGHT, FPS = 320, 180, 30


def encode_h264(frames: int) -> list[bytes]:
    """Annex-B access units, constrained baseline (what aiortc offers), IDR every second.

    The whole sequence is looped, IDR first, so every lap decodes cleanly; looping only
    delta frames (as the VP8 track does) would break H.264 frame numbering.
    """
    ctx = av.CodecContext.create("libx264", "w")
    ctx.width, ctx.height, ctx.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    ctx.time_base, ctx.framerate, ctx.bit_rate, ctx.gop_size = Fraction(1, FPS), FPS, 400_000, FPS
    ctx.profile = "Baseline"
    ctx.options = {"preset": "ultrafast", "tune": "zerolatency"}
    chroma = bytes([128]) * (WIDTH * HEIGHT // 4)
    out: list[bytes] = []
    for i in range(frames):
        frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
        frame.planes[0].update(bytes(((x + 4 * i) * 3) & 255 for x in range(WIDTH)) * HEIGHT)
        frame.planes[1].update(chroma)
        frame.planes[2].update(chroma)
        frame.pts = i
        out.extend(bytes(p) for p in ctx.encode(frame))
    out.extend(bytes(p) for p in ctx.encode(None))
    return out


class H264Track(MediaStreamTrack):
    """Pre-encoded access units at 30 fps; aiortc's H264 payloader packetizes them."""

    kind = "video"

    def __init__(self, units: list[bytes]) -> None:
        super().__init__()
        self._units = units
        self._i = 0
        self._start: float | None = None

    async def recv(self) -> av.Packet:  # type: ignore[override]
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        delay = self._start + self._i / FPS - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        packet = av.Packet(self._units[self._i % len(self._units)])
        packet.pts = self._i
        packet.time_base = Fraction(1, FPS)
        self._i += 1
        return packet


async def publish_h264(signal: Signal, units: list[bytes]) -> RTCPeerConnection:
    pc = RTCPeerConnection(rtc_configuration())
    t = pc.addTransceiver(H264Track(units), direction="sendonly")
    t.setCodecPreferences(
        [
            c
            for c in t.sender.getCapabilities("video").codecs
            if c.mimeType in ("video/H264", "video/rtx")
        ]
    )
    offer_addresses(pc, LOOPBACK)
    await pc.setLocalDescription(await pc.createOffer())
    answer = await signal(pc.localDescription.sdp)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    return pc


def first_codec(sdp: str, kind: str) -> str:
    """The preferred (first) codec of the `kind` m-line of an SDP, as 'name/rate'."""
    lines = sdp.splitlines()
    mline = next(line for line in lines if line.startswith(f"m={kind} "))
    pt = mline.split()[3]
    return next(line.split(" ", 1)[1] for line in lines if line.startswith(f"a=rtpmap:{pt} "))


async def test_h264_publisher_to_a_decoding_viewer(media: MediaService) -> None:
    async def whip(offer: str) -> str:
        return (await media.publish("s1", offer))[1]

    async def whep(offer: str) -> str:
        return (await media.watch("s1", offer, participant_id=None))[1]

    pub = await publish_h264(whip, encode_h264(2 * FPS))
    source = media.relays["s1"].sources["video"]
    viewer = None
    try:
        async with asyncio.timeout(5):
            # Polling: the relay has no event for "first packet" (the viewer is offered
            # the codec that flows, so it must not ask before one does).
            while source.codec is None:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        assert source.codec.mime_type.lower() == "video/h264"
        viewer = await watch(whep, audio=False)
        assert await viewer.wait_frames(30, within=5), len(viewer.video_frames)
        assert viewer.sizes == {(WIDTH, HEIGHT)}
        assert viewer.first_frame_after is not None and viewer.first_frame_after < 1.0
        assert first_codec(viewer.pc.remoteDescription.sdp, "video") == "H264/90000"
        (server_viewer,) = media.relays["s1"].viewers.values()
        track = server_viewer.tracks["video"]
        assert track.packets > 0 and track.pt == track.pt_map[source.codec.key]
    finally:
        if viewer is not None:
            await viewer.close()
        await pub.close()
