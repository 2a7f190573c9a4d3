"""Real aiortc peers over 127.0.0.1 through the relay (no HTTP)."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import av
import pytest

from podium_server.media.peer import IceSettings
from podium_server.media.service import MediaService
from podium_server.media.session import RelayPolicy

from .peers import LOOPBACK, Signal, inbound_stats, pause_reading, publish, watch

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
        # Steady state runs on the fan-out's fast path (shared buffer, direct sendto).
        relay = media.relays["s1"]
        for viewer in relay.viewers.values():
            for kind, track in viewer.tracks.items():
                assert track.wire is not None and track.wire.live, kind
                assert track.fast_epoch == relay.sources[kind].epoch, kind
    finally:
        for v in viewers:
            await v.close()
        await pub.close()


def signals(media: MediaService, participant: str | None = None) -> tuple[Signal, Signal]:
    async def whip(offer: str) -> str:
        return (await media.publish("s1", offer))[1]

    async def whep(offer: str) -> str:
        return (await media.watch("s1", offer, participant_id=participant))[1]

    return whip, whep


@pytest.mark.parametrize("gop_cache_packets", [1500, 4], ids=["gop", "keyframe-only"])
async def test_late_joiner_decodes_within_a_second_from_a_publisher_ignoring_pli(
    relay_policy: RelayPolicy, vp8_packets: list[av.Packet], gop_cache_packets: int
) -> None:
    policy = dataclasses.replace(relay_policy, gop_cache_packets=gop_cache_packets)
    media = MediaService(ice=IceSettings(addresses=LOOPBACK), policy=policy)
    await media.start()
    whip, whep = signals(media)
    # The test publisher sends pre-encoded frames: one keyframe at the start, PLI ignored.
    pub = await publish(whip, vp8_packets, audio=False)
    try:
        await asyncio.sleep(1.5)
        late = await watch(whep, audio=False)
        assert await late.wait_frames(1, within=1.0), "no decodable frame within 1 s"
        assert late.first_frame_after is not None and late.first_frame_after < 1.0
        assert media.relays["s1"].sources["video"].keyframe_requests <= 2
        await late.close()
    finally:
        await pub.close()
        await media.close()


async def test_stalled_viewer_does_not_delay_the_others_and_is_dropped(
    media: MediaService, vp8_packets: list[av.Packet]
) -> None:
    whip, whep = signals(media)
    pub = await publish(whip, vp8_packets, audio=False)
    viewers = [await watch(whep, audio=False) for _ in range(3)]
    try:
        assert all(await asyncio.gather(*(v.wait_frames(10, within=5) for v in viewers)))
        stalled, healthy = viewers[0], viewers[1:]
        pause_reading(stalled.pc)
        before = [len(v.video_frames) for v in healthy]
        t0 = time.monotonic()
        # Dropped once no receiver report has shown progress for the policy's 3 s.
        for _ in range(80):  # polling the service: it has no event for this
            if len(media.viewers) <= 2:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
        elapsed = time.monotonic() - t0
        assert len(media.viewers) == 2, "the stalled viewer was not dropped"
        for v, n in zip(healthy, before, strict=True):
            got = len(v.video_frames) - n
            assert got >= 0.8 * 30 * elapsed, f"a healthy viewer got {got} frames in {elapsed:.1f}s"
            gaps = [
                b - a for a, b in zip(v.video_frames[n:], v.video_frames[n + 1 :], strict=False)
            ]
            assert max(gaps) < 0.5
        assert media.stats.drop_reasons.get("no receiver reports") == 1
    finally:
        for v in viewers:
            await v.close()
        await pub.close()


async def test_publisher_reconnect_keeps_viewers_with_continuous_numbers(
    media: MediaService, vp8_packets: list[av.Packet]
) -> None:
    whip, whep = signals(media)
    pub = await publish(whip, vp8_packets)
    viewer = await watch(whep)
    try:
        assert await viewer.wait_frames(15, within=5)
        publisher_id = media.relays["s1"].publisher_id
        assert publisher_id is not None
        await media.end_publisher("s1", publisher_id)
        await pub.close()
        await asyncio.sleep(0.5)
        pub = await publish(whip, vp8_packets)  # a new connection: new SSRCs and numbers
        n = len(viewer.video_frames)
        assert await viewer.wait_frames(n + 30, within=5), "frames stopped after reconnect"
        assert viewer.pc.connectionState == "connected"
        for kind in ("video", "audio"):
            received, lost = await inbound_stats(viewer.pc, kind)
            # A sequence jump would count as tens of thousands of lost packets.
            assert received > 0 and lost < 20, (kind, received, lost)
    finally:
        await viewer.close()
        await pub.close()


async def test_watch_time_is_reported_while_media_flows_and_closed_at_the_end(
    media: MediaService, vp8_packets: list[av.Packet]
) -> None:
    whip, whep = signals(media, participant="p001")
    pub = await publish(whip, vp8_packets)
    viewer = await watch(whep)
    try:
        assert await viewer.wait_frames(30, within=5)
        await asyncio.sleep(2.5)
        open_reports = [i for i in media.watch_log if i.open]
        assert open_reports and open_reports[-1].participant_id == "p001"
        assert open_reports[-1].end - open_reports[-1].start >= 1.0
        resource = next(iter(media.viewers))
        await media.end_viewer("s1", resource)
        closed = [i for i in media.watch_log if not i.open]
        assert len(closed) == 1 and closed[0].interval_id == open_reports[-1].interval_id
        assert closed[0].end >= open_reports[-1].end
    finally:
        await viewer.close()
        await pub.close()
