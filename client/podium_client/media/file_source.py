"""A file published as it is: VP8 or H.264 video packets go out without being decoded or
re-encoded (H.264 in MP4 is only rewritten from length-prefixed to start-code form, the
bytes of every picture unchanged); Opus audio is passed through too, other audio (AAC in
an MP4, say) is decoded and encoded to Opus, since WebRTC carries no AAC."""

from __future__ import annotations

import asyncio
import contextlib
import time
from fractions import Fraction
from pathlib import Path

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from ..errors import BadInputError

PASSED_VIDEO = {"vp8": "VP8", "h264": "H264"}
LEAD_S = 0.3  # read this far ahead of the wall clock, so a slow read never stalls sending


class QueueTrack(MediaStreamTrack):
    """Hands out what the reader queued, each item at its due time (monotonic)."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.queue: asyncio.Queue[tuple[float, av.Packet | av.AudioFrame] | None] = asyncio.Queue(
            maxsize=200
        )

    async def recv(self) -> av.Packet | av.AudioFrame:  # type: ignore[override]
        if self.readyState != "live":
            raise MediaStreamError
        item = await self.queue.get()
        if item is None:
            self.stop()
            raise MediaStreamError
        due, data = item
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        return data


class FileSource:
    def __init__(self, path: Path, *, loop: bool) -> None:
        try:
            self.container = av.open(str(path))
        except (av.FFmpegError, OSError) as exc:
            why = getattr(exc, "strerror", None) or str(exc)
            raise BadInputError(f"cannot read {path} as a video file ({why})") from exc
        videos = list(self.container.streams.video)
        if not videos:
            self.container.close()
            raise BadInputError(f"{path} has no video track")
        usable = [s for s in videos if s.codec_context.name in PASSED_VIDEO]
        if not usable:
            name = videos[0].codec_context.name
            self.container.close()
            raise BadInputError(
                f"{path}: its video is {name}; only VP8 or H.264 is sent without re-encoding"
                " (convert it, e.g. ffmpeg -i IN -c:v libvpx -b:v 1M -c:a libopus OUT.webm)"
            )
        self.video_stream = usable[0]
        self.codec = PASSED_VIDEO[self.video_stream.codec_context.name]
        audios = list(self.container.streams.audio)
        self.audio_stream = audios[0] if audios else None
        self.audio_passed = (
            self.audio_stream is not None and self.audio_stream.codec_context.name == "opus"
        )
        self.bsf: av.bitstream.BitStreamFilterContext | None = None
        extradata = self.video_stream.codec_context.extradata or b""
        if self.codec == "H264" and extradata[:1] == b"\x01":  # avcC: MP4's framing
            self.bsf = av.bitstream.BitStreamFilterContext("h264_mp4toannexb", self.video_stream)
        self.loop = loop
        self.video = QueueTrack("video")
        self.audio = QueueTrack("audio") if self.audio_stream is not None else None
        self.ended = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def describe(self) -> str:
        ctx = self.video_stream.codec_context
        video = f"{self.codec} {ctx.width}x{ctx.height} passed through"
        if self.audio_stream is None:
            return f"{video}, no audio"
        audio = (
            "Opus passed through"
            if self.audio_passed
            else (f"{self.audio_stream.codec_context.name} audio encoded to Opus")
        )
        return f"{video}, {audio}"

    def start(self) -> None:
        self._task = asyncio.create_task(self._read())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.container.close()

    async def _read(self) -> None:
        start = time.monotonic()
        offset = 0.0  # seconds of the loops already played
        try:
            while True:
                last = await self._play_once(start, offset)
                if not self.loop or last <= 0:
                    break
                offset += last
                self.container.seek(0)
        finally:
            self.ended.set()
            for track in (self.video, self.audio):
                if track is not None:
                    with contextlib.suppress(asyncio.QueueFull):
                        track.queue.put_nowait(None)

    async def _play_once(self, start: float, offset: float) -> float:
        """Queue one pass over the file; returns its length in seconds."""
        streams = [s for s in (self.video_stream, self.audio_stream) if s is not None]
        decoder = (
            None
            if self.audio_passed or self.audio_stream is None
            else (self.audio_stream.codec_context)
        )
        first: float | None = None
        end = 0.0
        for packet in self.container.demux(*streams):
            if packet.size == 0 or packet.time_base is None:
                continue
            when = packet.dts if packet.dts is not None else packet.pts
            if when is None:
                continue
            at = float(when * packet.time_base)
            first = at if first is None else first
            rel = at - first + offset
            end = max(end, at - first + float((packet.duration or 0) * packet.time_base))
            due = start + rel
            ahead = due - time.monotonic() - LEAD_S
            if ahead > 0:
                await asyncio.sleep(ahead)
            if packet.stream is self.video_stream:
                for out in self.bsf.filter(packet) if self.bsf is not None else [packet]:
                    await self._put(self.video, due, out, offset, first)
            elif self.audio is not None:
                if decoder is None:
                    await self._put(self.audio, due, packet, offset, first)
                else:
                    for frame in decoder.decode(packet):
                        rate = frame.sample_rate
                        frame.pts = round(rel * rate)
                        frame.time_base = Fraction(1, rate)
                        await self.audio.queue.put((due, frame))
        return end

    async def _put(
        self, track: QueueTrack, due: float, packet: av.Packet, offset: float, first: float
    ) -> None:
        """Stamp the packet on one timeline across loops (RTP time never goes back)."""
        base = packet.time_base
        if packet.pts is not None and base is not None:
            packet.pts = round((float(packet.pts * base) - first + offset) / base)
        await track.queue.put((due, packet))
