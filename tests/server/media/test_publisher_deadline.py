"""A WHIP publisher that never connects does not hold its session: it is closed at the
connect deadline, and its own token may replace it at once (a speaker retrying)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import av
import pytest
from aiortc import RTCPeerConnection
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

from podium_server.errors import Conflict
from podium_server.media.ice import offer_addresses, rtc_configuration
from podium_server.media.peer import IceSettings
from podium_server.media.service import MediaService
from podium_server.media.session import RelayPolicy

from .peers import LOOPBACK, publish, watch

pytestmark = pytest.mark.media


@pytest.fixture
async def quick(relay_policy: RelayPolicy) -> AsyncIterator[MediaService]:
    # Short enough for a test, long enough that a loaded machine's scheduling delays are
    # not mistaken for a dead or silent publisher.
    policy = dataclasses.replace(relay_policy, publisher_connect_timeout=2.0, publisher_silence=2.0)
    service = MediaService(ice=IceSettings(addresses=LOOPBACK), policy=policy, tick_interval=0.1)
    await service.start()
    yield service
    await service.close()


async def dead_offer(*, candidates: bool) -> tuple[RTCPeerConnection, str]:
    """A publisher's offer whose sender never takes the answer: no check ever arrives."""
    pc = RTCPeerConnection(rtc_configuration())
    pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
    pc.addTransceiver(VideoStreamTrack(), direction="sendonly")
    offer_addresses(pc, LOOPBACK)
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    if not candidates:  # what a loopback-blind ICE agent sends: nothing to check
        lines = [ln for ln in sdp.split("\r\n") if not ln.startswith("a=candidate:")]
        sdp = "\r\n".join(lines).replace("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0")
    return pc, sdp


@pytest.mark.parametrize("candidates", [False, True], ids=["no-candidate", "dead-candidate"])
async def test_unconnected_publisher_is_closed_at_the_connect_deadline(
    quick: MediaService, candidates: bool
) -> None:
    dead, sdp = await dead_offer(candidates=candidates)
    other, other_sdp = await dead_offer(candidates=True)
    try:
        await quick.publish("s1", sdp, owner="speaker-a")
        with pytest.raises(Conflict):
            await quick.publish("s1", other_sdp, owner="organizer")
        for _ in range(80):  # polling the service's upkeep: it has no event for this
            if not quick.publishers:
                break
            await asyncio.sleep(0.1)
        assert not quick.publishers and quick.stats.publishers_expired == 1
        assert quick.relays["s1"].publisher_id is None
        await quick.publish("s1", other_sdp, owner="organizer")  # the session is free again
    finally:
        await dead.close()
        await other.close()


async def test_same_token_replaces_its_unconnected_publisher_at_once(
    media: MediaService, vp8_packets: list[av.Packet]
) -> None:
    dead, sdp = await dead_offer(candidates=False)
    try:
        first, _ = await media.publish("s1", sdp, owner="speaker-a")
        stranger, stranger_sdp = await dead_offer(candidates=True)
        with pytest.raises(Conflict):  # another token must wait for the deadline
            await media.publish("s1", stranger_sdp, owner="speaker-b")
        await stranger.close()

        async def whip(offer: str) -> str:
            return (await media.publish("s1", offer, owner="speaker-a"))[1]

        async def whep(offer: str) -> str:
            return (await media.watch("s1", offer, participant_id=None))[1]

        pub = await publish(whip, vp8_packets)  # 201 at once, not 409
        viewer = await watch(whep)
        try:
            assert first not in media.publishers and len(media.publishers) == 1
            assert await viewer.wait_frames(10, within=8)
        finally:
            await viewer.close()
            await pub.close()
    finally:
        await dead.close()


async def test_same_token_replaces_its_silent_publisher_but_not_a_sending_one(
    quick: MediaService, vp8_packets: list[av.Packet]
) -> None:
    async def whip(offer: str) -> str:
        return (await quick.publish("s1", offer, owner="speaker-a"))[1]

    pub = await publish(whip, vp8_packets, audio=False)
    relay = quick.relays["s1"]
    retry, retry_sdp = await dead_offer(candidates=True)
    try:
        for _ in range(80):
            if relay.publisher_sending is not None:
                break
            await asyncio.sleep(0.05)
        assert relay.publisher_sending is not None
        with pytest.raises(Conflict):  # connected and sending: the same token waits too
            await quick.publish("s1", retry_sdp, owner="speaker-a")
        # The speaker's sender stops (a frozen app that keeps its connection up).
        pub.getTransceivers()[0].sender.replaceTrack(None)
        await asyncio.sleep(3.0)
        resource, _ = await quick.publish("s1", retry_sdp, owner="speaker-a")
        assert list(quick.publishers) == [resource]
    finally:
        await retry.close()
        await pub.close()
