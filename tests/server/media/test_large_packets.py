"""RTP packets up to the MTU reach every viewer on every path: live, the late joiner's
keyframe replay, and NACK retransmits; a packet too long for any path is dropped and
counted, and the viewer's other packets go on."""

from __future__ import annotations

import asyncio

import av
import pytest
from aiortc.rtp import RTCP_RTPFB_NACK, RtcpRtpfbPacket
from pylibsrtp import Policy, Session

from podium_server.media import aiortc_private
from podium_server.media.aiortc_private import MAX_RTP_PACKET, Unsendable, protect_rtp
from podium_server.media.service import MediaService

from .feeds import LargePacketFeed
from .peers import encode_vp8, watch

pytestmark = pytest.mark.media

GSTREAMER_MTU = 1400  # rtph264pay/rtpvp8pay default: RTP packets up to 1400 bytes


def srtp_pair() -> tuple[Session, Session]:
    key = bytes(range(30))
    tx = Session(policy=Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND))
    rx = Session(policy=Policy(key=key, ssrc_type=Policy.SSRC_ANY_INBOUND))
    return tx, rx


@pytest.mark.parametrize("size", [1357, 1412, MAX_RTP_PACKET])
def test_protect_takes_packets_up_to_the_mtu_less_the_tag(size: int) -> None:
    tx, rx = srtp_pair()
    packet = bytes([0x80, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 7]) + bytes(size - 12)
    protected = protect_rtp(tx, packet)
    assert len(protected) <= aiortc_private.MTU
    assert rx.unprotect(protected) == packet
    with pytest.raises(ValueError, match="too long"):
        tx.protect(packet)  # pylibsrtp's own buffer: what the slow path used to call


def test_protect_refuses_a_packet_over_the_mtu() -> None:
    tx, _ = srtp_pair()
    with pytest.raises(Unsendable):
        protect_rtp(tx, bytes([0x80, 96]) + bytes(MAX_RTP_PACKET - 1))


@pytest.fixture(scope="module")
def detailed_vp8() -> list[av.Packet]:
    """640x480 with detail at 2.5 Mbps: keyframe and delta frames span many full packets."""
    return encode_vp8(45, 640, 480, bitrate=2_500_000)


async def test_late_joiner_gets_1400_byte_packets_replayed_nacked_and_live(
    media: MediaService, detailed_vp8: list[av.Packet]
) -> None:
    relay = media.relay("s1")
    feed = LargePacketFeed(relay, detailed_vp8, max_payload=GSTREAMER_MTU - 12)
    feed.start()
    early = late = None
    try:
        early = await watch(lambda o: _whep(media, o))
        assert await early.wait_frames(10, within=8), len(early.video_frames)
        # The late joiner's first packets are the cached GOP, replayed on the slow path.
        late = await watch(lambda o: _whep(media, o))
        assert await late.wait_frames(15, within=8), len(late.video_frames)
        assert late.sizes == {(640, 480)}
        await asyncio.sleep(0.3)
        assert late.audio_frames, "no audio reached the late joiner"
        assert feed.largest == GSTREAMER_MTU - 12 > 1356 - 12
        # None refused or too long (a loaded machine may still overflow a viewer's queue).
        assert set(media.stats.packets_dropped) <= {"queue-full"}

        # A NACK for a full-size packet is answered (slow path again).
        viewer = next(v for v in relay.viewers.values() if v.tracks["video"].packets > 50)
        track = viewer.tracks["video"]
        seq = next(
            s
            for s in range(track.last_seq - 40, track.last_seq)
            if (p := track.history[s & track.mask]) is not None
            and len(p.payload) == GSTREAMER_MTU - 12
            and (p.seq + track.seq_off) & 0xFFFF == s & 0xFFFF
        )
        resent, sent, dropped = track.resent, track.outbox.sent, track.outbox.dropped
        nack = RtcpRtpfbPacket(
            fmt=RTCP_RTPFB_NACK, ssrc=1, media_ssrc=track.ssrc, lost=[seq & 0xFFFF]
        )
        await viewer.handle_rtcp(nack)
        assert track.resent == resent + 1
        assert track.outbox.sent >= sent + 1 and track.outbox.dropped == dropped

        # A packet no path can carry is dropped for each viewer and counted; both go on.
        frames = [len(early.video_frames), len(late.video_frames)]
        feed.publish("video", bytes([0x00]) + bytes(MAX_RTP_PACKET), 0, 0)
        assert media.stats.packets_dropped.get("too-long") == 2
        assert await early.wait_frames(frames[0] + 15, within=5)
        assert await late.wait_frames(frames[1] + 15, within=5)
        for v in (early, late):
            assert v.pc.connectionState == "connected"
    finally:
        for v in (early, late):
            if v is not None:
                await v.close()
        await feed.stop()


async def _whep(media: MediaService, offer: str) -> str:
    return (await media.watch("s1", offer, participant_id=None))[1]
