"""The synthetic lecture: encoded once, relayed to every streamed session, decodable."""

from __future__ import annotations

import asyncio

import pytest

from podium_server.media.demo_stream import DemoStream, LecturePattern, tone_frames
from podium_server.media.service import MediaService

from .peers import watch

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
            assert v.audio_frames
        video = [media.relays[s].sources["video"].packets for s in ("s1", "s2")]
        assert video[0] == video[1] > 0  # the same packets, encoded once
    finally:
        for v in viewers:
            await v.close()
        await demo.stop()
