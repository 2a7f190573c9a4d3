"""The synthetic lecture: encoded once, relayed to every streamed session, decodable."""

from __future__ import annotations

import asyncio

import av
import pytest

from podium_http import wait_until
from podium_server.media.demo_stream import DemoStream, LecturePattern, tone_frames
from podium_server.media.service import MediaService

from .peers import publish, watch

pytestmark = pytest.mark.media


def test_pattern_moves_and_shows_text() -> None:
    pattern = LecturePattern(160, 120)
    a = bytes(pattern.frame(0, "12:00:00  000000").planes[0])
    b = bytes(pattern.frame(1, "12:00:00  000001").planes[0])
    assert a != b
    assert b"\xeb" * 6 in a  # strokes of the digits
    assert len(tone_frames()) == 50


async def test_demo_feeds_two_sessions_from_one_encoder(media: MediaService) -> None:
    demo = DemoStream([media.relay("s1"), media.relay("s2")])
    demo.start()

    def whep(session: str):  # type: ignore[no-untyped-def]
        async def post(offer: str) -> str:
            return (await media.watch(session, offer, participant_id=None))[1]

        return post

    viewers = [await watch(whep("s1")), await watch(whep("s2"))]
    try:
        assert all(await asyncio.gather(*(v.wait_frames(5, within=8) for v in viewers)))
        for v in viewers:
            assert v.sizes == {(640, 360)}
            # Audio decodes on its own schedule: a loaded machine may lag the video.
            assert await wait_until(lambda v=v: bool(v.audio_frames), 5), "no audio"
        video = [media.relays[s].sources["video"].packets for s in ("s1", "s2")]
        assert video[0] == video[1] > 0  # the same packets, encoded once
    finally:
        for v in viewers:
            await v.close()
        await demo.stop()


async def test_a_speaker_takes_over_the_demo_and_gives_it_back(
    media: MediaService, vp8_packets: list[av.Packet]
) -> None:
    relay = media.relay("s1")
    demo = DemoStream([relay])
    demo.start()

    async def whip(offer: str) -> str:
        return (await media.publish("s1", offer))[1]

    async def whep(offer: str) -> str:
        return (await media.watch("s1", offer, participant_id=None))[1]

    viewer = await watch(whep)
    pub = None
    video = relay.sources["video"]
    try:
        assert await viewer.wait_frames(5, within=8)
        assert viewer.sizes == {(640, 360)}  # the demo lecture
        pub = await publish(whip, vp8_packets)
        for _ in range(100):  # polling: the relay has no event for "speaker on air"
            if relay.publisher_sending is not None:
                break
            await asyncio.sleep(0.05)
        assert relay.publisher_sending is not None
        epoch, demo_frames = video.epoch, demo.frames
        n = len(viewer.video_frames)
        assert await viewer.wait_frames(n + 30, within=8), "the speaker's frames did not arrive"
        assert (320, 180) in viewer.sizes
        # One input only while the speaker is on: no epoch flips, the demo feeds nothing.
        assert video.epoch == epoch and demo.frames > demo_frames
        packets = video.packets
        await asyncio.sleep(0.5)
        assert 10 <= video.packets - packets < 200  # the speaker's rate, not spliced

        await media.end_publisher("s1", relay.publisher_id or "")
        await pub.close()
        pub = None
        # The speaker's last frames may still be queued in the viewer's decoder: the
        # first lecture frame ends them (frames are decoded in order).
        viewer.sizes.clear()
        assert await wait_until(lambda: (640, 360) in viewer.sizes, 10), "no demo frame"
        viewer.sizes.clear()
        n = len(viewer.video_frames)
        assert await viewer.wait_frames(n + 10, within=10), "the demo did not go on"
        assert viewer.sizes == {(640, 360)}
        assert video.epoch == epoch + 1
        assert viewer.pc.connectionState == "connected"
        audio_before = len(viewer.audio_frames)
        await asyncio.sleep(0.5)
        assert len(viewer.audio_frames) > audio_before
    finally:
        await viewer.close()
        if pub is not None:
            await pub.close()
        await demo.stop()
