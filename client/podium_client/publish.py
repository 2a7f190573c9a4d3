"""`podium-client publish`: a WHIP publisher for a laptop without a browser.

Sources: a test pattern (VP8 encoded once, then sent as is), a file (VP8 or H.264 video
passed through without re-encoding, see media/file_source.py), or a camera (decoded
frames, encoded to VP8 by aiortc). After a network loss or a server restart it
publishes again by itself; bitrate, RTT and loss are printed every few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
from aiortc import RTCPeerConnection
from aiortc.contrib.media import MediaPlayer, MediaRelay
from aiortc.mediastreams import AudioStreamTrack, MediaStreamTrack
from rich.console import Console

from .errors import BadInputError, BusyError, UnreachableError
from .ice import IceOptions
from .media.file_source import FileSource
from .media.pattern import PacketTrack, encode_vp8
from .media.stats import Rate, kbps, publisher_sample
from .whip import end, endpoint, negotiate

# No receiver report from the server for this long, once connected: the link or the
# server is gone (a restarted server never says so), so publish again.
SILENT_S = 8.0
CONNECT_S = 15.0
BACKOFF_S = (1.0, 2.0, 3.0, 5.0)


@dataclass
class PublishOptions:
    server: str
    token: str
    session: str
    file: Path | None = None
    device: str | None = None
    loop: bool = False
    stats_every: float = 5.0
    duration: float | None = None
    ice: IceOptions | None = None


class Source:
    """What is sent, kept across reconnects: each connection gets tracks of its own,
    since aiortc ends a connection's tracks when it closes. A file goes on where it was
    (through a relay); the pattern starts again at its keyframe, so a server that lost
    everything in a restart can show a picture at once."""

    def __init__(self, opts: PublishOptions) -> None:
        self.file: FileSource | None = None
        self.player: Any = None
        self.relay = MediaRelay()
        self.pattern: list[av.Packet] = []
        if opts.file is not None:
            self.file = FileSource(opts.file, loop=opts.loop)
            self.codec = self.file.codec
            self.description = self.file.describe()
        elif opts.device is not None:
            try:
                self.player = MediaPlayer(opts.device, format="v4l2")
            except Exception as exc:  # PyAV raises several kinds for a missing device
                raise BadInputError(f"cannot open camera {opts.device}: {exc}") from exc
            if self.player.video is None:
                raise BadInputError(f"{opts.device} gives no video")
            self.codec = "VP8"
            self.description = f"camera {opts.device}, encoded to VP8"
        else:
            self.pattern = encode_vp8(90, 640, 360, 800_000)
            self.codec = "VP8"
            self.description = "test pattern, VP8 640x360 30 fps (encoded once), silent Opus"

    def tracks(self) -> tuple[MediaStreamTrack | None, MediaStreamTrack]:
        """(audio, video) for one connection."""
        if self.file is not None:
            audio = (
                self.relay.subscribe(self.file.audio, buffered=False) if self.file.audio else None
            )
            return audio, self.relay.subscribe(self.file.video, buffered=False)
        if self.player is not None:
            return None, self.relay.subscribe(self.player.video, buffered=False)
        return AudioStreamTrack(), PacketTrack(self.pattern)

    def start(self) -> None:
        if self.file is not None:
            self.file.start()

    @property
    def ended(self) -> bool:
        return (
            self.file is not None
            and self.file.ended.is_set()
            and self.file.video.readyState != "live"
        )

    async def stop(self) -> None:
        if self.file is not None:
            await self.file.stop()
        if self.player is not None and self.player.video is not None:
            self.player.video.stop()


async def connect(opts: PublishOptions, source: Source) -> tuple[RTCPeerConnection, str]:
    ice = opts.ice or IceOptions()
    pc = ice.peer()
    audio_track, video_track = source.tracks()
    if audio_track is not None:
        pc.addTransceiver(audio_track, direction="sendonly")
    video = pc.addTransceiver(video_track, direction="sendonly")
    wanted = [
        c
        for c in video.sender.getCapabilities("video").codecs
        if c.mimeType in (f"video/{source.codec}", "video/rtx")
    ]
    video.setCodecPreferences(wanted)
    url = endpoint(opts.server, "whip", opts.session)
    location = await negotiate(pc, url, opts.token, f"publish {opts.session}", ice.addresses)
    return pc, location


async def supervise(
    pc: RTCPeerConnection,
    source: Source,
    opts: PublishOptions,
    stop: asyncio.Event,
    console: Console,
    deadline: float | None,
) -> str:
    """Until the end: 'stopped' (asked to, or --for is over), 'ended' (end of the file),
    or 'lost' (no word from the server for SILENT_S, or the connection failed)."""
    opened = time.monotonic()
    rate = Rate()
    next_print = opened + opts.stats_every
    while True:
        if stop.is_set() or (deadline is not None and time.monotonic() >= deadline):
            return "stopped"
        if source.ended:
            return "ended"
        if pc.connectionState in ("failed", "closed"):
            return "lost"
        sample = await publisher_sample(pc)
        now = time.monotonic()
        heard = sample.last_report.timestamp() if sample.last_report else None
        if pc.connectionState == "connected":
            silent_since = opened if heard is None else max(opened, now - (time.time() - heard))
            if now - silent_since > SILENT_S:
                return "lost"
        elif now - opened > CONNECT_S:
            return "lost"
        if now >= next_print:
            next_print = now + opts.stats_every
            sent = rate.step(bytes=sample.bytes_sent)["bytes"]
            rtt = f"{sample.rtt_s * 1000:.0f} ms" if sample.rtt_s is not None else "-"
            loss = f"{sample.loss:.1%}" if sample.loss is not None else "-"
            console.print(
                f"{time.strftime('%H:%M:%S')} {pc.connectionState:10} sending {kbps(sent)}"
                f"  RTT {rtt}  loss {loss}",
                highlight=False,
            )
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.5):
                await stop.wait()


async def publish_command(opts: PublishOptions, console: Console) -> int:
    source = Source(opts)  # a bad file or device fails here, before anything is sent
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    deadline = time.monotonic() + opts.duration if opts.duration else None
    first, failures = True, 0
    stale: str | None = None  # the resource of a connection lost: ended before a new one
    try:
        while not stop.is_set():
            if stale is not None:
                # After a network loss the server may still hold it as live (and refuse
                # a second publisher): end it first, if the server can be reached.
                await end(stale, opts.token)
                stale = None
            try:
                pc, location = await connect(opts, source)
            except (UnreachableError, BusyError) as err:
                if first:
                    raise
                wait = BACKOFF_S[min(failures, len(BACKOFF_S) - 1)]
                failures += 1
                console.print(f"{err.message}; trying again in {wait:g} s", style="yellow")
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await stop.wait()
                continue
            if first:
                console.print(f"publishing {opts.session}: {source.description}", style="green")
                source.start()
            else:
                console.print(f"publishing {opts.session} again", style="green")
            first, failures = False, 0
            outcome = await supervise(pc, source, opts, stop, console, deadline)
            await pc.close()
            if outcome == "lost":
                stale = location
            else:
                await end(location, opts.token)
            if outcome == "ended":
                console.print("end of file: stopped publishing")
                return 0
            if outcome == "stopped":
                return 0
            console.print("lost the server: publishing again", style="yellow")
        return 0
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await source.stop()
