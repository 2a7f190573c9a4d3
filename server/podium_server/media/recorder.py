"""Recording without transcoding: each live session, as relayed, to a playable file.

VP8 (+ Opus) goes to WebM, H.264 (+ Opus) to Matroska. The relay's tap hands every RTP
packet to `SessionRecorder.write` on the event loop, which depacketizes it into encoded
frames (depacketize.py) and stamps them; once a second the batch is muxed by PyAV in a
worker thread (one per recorder, so parts are written in order). Nothing is decoded or
encoded: the streams are created without an opened codec context and the muxer gets the
encoded bytes as `av.Packet`s.

- Recording starts at a video keyframe (one is requested from the publisher); audio that
  arrives before it is not written. With no video at all, an audio-only file starts after
  `audio_only_after` seconds.
- Timestamps: milliseconds from the start of the file. Each input epoch (publisher
  connects, reconnects, changes SSRC) is anchored at its arrival time and then follows its
  own RTP clock, unwrapped past 2^32; a reconnect shows as a gap, never as time going
  back. Audio and video are lined up by arrival time (within a few milliseconds).
- Packet loss: a frame with a missing packet is dropped, later frames are kept (as a live
  viewer would show them) and a keyframe is requested to heal the picture.
- A new file ("part") starts when the video codec changes (WebM holds no H.264), when
  audio starts after a video-only part (at the next keyframe), and after the session was
  silent for `idle_close` seconds -- that closes the file, so a session that ended is
  playable before the server stops.
- Crash safety: Matroska clusters of at most 250 ms, each written out as it closes. A
  killed server leaves a file without its index and duration, which players still play
  up to the last cluster written (what was muxed up to a quarter second before the last
  batch); a normal shutdown (`close()`) writes the trailer.

The old rtpdump writer is gone: it kept everything (lost packets included) but nobody
could play it without tools, and writing both would double the disk I/O for little.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import io
import logging
import struct
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from av.container import OutputContainer

from .depacketize import (
    START_CODE,
    FrameAssembler,
    Malformed,
    h264_access_unit,
    h264_assembler,
    h264_sps_size,
    opus_packet_samples,
    vp8_assembler,
    vp8_frame_info,
)
from .relay import Packet, Source
from .session import SessionRelay

log = logging.getLogger(__name__)

MS = Fraction(1, 1000)
SETTLE = 0.5
# What can be recorded: RTP codec -> codec name for the muxer.
RECORDABLE = {"video/vp8": "vp8", "video/h264": "h264", "audio/opus": "opus"}
# Opus identification header (RFC 7845 5.1): version 1, 2 channels, no pre-skip, 48 kHz,
# 0 dB, mapping family 0 -- what WebRTC's opus/48000/2 is. WebM players require it.
OPUS_HEAD = b"OpusHead" + struct.pack("<BBHIhB", 1, 2, 0, 48_000, 0, 0)
# Muxer settings: a cluster every 250 ms at least, written out at once (crash safety: the
# muxer keeps the open cluster in memory), and no more than a second of one stream held
# back to interleave with the other.
CONTAINER_OPTIONS = {
    "cluster_time_limit": "250",
    "flush_packets": "1",
    "max_interleave_delta": "1000000",
}


@dataclass(slots=True)
class _Frame:
    kind: str
    data: bytes
    pts: int  # ms from the start of the part
    key: bool
    duration: int = 0  # ms, 0 when unknown


@dataclass
class _PartSpec:
    stem: str  # file name without suffix, made unique by the muxer
    video: str | None  # "vp8" / "h264"
    width: int
    height: int
    extradata: bytes | None  # H.264: SPS and PPS, Annex-B
    # None until the part is `SETTLE` seconds old: audio packets may arrive a little
    # after the video keyframe that opened it, and a Matroska header cannot grow a track.
    audio: bool | None
    opened: float = 0.0  # monotonic

    @property
    def format(self) -> str:
        return "matroska" if self.video == "h264" else "webm"

    @property
    def suffix(self) -> str:
        return ".mkv" if self.video == "h264" else ".webm"


@dataclass
class _Track:
    """One kind of the input as the recorder follows it (event loop side)."""

    kind: str
    clock_rate: int = 90_000
    epoch: int = -1
    codec: str | None = None
    assembler: FrameAssembler | None = None
    need_key: bool = True
    seen_at: float = 0.0  # monotonic time of the last packet
    first_at: float | None = None  # first packet while no part is open
    # timestamps: pts = base_pts + ext * 1000 / clock_rate (ext: unwrapped RTP ticks)
    base_pts: float | None = None
    prev_ts: int = 0
    ext: int = 0
    last_pts: int | None = None
    sps: bytes | None = None
    pps: bytes | None = None
    lost: int = 0  # frames dropped here (malformed) or by earlier epochs' assemblers
    lost_seen: int = 0  # the assembler's `lost` when a keyframe was last asked for

    def reset_time(self) -> None:
        self.base_pts = None
        self.last_pts = None

    def pts(self, ts: int, now: float, t0: float) -> int | None:
        """Milliseconds into the part of RTP time `ts`; None for a packet from the past."""
        if self.base_pts is None:
            since = (now - t0) * 1000
            if self.last_pts is not None:
                since = max(since, self.last_pts + 1)
            self.base_pts = since
            self.prev_ts = ts
            self.ext = 0
        else:
            delta = (ts - self.prev_ts) & 0xFFFFFFFF
            if delta >= 0x80000000:
                return None  # older than the last one (reordered): not muxable
            self.ext += delta
            self.prev_ts = ts
        pts = int(self.base_pts + self.ext * 1000 / self.clock_rate)
        if self.last_pts is not None and pts < self.last_pts:
            pts = self.last_pts
        self.last_pts = pts
        return pts


@dataclass
class _Part:
    spec: _PartSpec
    t0: float  # monotonic time of pts 0


class _Muxer:
    """The worker-thread side: one open container at a time; commands run in order."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.container: OutputContainer | None = None
        self.streams: dict[str, av.stream.Stream] = {}
        self.paths: list[Path] = []
        self.frames = 0
        self.failed = False  # the current part hit an error; read by the event loop

    def run(self, commands: list[_PartSpec | _Frame | None]) -> None:
        for command in commands:
            try:
                if command is None:
                    self.close()
                elif isinstance(command, _PartSpec):
                    self.close()
                    self.open(command)
                elif self.container is not None:
                    self.mux(command)
            except Exception:
                log.exception("recording to %s failed", self.paths[-1] if self.paths else "-")
                self.failed = True
                with contextlib.suppress(Exception):
                    self.close()

    def open(self, spec: _PartSpec) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{spec.stem}{spec.suffix}"
        n = 1
        while path.exists():
            n += 1
            path = self.directory / f"{spec.stem}-{n}{spec.suffix}"
        self.paths.append(path)
        self.failed = False
        container = av.open(str(path), "w", format=spec.format, container_options=CONTAINER_OPTIONS)
        try:
            # Streams are copied from templates in a scratch container: a stream made that
            # way carries codec parameters (size, extradata) and its codec context is never
            # opened, so no encoder is initialized (add_mux_stream cannot set extradata).
            scratch = av.open(io.BytesIO(), "w", format="matroska")
            try:
                streams: dict[str, av.stream.Stream] = {}
                if spec.video is not None:
                    template = scratch.add_stream(spec.video)
                    stream = container.add_stream_from_template(template, opaque=True)
                    video_ctx = stream.codec_context
                    assert isinstance(video_ctx, av.VideoCodecContext)
                    video_ctx.width, video_ctx.height = spec.width, spec.height
                    if spec.extradata is not None:
                        stream.codec_context.extradata = spec.extradata
                    stream.time_base = MS
                    streams["video"] = stream
                if spec.audio:
                    template = scratch.add_stream("opus", rate=48_000)
                    stream = container.add_stream_from_template(template, opaque=True)
                    stream.codec_context.sample_rate = 48_000
                    stream.codec_context.layout = "stereo"
                    stream.codec_context.extradata = OPUS_HEAD
                    stream.time_base = MS
                    streams["audio"] = stream
            finally:
                scratch.close()
            container.metadata["title"] = spec.stem
        except BaseException:
            container.close()
            raise
        self.container = container
        self.streams = streams
        log.info("recording to %s", path)

    def mux(self, frame: _Frame) -> None:
        assert self.container is not None
        stream = self.streams.get(frame.kind)
        if stream is None:
            return
        packet = av.Packet(frame.data)
        packet.stream = stream
        packet.time_base = MS
        packet.pts = packet.dts = frame.pts
        if frame.duration:
            packet.duration = frame.duration
        packet.is_keyframe = frame.key
        self.container.mux(packet)
        self.frames += 1

    def close(self) -> None:
        container, self.container = self.container, None
        self.streams = {}
        if container is not None:
            container.close()
            log.info("recorded %s", self.paths[-1])


