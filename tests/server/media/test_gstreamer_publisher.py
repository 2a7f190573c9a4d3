"""A publisher nobody here wrote: GStreamer's webrtcbin (Debian's packages, run by the
system python3 in gst_whip_publish.py) publishing over WHIP to a real Podium on
127.0.0.1, with GStreamer's default 1400-byte packets; an aiortc viewer joins while it
is live and must decode pictures and receive audio."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiortc.rtp import RTCP_RTPFB_NACK, RtcpRtpfbPacket

from podium_http import Podium, start_podium, wait_until
from podium_server import appkeys as keys
from podium_server.config import Config
from podium_server.media.relay import Packet

from .peers import ViewerResult, watch

pytestmark = pytest.mark.media

SCRIPT = Path(__file__).with_name("gst_whip_publish.py")
SYSTEM_PYTHON = "/usr/bin/python3"  # has python3-gi; the venv does not


@dataclass
class GstPublisher:
    proc: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None

    async def wait_for(self, prefix: str, within: float) -> str:
        async with asyncio.timeout(within):
            while True:
                for line in self.lines:
                    if line.startswith(prefix):
                        return line
                if self.proc.returncode is not None:
                    raise AssertionError(f"publisher exited: {self.lines}")
                await asyncio.sleep(0.05)

    async def finish(self, within: float) -> int:
        """Let the publisher end by itself (it DELETEs its resource), then reap it."""
        async with asyncio.timeout(within):
            await self.proc.wait()
        return await self.stop()

    async def stop(self) -> int:
        if self.proc.returncode is None:
            self.proc.terminate()
        code = await self.proc.wait()
        if self.reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self.reader
        return code


def system_python() -> str:
    """Never a silent skip: GStreamer is part of the test set-up (Debian packages)."""
    if not Path(SYSTEM_PYTHON).exists() or not Path("/usr/bin/gst-inspect-1.0").exists():
        pytest.fail("GStreamer tests need Debian's python3-gi and gstreamer1.0 packages")
    return SYSTEM_PYTHON


async def gst_publish(
    podium: Podium, session: str, codec: str, seconds: float, *extra: str
) -> GstPublisher:
    proc = await asyncio.create_subprocess_exec(
        system_python(),
        str(SCRIPT),
        f"{podium.url}/whip/{session}",
        podium.token("speaker", session=session),
        "--codec",
        codec,
        "--seconds",
        str(seconds),
        *extra,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    publisher = GstPublisher(proc)

    async def read() -> None:
        assert proc.stdout is not None
        async for raw in proc.stdout:
            publisher.lines.append(raw.decode(errors="replace").rstrip())

    publisher.reader = asyncio.get_running_loop().create_task(read())
    return publisher


def largest_packet(podium: Podium, session: str) -> list[int]:
    """Records the largest RTP packet (12-byte header + payload) the session receives."""
    largest = [0]

    def tap(p: Packet) -> None:
        largest[0] = max(largest[0], 12 + len(p.payload))

    podium.media.relay(session).sources["video"].taps.append(tap)
    return largest


@pytest.mark.parametrize(
    ("codec", "mime"), [("h264", "video/h264"), ("vp8", "video/vp8")], ids=["h264", "vp8"]
)
async def test_gstreamer_publisher_reaches_a_late_viewer_with_1400_byte_packets(
    podium: Podium, codec: str, mime: str
) -> None:
    largest = largest_packet(podium, "s1")
    publisher = await gst_publish(podium, "s1", codec, seconds=30)
    viewer: ViewerResult | None = None
    relay = podium.media.relay("s1")
    try:
        answer = await publisher.wait_for("answer", within=20)
        assert answer.startswith("answer 201"), publisher.lines
        assert await wait_until(lambda: relay.sources["video"].packets > 60, 20), publisher.lines
        codec_info = relay.sources["video"].codec
        assert codec_info is not None and codec_info.mime_type.lower() == mime
        await asyncio.sleep(1.0)  # the stream is live: the viewer below joins late
        viewer = await watch(podium.whep("s1"))  # type: ignore[arg-type]
        assert await viewer.wait_frames(15, within=10), (len(viewer.video_frames), publisher.lines)
        assert viewer.sizes == {(640, 480)}
        assert await wait_until(lambda: len(viewer.audio_frames) > 10, 5), "no audio decoded"
        assert 1356 < largest[0] <= 1400, largest
        # None refused or too long (a loaded machine may still overflow a viewer's queue).
        assert set(podium.media.stats.packets_dropped) <= {"queue-full"}
        (server_viewer,) = relay.viewers.values()
        track = server_viewer.tracks["video"]
        # The viewer asks again for one of GStreamer's full-size packets: it is resent.
        seq = next(
            s & 0xFFFF
            for s in range(track.last_seq - 200, track.last_seq)
            if (p := track.history[s & track.mask]) is not None
            and 12 + len(p.payload) > 1356
            and (p.seq + track.seq_off) & 0xFFFF == s & 0xFFFF
        )
        resent, sent = track.resent, track.outbox.sent
        await server_viewer.handle_rtcp(
            RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=1, media_ssrc=track.ssrc, lost=[seq])
        )
        assert track.resent == resent + 1 and track.outbox.sent > sent
    finally:
        if viewer is not None:
            await viewer.close()
        await publisher.stop()


@pytest.fixture
async def demo_podium(make_config: Callable[..., Config]) -> AsyncIterator[Podium]:
    p = await start_podium(make_config(demo=True, demo_stream=True), None)
    try:
        yield p
    finally:
        await p.server.close()


async def test_demo_lecture_yields_to_a_gstreamer_speaker_and_comes_back(
    demo_podium: Podium,
) -> None:
    event = demo_podium.server.app[keys.EVENT].require()
    session = next(s.id for s in event.sessions if s.stream)
    relay = demo_podium.media.relay(session)
    viewer = await watch(demo_podium.whep(session))  # type: ignore[arg-type]
    publisher: GstPublisher | None = None
    try:
        assert await viewer.wait_frames(5, within=10)
        assert viewer.sizes == {(640, 360)}  # the demo lecture
        publisher = await gst_publish(demo_podium, session, "vp8", seconds=6)
        assert (await publisher.wait_for("answer", within=20)).startswith("answer 201")
        assert await wait_until(lambda: relay.publisher_sending is not None, 20)
        # The speaker's first packet may be audio: the video epoch is the speaker's
        # once the speaker's picture has reached the viewer.
        assert await wait_until(lambda: (640, 480) in viewer.sizes, 10), "no speaker frame"
        epoch = relay.sources["video"].epoch
        n = len(viewer.video_frames)
        assert await viewer.wait_frames(n + 30, within=10)
        assert relay.sources["video"].epoch == epoch  # the demo does not interleave
        # The speaker leaves (DELETE after 6 s): the lecture resumes for the same viewer.
        assert await publisher.finish(within=15) == 0, publisher.lines
        assert "deleted 200" in publisher.lines
        # The speaker's last frames may still be queued in the viewer's decoder: the
        # first lecture frame ends them (frames are decoded in order).
        viewer.sizes.clear()
        assert await wait_until(lambda: (640, 360) in viewer.sizes, 10), "no demo frame"
        viewer.sizes.clear()
        n = len(viewer.video_frames)
        assert await viewer.wait_frames(n + 10, within=10), "the demo did not go on"
        assert viewer.sizes == {(640, 360)}
        assert viewer.pc.connectionState == "connected"
    finally:
        await viewer.close()
        if publisher is not None:
            await publisher.stop()


async def test_gstreamer_publisher_trickling_its_candidates_by_patch(podium: Podium) -> None:
    """The offer goes out before gathering ends; candidates follow by PATCH + If-Match."""
    publisher = await gst_publish(podium, "s1", "h264", 20, "--trickle")
    relay = podium.media.relay("s1")
    viewer: ViewerResult | None = None
    try:
        assert (await publisher.wait_for("answer", within=20)).startswith("answer 201")
        assert await wait_until(lambda: relay.publisher_sending is not None, 15), publisher.lines
        assert await wait_until(
            lambda: any(ln.startswith("patch 204") for ln in publisher.lines), 10
        ), publisher.lines
        assert not [ln for ln in publisher.lines if ln.startswith("patch 4")], publisher.lines
        assert podium.media.stats.trickled_candidates >= 1
        viewer = await watch(podium.whep("s1"), audio=False)  # type: ignore[arg-type]
        assert await viewer.wait_frames(10, within=10), publisher.lines
    finally:
        if viewer is not None:
            await viewer.close()
        await publisher.stop()
