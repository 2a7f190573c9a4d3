"""A moving test pattern, encoded to VP8 once and then sent as is: publishing it costs
next to nothing, so a laptop (or a benchmark) can run many."""

from __future__ import annotations

import asyncio
import time
from fractions import Fraction

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

FPS = 30


def encode_vp8(
    frames: int, width: int = 320, height: int = 180, bitrate: int = 400_000
) -> list[av.Packet]:
    """A moving pattern encoded once: one keyframe, then only delta frames."""
    ctx = av.CodecContext.create("libvpx", "w")
    ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
    ctx.time_base = Fraction(1, FPS)
    ctx.framerate = Fraction(FPS)
    ctx.bit_rate = bitrate
    ctx.gop_size = 10**6  # never another keyframe: like a publisher ignoring PLI
    ctx.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    base = bytes((x * 7) & 255 for x in range(2 * width))
    chroma = bytes([128]) * (width * height // 4)
    packets: list[av.Packet] = []
    for i in range(frames):
        frame = av.VideoFrame(width, height, "yuv420p")
        s = (i * 4) % width
        row = base[s : s + width]
        frame.planes[0].update(
            b"".join(row if (r // 20 + i // 10) % 2 else row[::-1] for r in range(height))
        )
        frame.planes[1].update(chroma)
        frame.planes[2].update(chroma)
        frame.pts = i
        packets.extend(ctx.encode(frame))
    packets.extend(ctx.encode(None))
    return packets


class PacketTrack(MediaStreamTrack):
    """Sends pre-encoded packets at 30 fps: the keyframe first, then the delta frames
    over and over (they decode fine on top of each other: a moving pattern)."""

    kind = "video"

    def __init__(self, packets: list[av.Packet]) -> None:
        super().__init__()
        self._packets = packets
        self._i = 0
        self._start: float | None = None

    async def recv(self) -> av.Packet:  # type: ignore[override]
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._i / FPS
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        n = len(self._packets)
        source = self._packets[self._i if self._i < n else 1 + (self._i - 1) % (n - 1)]
        packet = av.Packet(bytes(source))
        packet.pts = self._i
        packet.time_base = Fraction(1, FPS)
        self._i += 1
        return packet
