"""`loadtest viewers`: WHEP viewers of one session that count what they receive without
decoding it (so many fit on one machine), joining a few at a time; then how many got a
picture, time to first frame, frames a second per viewer and loss."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

from aiortc import RTCPeerConnection, RTCSessionDescription
from rich.console import Console

from ..errors import ClientError
from ..ice import IceOptions, offer_addresses
from ..media import tap
from ..media.stats import viewer_sample
from ..whip import end, endpoint, offer
from .guard import MAX_SECONDS, MAX_VIEWERS, check_bounds, check_target
from .summary import ms, pct, run_with_progress, table

SETTLE_S = 3.0


@dataclass
class ViewerLoad:
    server: str
    token: str
    session: str
    viewers: int = 10
    seconds: float = 10.0
    allow_remote: bool = False
    ice: IceOptions | None = None


class CountingViewer:
    """A viewer that counts complete encoded video frames (aiortc assembles them; nothing
    is decoded)."""

    def __init__(self, ice: IceOptions) -> None:
        self.ice = ice
        self.pc: RTCPeerConnection = ice.peer()
        self.started = 0.0
        self.first_frame: float | None = None
        self.frames = 0
        self.location: str | None = None
        self.seen = asyncio.Event()  # set at the first video frame

    def on_frame(self, mime: str, data: bytes, timestamp: int, whole: bool) -> None:
        if whole and mime.lower().startswith("video/"):
            if self.first_frame is None:
                self.first_frame = time.monotonic() - self.started
                self.seen.set()
            self.frames += 1

    async def connect(self, url: str, token: str, what: str) -> None:
        self.started = time.monotonic()
        for kind in ("audio", "video"):
            transceiver = self.pc.addTransceiver(kind, direction="recvonly")
            tap.install(transceiver.receiver, self.on_frame, decode=False)
        offer_addresses(self.pc, self.ice.addresses)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        exchange = await offer(url, token, self.pc.localDescription.sdp, what)
        self.location = exchange.location
        await self.pc.setRemoteDescription(
            RTCSessionDescription(sdp=exchange.answer, type="answer")
        )

    async def close(self, token: str) -> None:
        if self.location is not None:
            await end(self.location, token)
        await self.pc.close()


async def run_viewers(load: ViewerLoad, console: Console) -> int:
    check_target(load.server, load.allow_remote)
    check_bounds("--viewers", load.viewers, MAX_VIEWERS)
    check_bounds("--seconds", load.seconds, MAX_SECONDS)
    ice = load.ice or IceOptions()
    url = endpoint(load.server, "whep", load.session)
    viewers = [CountingViewer(ice) for _ in range(load.viewers)]
    what = f"watch {load.session}"
    try:
        for start in range(0, len(viewers), 5):  # a few at a time, as people arrive
            await asyncio.gather(
                *(v.connect(url, load.token, what) for v in viewers[start : start + 5])
            )
        # Counted from SETTLE_S after the last one's first frame (waiting 3 s at most for
        # it): a joining viewer first gets the pictures since the last keyframe in a
        # burst, to catch up, which is no rate.
        waits = [asyncio.create_task(v.seen.wait()) for v in viewers]
        await asyncio.wait(waits, timeout=3.0)
        for task in waits:
            task.cancel()
        await asyncio.sleep(SETTLE_S)
        counted_from = time.monotonic()
        frames_before = [v.frames for v in viewers]
        before = [await viewer_sample(v.pc) for v in viewers]

        def status() -> str:
            seeing = sum(1 for v in viewers if v.first_frame is not None)
            return f"{seeing}/{len(viewers)} with video  {sum(v.frames for v in viewers):,} frames"

        await run_with_progress(console, "viewers", load.seconds, status)
        took = time.monotonic() - counted_from
        after = [await viewer_sample(v.pc) for v in viewers]
    finally:
        for v in viewers:
            with contextlib.suppress(Exception):
                await v.close(load.token)
    ttff = [v.first_frame for v in viewers if v.first_frame is not None]
    fps = [(v.frames - b) / took for v, b in zip(viewers, frames_before, strict=True)]
    received = sum(a.received - b.received for a, b in zip(after, before, strict=True))
    lost = sum(a.lost - b.lost for a, b in zip(after, before, strict=True))
    rows = [
        ("viewers", str(load.viewers)),
        ("with video", str(len(ttff))),
        ("first frame p50", ms(pct(ttff, 0.5))),
        ("first frame p95", ms(pct(ttff, 0.95))),
        ("frames/s per viewer (mean)", f"{sum(fps) / len(fps):.1f}"),
        ("frames/s per viewer (lowest)", f"{min(fps):.1f}"),
        ("packets received", f"{received:,}"),
        ("packets lost", f"{lost:,}" + (f" ({lost / (received + lost):.2%})" if received else "")),
    ]
    console.print(table(f"viewers of {load.session} on {load.server}", rows))
    if not ttff:
        raise ClientError(f"no viewer got video from {load.session}: is someone publishing?")
    return 0
