"""The client's jitter buffer marks whole frames and broken ones (a recording keeps only
whole ones), on aiortc's own RTP packets."""

from __future__ import annotations

from aiortc.codecs import depayload
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import RtpPacket

from podium_client.media.jitter import CheckedJitterBuffer, starts_picture

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)


def vp8_packets(first_seq: int, timestamp: int, parts: int) -> list[RtpPacket]:
    """One picture in `parts` packets: the first has the S bit, the last the marker."""
    out = []
    for i in range(parts):
        descriptor = bytes([0x10 if i == 0 else 0x00])
        packet = RtpPacket(
            payload_type=96,
            sequence_number=(first_seq + i) & 0xFFFF,
            timestamp=timestamp,
            marker=i == parts - 1,
            payload=descriptor + bytes([i]) * 50,
        )
        packet._data = depayload(VP8, packet.payload)  # type: ignore[attr-defined]
        out.append(packet)
    return out


def frames_from(packets: list[RtpPacket]) -> list[tuple[int, bool]]:
    buffer = CheckedJitterBuffer(128, 0, True, {96: VP8})
    out = []
    for packet in packets:
        _, frame = buffer.add(packet)
        if frame is not None:
            out.append((frame.timestamp, frame.complete))  # type: ignore[attr-defined]
    return out


def test_whole_pictures_are_marked_complete() -> None:
    packets = [p for n in range(4) for p in vp8_packets(100 + 3 * n, 3000 * n, 3)]
    assert frames_from(packets) == [(0, True), (3000, True), (6000, True)]


def test_a_picture_joined_in_its_middle_is_marked_broken() -> None:
    packets = [p for n in range(3) for p in vp8_packets(100 + 3 * n, 3000 * n, 3)]
    assert frames_from(packets[1:]) == [(0, False), (3000, True)]


def test_start_of_picture_by_codec() -> None:
    assert starts_picture("video/vp8", bytes([0x10, 0x9D]))
    assert not starts_picture("video/vp8", bytes([0x00, 0x9D]))
    assert not starts_picture("video/vp8", bytes([0x11]))  # partition 1
    assert starts_picture("video/h264", bytes([0x7C, 0x85]))  # FU-A, start bit
    assert not starts_picture("video/h264", bytes([0x7C, 0x05]))  # FU-A continuation
    assert starts_picture("video/h264", bytes([0x67]))  # a whole SPS