class SessionRecorder:
    """Owns one session's recording: the frames depacketized and waiting, the open
    container part and the worker thread that muxes into it."""

    def __init__(
        self,
        directory: Path,
        session_id: str,
        flush_every: float = 1.0,
        *,
        idle_close: float = 20.0,
        audio_only_after: float = 5.0,
    ) -> None:
        if min(flush_every, idle_close, audio_only_after) <= 0:
            raise ValueError("recorder intervals must be positive")
        self.directory = directory
        self.session_id = session_id
        self.flush_every = flush_every
        self.idle_close = idle_close
        self.audio_only_after = audio_only_after
        self.packets = 0
        self.frames = 0  # frames handed to the muxer
        self._tracks = {"audio": _Track("audio", 48_000), "video": _Track("video")}
        self._part: _Part | None = None
        self._batch: list[_PartSpec | _Frame | None] = []
        self._last_packet = 0.0
        self._muxer = _Muxer(directory)
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._video_source: Source | None = None
        self._unrecordable: set[str] = set()
        self.busy_seconds = 0.0  # CPU time of the muxing thread (for measurements)

    @property
    def paths(self) -> list[Path]:
        """The files written so far, in order."""
        return list(self._muxer.paths)

    @property
    def path(self) -> Path | None:
        return self._muxer.paths[-1] if self._muxer.paths else None

    @property
    def lost_frames(self) -> int:
        return self._tracks["video"].lost + sum(
            t.assembler.lost for t in self._tracks.values() if t.assembler is not None
        )

    def attach(self, relay: SessionRelay) -> None:
        for kind, source in relay.sources.items():
            source.taps.append(functools.partial(self.write, kind))
        self._video_source = relay.sources.get("video")

    # -- event loop side: the tap ---------------------------------------------------------

    def write(self, kind: str, p: Packet) -> None:
        """The relay's tap: called once per input packet, on the event loop."""
        now = time.monotonic()
        self.packets += 1
        self._last_packet = now
        if self._task is None:
            self._start()
        track = self._tracks[kind]
        track.seen_at = now
        if p.epoch != track.epoch:
            self._new_epoch(track, p)
        if track.codec is None:
            return
        if kind == "audio":
            self._audio(track, p, now)
            return
        assert track.assembler is not None
        for frame in track.assembler.push(p.seq, p.ts, p.marker, p.payload):
            self._video_frame(track, frame.ts, frame.payloads, now)

    def _new_epoch(self, track: _Track, p: Packet) -> None:
        track.epoch = p.epoch
        mime = p.codec.mime_type.lower()
        codec = RECORDABLE.get(mime)
        if codec is None:
            if mime not in self._unrecordable:
                self._unrecordable.add(mime)
                log.warning("%s: cannot record %s, left out", self.session_id, mime)
        if track.assembler is not None:
            track.assembler.flush()
            track.lost += track.assembler.lost
        track.lost_seen = 0
        track.assembler = (
            vp8_assembler() if codec == "vp8" else h264_assembler() if codec == "h264" else None
        )
        track.clock_rate = p.codec.clock_rate
        track.base_pts = None  # re-anchored at the next frame; last_pts stays monotonic
        track.need_key = track.kind == "video"
        part = self._part
        if (
            track.kind == "video"
            and part is not None
            and part.spec.video is not None
            and codec != part.spec.video
        ):
            self._close_part()  # a new codec needs a new file (and maybe format)
        track.codec = codec

    def _audio(self, track: _Track, p: Packet, now: float) -> None:
        part = self._part
        if part is None:
            if track.first_at is None:
                track.first_at = now
            if now - track.first_at < self.audio_only_after:
                return  # wait for the video's keyframe
            # No keyframe (or no video) for a while: audio alone rather than nothing; the
            # next keyframe starts a new part with both.
            part = self._open_part(None, now)
        if part.spec.audio is False:
            return
        pts = track.pts(p.ts, now, part.t0)
        if pts is None:
            return
        duration = opus_packet_samples(p.payload) // 48
        self._batch.append(_Frame("audio", p.payload, pts, True, duration))
        self.frames += 1

    def _video_frame(self, track: _Track, ts: int, payloads: list[memoryview], now: float) -> None:
        try:
            if track.codec == "h264":
                unit = h264_access_unit(payloads)
                data, key = unit.data, unit.key
                if unit.sps is not None:
                    track.sps = unit.sps
                if unit.pps is not None:
                    track.pps = unit.pps
                if key and unit.sps is None and track.sps is not None and track.pps is not None:
                    data = START_CODE + track.sps + START_CODE + track.pps + data
                width = height = 0
                if key:
                    if track.sps is None or track.pps is None:
                        raise Malformed("IDR before any SPS/PPS")
                    width, height = h264_sps_size(track.sps)
            else:
                data = b"".join(payloads)
                key, width, height = vp8_frame_info(data)
        except Malformed as e:
            log.debug("%s: dropping a video frame: %s", self.session_id, e)
            track.lost += 1
            self._request_keyframe(now)
            return
        if track.assembler is not None and track.assembler.lost != track.lost_seen:
            track.lost_seen = track.assembler.lost
            self._request_keyframe(now)  # a frame was dropped: heal the picture soon
        part = self._part
        audio = self._tracks["audio"]
        audio_alive = audio.codec is not None and now - audio.seen_at < 1.0
        if key and (
            part is None
            or part.spec.video is None  # audio-only so far
            or (audio_alive and part.spec.audio is False)  # audio started after the video
        ):
            extradata = None
            if track.codec == "h264":
                assert track.sps is not None and track.pps is not None
                extradata = START_CODE + track.sps + START_CODE + track.pps
            spec_video = (track.codec, width, height, extradata)
            part = self._open_part(spec_video, now, audio=True if audio_alive else None)
        if part is None or part.spec.video is None:
            self._request_keyframe(now)
            return
        if track.need_key:
            if not key:
                self._request_keyframe(now)
                return
            track.need_key = False
        pts = track.pts(ts, now, part.t0)
        if pts is None:
            return
        self._batch.append(_Frame("video", data, pts, key))
        self.frames += 1

    def _request_keyframe(self, now: float) -> None:
        if self._video_source is not None:
            self._video_source.request_keyframe(now)

    def _open_part(
        self,
        video: tuple[str | None, int, int, bytes | None] | None,
        now: float,
        *,
        audio: bool | None = True,
    ) -> _Part:
        if self._part is not None:
            self._close_part()
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime())
        codec, width, height, extradata = video if video is not None else (None, 0, 0, None)
        spec = _PartSpec(
            f"{self.session_id}-{stamp}", codec, width, height, extradata, audio, opened=now
        )
        self._part = _Part(spec, now)
        self._batch.append(spec)
        for track in self._tracks.values():
            track.reset_time()
            track.first_at = None
        self._tracks["video"].need_key = True
        return self._part

    def _close_part(self) -> None:
        if self._part is None:
            return
        self._part = None
        self._batch.append(None)
        for track in self._tracks.values():
            track.reset_time()
            track.first_at = None
            track.need_key = track.kind == "video"

    # -- the flushing task and the worker thread ------------------------------------------

    def _start(self) -> None:
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"record-{self.session_id}"
        )
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_every)
            if self._part is not None and time.monotonic() - self._last_packet > self.idle_close:
                log.info(
                    "%s: no media for %.0f s, closing the file", self.session_id, self.idle_close
                )
                self._close_part()
            try:
                await self.flush()
            except Exception:
                log.exception("recording of %s failed", self.session_id)

    async def flush(self) -> None:
        """Hand what was collected to the muxing thread and wait until it is written."""
        async with self._lock:
            if self._muxer.failed and self._part is not None:
                self._part = None  # the muxer gave up on that file: start a new one
                for track in self._tracks.values():
                    track.reset_time()
                    track.need_key = track.kind == "video"
            if not self._batch or self._executor is None:
                return
            batch = self._sealed(final=self._task is None)
            if not batch:
                return
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._executor, self._timed_run, batch)

    def _sealed(self, *, final: bool) -> list[_PartSpec | _Frame | None]:
        """Take the batch, up to a part whose audio track is not decided yet."""
        batch = self._batch
        for i, item in enumerate(batch):
            if not isinstance(item, _PartSpec) or item.audio is not None:
                continue
            has_audio = False
            for later in batch[i + 1 :]:
                if later is None or isinstance(later, _PartSpec):
                    break
                if later.kind == "audio":
                    has_audio = True
                    break
            if has_audio or final or time.monotonic() - item.opened >= SETTLE:
                item.audio = has_audio
            else:
                self._batch = batch[i:]
                return batch[:i]
        self._batch = []
        return batch

    def _timed_run(self, batch: list[_PartSpec | _Frame | None]) -> None:
        start = time.thread_time()
        try:
            self._muxer.run(batch)
        finally:
            self.busy_seconds += time.thread_time() - start

    async def close(self) -> None:
        """Write what is left and finish the file (playable, with index and duration)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for track in self._tracks.values():
            if track.assembler is not None:
                track.assembler.flush()
        self._close_part()
        await self.flush()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        log.info(
            "%s: %d packets, %d frames recorded to %s",
            self.session_id,
            self.packets,
            self.frames,
            ", ".join(str(p) for p in self._muxer.paths) or "nothing",
        )
