"""Recording a live session to an rtpdump file, without transcoding."""

from __future__ import annotations

import asyncio
from pathlib import Path

import av
import pytest
from aiortc.rtp import RtpPacket

from podium_server.media.keyframes import vp8_is_keyframe_start
from podium_server.media.peer import IceSettings
from podium_server.media.recorder import read_rtpdump
from podium_server.media.service import MediaService

from .peers import LOOPBACK, publish

pytestmark = pytest.mark.media


async def test_live_session_is_recorded_as_relayed_rtp(
    tmp_path: Path, vp8_packets: list[av.Packet]
) -> None:
    media = MediaService(ice=IceSettings(addresses=LOOPBACK), record_dir=tmp_path / "rec")
    await media.start()

    async def whip(offer: str) -> str:
        return (await media.publish("s1", offer))[1]

    pub = await publish(whip, vp8_packets)
    try:
        await asyncio.sleep(1.5)
    finally:
        await pub.close()
        await media.close()
    files = sorted((tmp_path / "rec").glob("s1-*.rtpdump"))
    assert len(files) == 1
    packets = [RtpPacket.parse(data) for _, data in read_rtpdump(files[0])]
    video = [p for p in packets if p.payload_type == 96]
    audio = [p for p in packets if p.payload_type == 111]
    assert len(video) > 20 and len(audio) > 20
    assert vp8_is_keyframe_start(video[0].payload)  # the stream as the publisher sent it
    assert files[0].with_suffix(".json").exists()
