"""`podium serve --demo`: a synthetic lecture (moving test pattern with a frame counter and
a clock, plus a tone), encoded ONCE and fed as RTP into the relay of every streamed
session -- the same path a WHIP publisher takes, so viewers cannot tell the difference.

Encoding runs in a worker thread; this is the only encoder in the server and it is not
on the relay path (one encode per frame whatever the number of sessions and viewers).

A real speaker takes over: from the first packet of a WHIP publisher on a session, the
lecture stops feeding that session (two inputs must never interleave: each switch is a
new epoch for every viewer), and it resumes, with a keyframe, when the publisher leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import struct
import time
from collections.abc import Sequence
from fractions import Fraction

from aiortc.codecs.opus import OpusEncoder
from aiortc.codecs.vpx import Vp8Encoder
from av import AudioFrame, VideoFrame

from .relay import CodecInfo
from .session import SessionRelay

log = logging.getLogger(__name__)

WIDTH, HEIGHT, FPS = 640, 360, 15
VP8 = CodecInfo.of("video/VP8", 90_000, {})
OPUS = CodecInfo.of("audio/opus", 48_000, {})

# Seven-segment digits: segments a b c d e f g lit per character.
_SEGMENTS = {
    "0": "abcdef", "1": "bc", "2": "abdeg", "3": "abcdg", "4": "bcfg", "5": "acdfg",
    "6": "acdefg", "7": "abc", "8": "abcdefg", "9": "abcdfg", ":": "", " ": "",
}  # fmt: skip


class LecturePattern:
    """Moving colour-bar luma pattern with text drawn in seven-segment digits."""

    def __init__(self, width: int = WIDTH, height: int = HEIGHT) -> None:
        if width % 2 or height % 2:
            raise ValueError("width and height must be even")
        self.width, self.height = width, height
        self._ramp = bytes((x * 255 // width) for x in range(width)) * 2
        self._chroma_u = bytes([96]) * (width * height // 4)
        self._chroma_v = bytes([160]) * (width * height // 4)

    def frame(self, index: int, text: str) -> VideoFrame:
        w, h = self.width, self.height
        shift = (index * 6) % w
        row = self._ramp[shift : shift + w]
        band = 40
        y = bytearray(b"".join(row if (r // band) % 2 else row[::-1] for r in range(h)))
        self._draw_text(y, text, x0=24, y0=h - 90)
        frame = VideoFrame(w, h, "yuv420p")
        frame.planes[0].update(bytes(y))
        frame.planes[1].update(self._chroma_u)
        frame.planes[2].update(self._chroma_v)
        return frame

    def _draw_text(self, y: bytearray, text: str, *, x0: int, y0: int) -> None:
        w = self.width
        dw, dh, t = 24, 60, 6  # digit width/height, stroke
        # A dark box behind the text keeps it readable on the bars.
        for r in range(y0 - 8, min(self.height, y0 + dh + 8)):
            y[r * w + x0 - 8 : r * w + min(w, x0 + len(text) * (dw + 12) + 8)] = bytes(
                min(w, x0 + len(text) * (dw + 12) + 8) - (x0 - 8)
            )
        x = x0
        half = dh // 2
        boxes = {
            "a": (0, 0, dw, t), "b": (dw - t, 0, t, half), "c": (dw - t, half, t, half),
            "d": (0, dh - t, dw, t), "e": (0, half, t, half), "f": (0, 0, t, half),
            "g": (0, half - t // 2, dw, t),
        }  # fmt: skip
        for ch in text:
            if ch == ":":
                for cy in (dh // 3, 2 * dh // 3):
                    self._box(y, x + dw // 2 - t // 2, y0 + cy - t // 2, t, t)
            for seg in _SEGMENTS.get(ch, ""):
                bx, by, bw, bh = boxes[seg]
                self._box(y, x + bx, y0 + by, bw, bh)
            x += dw + 12
            if x + dw >= w:
                break

    def _box(self, y: bytearray, x: int, top: int, bw: int, bh: int) -> None:
        w = self.width
        white = b"\xeb" * bw
        for r in range(top, min(self.height, top + bh)):
            y[r * w + x : r * w + x + bw] = white


def tone_frames(freq: float = 440.0, rate: int = 48_000) -> list[bytes]:
    """One second of 20 ms stereo s16 frames: a beep in the first 300 ms, then quiet."""
    out = []
    for i in range(50):
        samples = []
        for n in range(960):
            t = (i * 960 + n) / rate
            v = int(5000 * math.sin(2 * math.pi * freq * t)) if t < 0.3 else 0
            samples.append(struct.pack("<hh", v, v))
        out.append(b"".join(samples))
    return out


class DemoStream:
    """Encodes the lecture once and publishes it into every given session relay."""

    def __init__(self, relays: Sequence[SessionRelay], *, fps: int = FPS) -> None:
        if not relays:
            raise ValueError("a demo stream needs at least one session")
        if not 1 <= fps <= 60:
            raise ValueError("fps must be 1..60")
        self.relays = list(relays)
        self.fps = fps
        self.frames = 0
        self._force_keyframe = False
        self._tasks: list[asyncio.Task[None]] = []
        self._ssrc = {"video": random.getrandbits(32), "audio": random.getrandbits(32)}
        self._yielded: set[str] = set()  # sessions whose real publisher has the floor
        self._seq = {"video": random.getrandbits(15), "audio": random.getrandbits(15)}

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        for relay in self.relays:
            relay.sources["video"].set_input(self._request_keyframe)
            relay.sources["audio"].set_input(None)
        self._tasks = [
            loop.create_task(self._run_video()),
            loop.create_task(self._run_audio()),
        ]
        log.info("demo stream on %s", ", ".join(r.session_id for r in self.relays))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        for relay in self.relays:
            if relay.session_id in self._yielded:
                continue  # the speaker's input is not ours to clear
            for source in relay.sources.values():
                source.clear_input()

    def _request_keyframe(self) -> None:
        self._force_keyframe = True

    def _feeding(self) -> list[SessionRelay]:
        """The relays to feed now; yields to real publishers and takes sessions back."""
        relays = []
        for relay in self.relays:
            if relay.publisher_sending is not None:
                if relay.session_id not in self._yielded:
                    self._yielded.add(relay.session_id)
                    log.info("demo stream yields %s to its speaker", relay.session_id)
                continue
            if relay.session_id in self._yielded:
                self._yielded.discard(relay.session_id)
                relay.sources["video"].set_input(self._request_keyframe)
                relay.sources["audio"].set_input(None)
                # Viewers wait for a keyframe after the switch: make the next one one.
                self._force_keyframe = True
                log.info("demo stream resumes on %s", relay.session_id)
            relays.append(relay)
        return relays

    def _publish(self, kind: str, payloads: list[bytes], timestamp: int) -> None:
        codec = VP8 if kind == "video" else OPUS
        ssrc = self._ssrc[kind]
        relays = self._feeding()
        for i, payload in enumerate(payloads):
            seq = self._seq[kind]
            self._seq[kind] = (seq + 1) & 0xFFFF
            marker = 1 if kind == "audio" or i == len(payloads) - 1 else 0
            for relay in relays:
                relay.sources[kind].publish(ssrc, seq, timestamp, marker, payload, codec)

    async def _run_video(self) -> None:
        loop = asyncio.get_running_loop()
        encoder = Vp8Encoder()
        pattern = LecturePattern()
        start = time.monotonic()
        while True:
            i = self.frames
            now = time.localtime()
            text = f"{time.strftime('%H:%M:%S', now)}  {i:06d}"
            frame = pattern.frame(i, text)
            frame.pts = i * (90_000 // self.fps)
            frame.time_base = Fraction(1, 90_000)
            force, self._force_keyframe = self._force_keyframe, False
            payloads, timestamp = await loop.run_in_executor(None, encoder.encode, frame, force)
            self._publish("video", payloads, timestamp)
            self.frames += 1
            delay = start + self.frames / self.fps - time.monotonic()
            await asyncio.sleep(max(0.0, delay))

    async def _run_audio(self) -> None:
        encoder = OpusEncoder()
        tone = tone_frames()
        start = time.monotonic()
        i = 0
        while True:
            frame = AudioFrame(format="s16", layout="stereo", samples=960)
            frame.planes[0].update(tone[i % len(tone)])
            frame.sample_rate = 48_000
            frame.pts = i * 960
            frame.time_base = Fraction(1, 48_000)
            payloads, timestamp = encoder.encode(frame)  # ~0.1 ms: not worth a thread
            self._publish("audio", payloads, timestamp)
            i += 1
            await asyncio.sleep(max(0.0, start + i * 0.02 - time.monotonic()))
