"""Real aiortc peers over 127.0.0.1 through the relay (no HTTP)."""

from __future__ import annotations

import asyncio

import av
import pytest

from podium_server.media.service import MediaService

from .peers import publish, watch

pytestmark = pytest.mark.media


async def test_publisher_and_three_viewers_all_decode(
    media: MediaService, vp8_packets: list[av.Packet]
) -> None:
    async def whip(offer: str) -> str:
        return (await media.publish("s1", offer))[1]

    async def whep(offer: str) -> str:
        return (await media.watch("s1", offer, participant_id=None))[1]

    pub = await publish(whip, vp8_packets)
    viewers = await asyncio.gather(*(watch(whep) for _ in range(3)))
    try:
        ok = await asyncio.gather(*(v.wait_frames(30, within=8) for v in viewers))
        assert all(ok), [len(v.video_frames) for v in viewers]
        for v in viewers:
            assert v.sizes == {(320, 180)}
            assert v.audio_frames, "opus frames were relayed and decoded"
    finally:
        for v in viewers:
            await v.close()
        await pub.close()
