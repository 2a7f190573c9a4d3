"""`podium-client watch`: a WHEP viewer that prints frames a second, bitrate, loss and
jitter; `--record` writes what it receives without transcoding. With a trainee token it
is counted online as the watch page is: the server measures the media it delivers and
the receiver reports coming back, and `presence` is sent on /ws every 30 s."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import av
from aiortc import RTCPeerConnection
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from rich.console import Console

from .errors import EXIT_FAILED, EXIT_OK, ClientError, UnreachableError
from .ice import IceOptions
from .media import tap
from .media.recorder import MkvRecorder
from .media.stats import Rate, kbps, viewer_sample
from .whip import end, endpoint, negotiate
from .ws_session import Offline, WsSession

SILENT_S = 8.0  # no picture for this long: watch again
FIRST_FRAME_S = 15.0
PRESENCE_EVERY_S = 30.0
BACKOFF_S = (1.0, 2.0, 3.0, 5.0)


@dataclass
class WatchOptions:
    server: str
    token: str
    session: str
    record: Path | None = None
    duration: float | None = None
    stats_every: float = 5.0
    ice: IceOptions | None = None


@dataclass
class Counts:
    frames: int = 0  # decoded video frames
    encoded_bytes: int = 0
    last_frame: float = 0.0
    size: tuple[int, int] | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


async def connect(
    opts: WatchOptions, counts: Counts, recorder: MkvRecorder | None
) -> tuple[RTCPeerConnection, str]:
    ice = opts.ice or IceOptions()
    pc = ice.peer()

    def on_frame(mime: str, data: bytes, timestamp: int, whole: bool) -> None:
        counts.encoded_bytes += len(data)
        if recorder is not None:
            recorder.on_frame(mime, data, timestamp, whole)

    for kind in ("audio", "video"):
        transceiver = pc.addTransceiver(kind, direction="recvonly")
        tap.install(transceiver.receiver, on_frame, decode=kind == "video")

    async def consume(track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                frame = await track.recv()
                if isinstance(frame, av.VideoFrame):
                    counts.frames += 1
                    counts.last_frame = time.monotonic()
                    counts.size = (frame.width, frame.height)
                    if recorder is not None:
                        recorder.size = counts.size

    @pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        if track.kind == "video":  # audio is tapped, not decoded
            counts.tasks.append(asyncio.ensure_future(consume(track)))

    url = endpoint(opts.server, "whep", opts.session)
    location = await negotiate(pc, url, opts.token, f"watch {opts.session}", ice.addresses)
    return pc, location


async def presence(opts: WatchOptions, console: Console, stop: asyncio.Event) -> None:
    """Say `watching` every 30 s like the page (a trainee's token only; it never counts
    by itself), and `left` at the end. The server being away only delays it."""
    session: WsSession | None = None
    try:
        while not stop.is_set():
            try:
                if session is None or session.closed:
                    session = await WsSession.open(opts.server, opts.token, "podium-client watch")
                    if session.welcome.get("role") != "trainee":
                        return
                msg = {"type": "presence", "session": opts.session, "state": "watching"}
                await session.request(msg)
            except Offline:
                session = None
            except ClientError as err:
                console.print(f"presence not sent: {err.message}", style="yellow")
                return
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(PRESENCE_EVERY_S):
                    await stop.wait()
        if session is not None and not session.closed:
            with contextlib.suppress(Offline, ClientError):
                await session.request(
                    {"type": "presence", "session": opts.session, "state": "left"}
                )
    finally:
        if session is not None:
            await session.close()


async def supervise(
    pc: RTCPeerConnection,
    opts: WatchOptions,
    counts: Counts,
    stop: asyncio.Event,
    console: Console,
    deadline: float | None,
) -> str:
    """'stopped' (asked to, or --for is over) or 'lost' (no picture for a while)."""
    opened = time.monotonic()
    frames_at_open = counts.frames
    rate = Rate(values={"frames": counts.frames, "bytes": counts.encoded_bytes})
    before = await viewer_sample(pc)
    next_print = opened + opts.stats_every
    while True:
        now = time.monotonic()
        if stop.is_set() or (deadline is not None and now >= deadline):
            return "stopped"
        if pc.connectionState in ("failed", "closed"):
            return "lost"
        if counts.frames == frames_at_open:
            if now - opened > FIRST_FRAME_S:
                return "lost"
        elif now - counts.last_frame > SILENT_S:
            return "lost"
        if now >= next_print:
            next_print = now + opts.stats_every
            rates = rate.step(frames=counts.frames, bytes=counts.encoded_bytes)
            sample = await viewer_sample(pc)
            got = sample.received - before.received
            lost = sample.lost - before.lost
            before = sample
            loss = f"{lost / (got + lost):.1%}" if got + lost > 0 else "-"
            jitter = f"{sample.jitter_ms:.0f} ms" if sample.jitter_ms is not None else "-"
            size = f"{counts.size[0]}x{counts.size[1]}" if counts.size else "-"
            console.print(
                f"{time.strftime('%H:%M:%S')} {rates['frames']:5.1f} frames/s {size:>9}"
                f"  {kbps(rates['bytes'])}  loss {loss}  jitter {jitter}",
                highlight=False,
            )
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.5):
                await stop.wait()


async def watch_command(opts: WatchOptions, console: Console) -> int:
    recorder = MkvRecorder(opts.record) if opts.record is not None else None
    counts = Counts()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    started = time.monotonic()
    deadline = started + opts.duration if opts.duration else None
    presence_task: asyncio.Task[None] | None = None
    first, failures = True, 0
    stale: str | None = None  # a lost connection's resource, ended before the next one
    try:
        while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
            if stale is not None:
                await end(stale, opts.token)
                stale = None
            try:
                pc, location = await connect(opts, counts, recorder)
            except UnreachableError as err:
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
                console.print(f"watching {opts.session}", style="green")
                presence_task = asyncio.create_task(presence(opts, console, stop))
            first, failures = False, 0
            outcome = await supervise(pc, opts, counts, stop, console, deadline)
            await pc.close()
            if outcome == "lost":
                stale = location
            else:
                await end(location, opts.token)
            for task in counts.tasks:
                task.cancel()
            counts.tasks.clear()
            if outcome == "lost":
                console.print("no picture: watching again", style="yellow")
    finally:
        stop.set()
        if presence_task is not None:
            with contextlib.suppress(Exception):
                await presence_task
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        if recorder is not None:
            recorder.close()
    took = time.monotonic() - started
    console.print(f"received {counts.frames} video frames in {took:.0f} s", highlight=False)
    if recorder is not None:
        broken = f" ({recorder.broken} broken by loss left out)" if recorder.broken else ""
        console.print(f"recorded {recorder.frames} video frames to {recorder.path}{broken}")
    if counts.frames == 0:
        raise ClientError(f"no video received from {opts.session} in {took:.0f} s", EXIT_FAILED)
    return EXIT_OK
