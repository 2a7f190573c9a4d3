"""`watch --record`: what is received, written to Matroska (or WebM) as it came -- the
encoded VP8/H.264 pictures and Opus packets muxed by PyAV, nothing decoded or encoded.

The file starts at the first video keyframe. Times are milliseconds from then: each
track follows its RTP clock from its first frame, anchored at that frame's arrival; a
clock that jumps back (the publisher came back) is anchored again, so time never goes
backwards in the file.
"""

from __future__ import annotations

import io
import struct
import time
from fractions import Fraction
from pathlib import Path

import av
from av.container import OutputContainer

from .tap import h264_nal_units, is_keyframe, vp8_keyframe_size

START_CODE = b"\x00\x00\x00\x01"
# RFC 7845 5.1: version 1, 2 channels, pre-skip 312, 48 kHz, gain 0, mapping family 0
OPUS_HEAD = b"OpusHead" + struct.pack("<BBHIhB", 1, 2, 312, 48_000, 0, 0)
CLOCK = {"video": 90_000, "audio": 48_000}
MS = Fraction(1, 1000)


class MkvRecorder:
    def __init__(self, path: Path, *, audio: bool = True) -> None:
        self.path = path
        self.want_audio = audio
        self.container: OutputContainer | None = None
        self.streams: dict[str, av.stream.Stream] = {}
        self.started = 0.0  # monotonic time of the first keyframe
        self.anchor: dict[str, tuple[int, int]] = {}  # kind -> (RTP ts, ms) it is tied to
        self.last_ms: dict[str, int] = {}
        self.size: tuple[int, int] | None = None  # H.264: from the decoded pictures
        self.frames = 0
        self.bytes = 0
        self.broken = 0  # frames left out: not whole, or depending on one that was not
        self.need_keyframe = False

    def on_frame(self, mime: str, data: bytes, timestamp: int, whole: bool = True) -> None:
        kind = "audio" if mime.lower().startswith("audio/") else "video"
        if kind == "video":
            # A broken picture is left out, and so is every picture after it up to the
            # next keyframe (they refer to it): the file plays cleanly, with a gap.
            if not whole:
                self.need_keyframe = True
                self.broken += 1
                return
            if self.need_keyframe:
                if not is_keyframe(mime, data):
                    self.broken += 1
                    return
                self.need_keyframe = False
        elif not whole:
            return
        if self.container is None:
            if kind != "video" or not self._open(mime, data):
                return
        stream = self.streams.get(kind)
        if stream is None or (kind == "audio" and mime.lower() != "audio/opus"):
            return
        ms = self._ms(kind, timestamp)
        packet = av.Packet(data)
        packet.stream = stream
        packet.pts = packet.dts = ms
        packet.time_base = MS
        if kind == "video" and is_keyframe(mime, data):
            packet.is_keyframe = True
        assert self.container is not None
        self.container.mux(packet)
        self.frames += kind == "video"
        self.bytes += len(data)

    def _ms(self, kind: str, timestamp: int) -> int:
        now_ms = int((time.monotonic() - self.started) * 1000)
        anchor = self.anchor.get(kind)
        ms = now_ms if anchor is None else anchor[1] + (timestamp - anchor[0]) * 1000 // CLOCK[kind]
        if anchor is None or ms <= self.last_ms.get(kind, -1) or abs(ms - now_ms) > 5000:
            # first frame, or the clock went back or far off (a new publisher): re-tie it
            ms = max(now_ms, self.last_ms.get(kind, -1) + 1)
            self.anchor[kind] = (timestamp, ms)
        self.last_ms[kind] = ms
        return ms

    def _open(self, mime: str, data: bytes) -> bool:
        codec = mime.split("/", 1)[1].lower()
        extradata = None
        if codec == "vp8":
            size = vp8_keyframe_size(data)
        elif codec == "h264" and is_keyframe(mime, data):
            size = self.size
            units = h264_nal_units(data)
            sps = [u for u in units if u[0] & 0x1F == 7]
            pps = [u for u in units if u[0] & 0x1F == 8]
            if sps and pps:
                extradata = START_CODE + sps[0] + START_CODE + pps[0]
        else:
            return False
        if size is None:
            return False
        fmt = "webm" if self.path.suffix.lower() == ".webm" and codec == "vp8" else "matroska"
        container = av.open(str(self.path), "w", format=fmt)
        # Streams made from a template carry codec parameters without an encoder ever
        # being opened: the muxer gets the received bytes as they are.
        scratch = av.open(io.BytesIO(), "w", format="matroska")
        video = container.add_stream_from_template(scratch.add_stream(codec), opaque=True)
        video_ctx = video.codec_context
        assert isinstance(video_ctx, av.VideoCodecContext)
        video_ctx.width, video_ctx.height = size
        video.time_base = MS
        if extradata is not None:
            video.codec_context.extradata = extradata
        self.streams["video"] = video
        if self.want_audio:
            audio = container.add_stream_from_template(
                scratch.add_stream("opus", rate=48_000), opaque=True
            )
            audio.codec_context.sample_rate = 48_000
            audio.codec_context.layout = "stereo"
            audio.codec_context.extradata = OPUS_HEAD
            audio.time_base = MS
            self.streams["audio"] = audio
        scratch.close()
        self.container = container
        self.started = time.monotonic()
        return True

    def close(self) -> None:
        if self.container is not None:
            self.container.close()
            self.container = None
