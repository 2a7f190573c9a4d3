"""In-process publishers for relay tests: RTP payloads of a chosen size fed straight into
a session's sources (the same entry point a WHIP publisher and the demo stream use).

aiortc's own sender cannot send an RTP packet over 1356 bytes (its SRTP buffer), so a
publisher with a larger MTU -- GStreamer's 1400-byte default -- is played by this feed
when a test needs one without GStreamer.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from fractions import Fraction

import av
from aiortc.codecs.opus import OpusEncoder

from podium_server.media.relay import CodecInfo
from podium_server.media.session import SessionRelay

VP8 = CodecInfo.of("video/VP8", 90_000, {})
OPUS = CodecInfo.of("audio/opus", 48_000, {})


def vp8_rtp_payloads(frame: bytes, max_payload: int) -> list[bytes]:
    """RFC 7741 packetization with the 1-byte descriptor: S bit on the first packet."""
    room = max_payload - 1
    chunks = [frame[i : i + room] for i in range(0, len(frame), room)]
    return [bytes([0x10 if i == 0 else 0x00]) + c for i, c in enumerate(chunks)]


class LargePacketFeed:
    """Pre-encoded VP8 at 30 fps in packets of up to `max_payload` bytes, plus Opus.

    A keyframe request (PLI from the relay) restarts the sequence at its keyframe.
    """

    def __init__(self, relay: SessionRelay, frames: list[av.Packet], max_payload: int) -> None:
        self.relay = relay
        self.frames = [bytes(f) for f in frames]
        self.max_payload = max_payload
        self.largest = 0
        self.keyframes_sent = 0
        self._restart = True
        self._ssrc = {"video": random.getrandbits(32), "audio": random.getrandbits(32)}
        self._seq = {"video": random.getrandbits(15), "audio": random.getrandbits(15)}
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self.relay.sources["video"].set_input(self._request_keyframe)
        self.relay.sources["audio"].set_input(None)
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._video()), loop.create_task(self._audio())]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for source in self.relay.sources.values():
            source.clear_input()

    def _request_keyframe(self) -> None:
        self._restart = True

    def publish(self, kind: str, payload: bytes, ts: int, marker: int) -> None:
        seq = self._seq[kind]
        self._seq[kind] = (seq + 1) & 0xFFFF
        codec = VP8 if kind == "video" else OPUS
        self.relay.sources[kind].publish(self._ssrc[kind], seq, ts, marker, payload, codec)

    async def _video(self) -> None:
        start, n, index = time.monotonic(), 0, 0
        while True:
            if self._restart:
                self._restart, index = False, 0
                self.keyframes_sent += 1
            payloads = vp8_rtp_payloads(self.frames[index], self.max_payload)
            ts = (n * 3000) & 0xFFFFFFFF
            for i, payload in enumerate(payloads):
                self.largest = max(self.largest, len(payload))
                self.publish("video", payload, ts, int(i == len(payloads) - 1))
            n += 1
            index = index + 1 if index + 1 < len(self.frames) else 1
            await asyncio.sleep(max(0.0, start + n / 30 - time.monotonic()))

    async def _audio(self) -> None:
        encoder = OpusEncoder()
        start, n = time.monotonic(), 0
        while True:
            frame = av.AudioFrame(format="s16", layout="stereo", samples=960)
            frame.planes[0].update(bytes(960 * 4))
            frame.sample_rate = 48_000
            frame.pts = n * 960
            frame.time_base = Fraction(1, 48_000)
            payloads, ts = encoder.encode(frame)
            for payload in payloads:
                self.publish("audio", payload, ts, 1)
            n += 1
            await asyncio.sleep(max(0.0, start + n * 0.02 - time.monotonic()))
