"""The per-viewer header rewriter: SSRC, sequence, timestamp, payload type, continuity."""

from __future__ import annotations

from aiortc.rtp import RtpPacket

from podium_server.media.keyframes import vp8_is_keyframe_start
from podium_server.media.outbox import Outbox
from podium_server.media.relay import CodecInfo, Packet, Source, ViewerTrack
from podium_server.media.rtp import parse_header, seq_diff, write_header

VP8 = CodecInfo.of("video/VP8", 90_000, {})
OPUS = CodecInfo.of("audio/opus", 48_000, {})
KEY = b"\x10\x00\x9d\x01\x2a"  # S=1, PID=0, frame tag P bit 0: key frame
DELTA = b"\x10\x01"  # S=1, PID=0, P bit 1: inter frame
CONT = b"\x00\xaa"  # continuation of a frame


class ListSink:
    """Collects what a viewer would put on the wire (a real sink SRTP-protects it)."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def try_send(self, data: bytes) -> bool:
        self.sent.append(data)
        return True

    async def send(self, data: bytes) -> None:
        self.sent.append(data)

    def backlog(self) -> int:
        return 0


def viewer(kind: str = "video", pt: int = 120) -> tuple[ViewerTrack, ListSink]:
    sink = ListSink()
    key = VP8.key if kind == "video" else OPUS.key
    return ViewerTrack(kind, 0xABCDEF01, {key: pt}, Outbox(sink)), sink


def parsed(data: bytes) -> RtpPacket:
    return RtpPacket.parse(data)


def test_write_header_round_trips_through_aiortc() -> None:
    data = write_header(111, 1, 65535, 0xFFFFFFFF, 0x01020304, b"payload")
    p = parsed(data)
    assert (p.payload_type, p.marker, p.sequence_number, p.timestamp, p.ssrc) == (
        111,
        1,
        65535,
        0xFFFFFFFF,
        0x01020304,
    )
    assert p.payload == b"payload"
    h = parse_header(data)
    assert h.header_length == 12 and h.sequence_number == 65535


def test_viewer_gets_its_own_ssrc_pt_and_contiguous_numbers() -> None:
    src = Source("video")
    track, sink = viewer(pt=120)
    src.attach(track, now=0.0)
    for i, payload in enumerate([KEY, CONT, DELTA, CONT]):
        src.publish(0x1111, 65534 + i & 0xFFFF, 1000 + 3000 * (i // 2), i % 2, payload, VP8)
    out = [parsed(d) for d in sink.sent]
    assert len(out) == 4
    assert {p.ssrc for p in out} == {0xABCDEF01}
    assert {p.payload_type for p in out} == {120}
    seqs = [p.sequence_number for p in out]
    assert all(seq_diff(b, a) == 1 for a, b in zip(seqs, seqs[1:], strict=False))
    assert out[2].timestamp - out[0].timestamp == 3000  # input spacing kept
    assert [p.payload for p in out] == [KEY, CONT, DELTA, CONT]


def test_video_viewer_waits_for_a_keyframe() -> None:
    src = Source("video")
    track, sink = viewer()
    src.attach(track, now=0.0)
    src.publish(1, 10, 0, 1, DELTA, VP8)  # before any keyframe: useless to a new viewer
    assert sink.sent == []
    src.publish(1, 11, 3000, 1, KEY, VP8)
    assert len(sink.sent) == 1


def test_publisher_reconnect_keeps_sequence_and_timestamp_continuity() -> None:
    src = Source("video")
    track, sink = viewer()
    src.attach(track, now=0.0)
    src.publish(0xAAAA, 100, 5000, 1, KEY, VP8)
    src.publish(0xAAAA, 101, 8000, 1, DELTA, VP8)
    src.set_input(None)  # a new publisher: new SSRC, unrelated numbers
    src.publish(0xBBBB, 40000, 123456789, 1, KEY, VP8)
    src.publish(0xBBBB, 40001, 123459789, 1, DELTA, VP8)
    out = [parsed(d) for d in sink.sent]
    seqs = [p.sequence_number for p in out]
    assert all(seq_diff(b, a) == 1 for a, b in zip(seqs, seqs[1:], strict=False))
    assert {p.ssrc for p in out} == {0xABCDEF01}
    assert 0 < (out[2].timestamp - out[1].timestamp) % (1 << 32) < 90_000 * 5
    assert (out[3].timestamp - out[2].timestamp) % (1 << 32) == 3000


def test_late_joiner_replays_the_cached_gop_then_continues() -> None:
    src = Source("video")
    src.publish(7, 1, 0, 0, KEY, VP8)
    src.publish(7, 2, 0, 1, CONT, VP8)
    src.publish(7, 3, 3000, 1, DELTA, VP8)
    track, sink = viewer()
    src.attach(track, now=0.0)
    assert [parsed(d).payload for d in sink.sent] == [KEY, CONT, DELTA]
    src.publish(7, 4, 6000, 1, DELTA, VP8)
    seqs = [parsed(d).sequence_number for d in sink.sent]
    assert all(seq_diff(b, a) == 1 for a, b in zip(seqs, seqs[1:], strict=False))


def test_nack_resends_the_same_bytes_from_history() -> None:
    src = Source("audio")
    track, sink = viewer("audio", pt=111)
    src.attach(track, now=0.0)
    for i in range(5):
        src.publish(9, 200 + i, 960 * i, 1, bytes([i]) * 20, OPUS)
    wanted = parsed(sink.sent[2]).sequence_number
    assert track.retransmit(wanted)
    assert sink.sent[-1] == sink.sent[2]
    assert not track.retransmit((wanted + 1000) & 0xFFFF)  # never sent: nothing to resend


def test_keyframe_requests_are_rate_limited_to_one_per_second() -> None:
    src = Source("video")
    asked: list[int] = []
    src.set_input(lambda: asked.append(1))
    assert src.request_keyframe(10.0)
    assert not src.request_keyframe(10.5)
    assert src.request_keyframe(11.0)
    assert len(asked) == 2


def test_unknown_codec_for_a_viewer_is_not_forwarded() -> None:
    src = Source("video")
    sink = ListSink()
    track = ViewerTrack("video", 5, {"video/h264;packetization-mode=1": 102}, Outbox(sink))
    src.attach(track, now=0.0)
    src.publish(1, 1, 0, 1, KEY, VP8)
    assert sink.sent == [] and vp8_is_keyframe_start(KEY)


def test_packet_is_shared_not_copied_per_viewer() -> None:
    p = Packet(1, 2, 1, b"x", 1, True, VP8)
    assert not hasattr(p, "__dict__")
