"""RTP payloads back into encoded frames: VP8 descriptors, H.264 FU-A/STAP-A, loss."""

from __future__ import annotations

import random

import av
import pytest
from aiortc.codecs.h264 import H264Encoder

from podium_server.media.depacketize import (
    START_CODE,
    Frame,
    FrameAssembler,
    Malformed,
    h264_access_unit,
    h264_assembler,
    h264_nal_units,
    h264_sps_size,
    opus_packet_samples,
    vp8_assembler,
    vp8_descriptor_length,
    vp8_frame_info,
)

from .test_h264_peers import encode_h264

# -- VP8 ----------------------------------------------------------------------------------


def vp8_descriptor(
    *,
    start: bool,
    picture_id: int | None = None,
    long_id: bool = False,
    tl0: bool = False,
    tid: bool = False,
    keyidx: bool = False,
) -> bytes:
    x = (0x80 if picture_id is not None else 0) | (0x40 if tl0 else 0)
    x |= (0x20 if tid else 0) | (0x10 if keyidx else 0)
    out = bytes([(0x80 if x else 0) | (0x10 if start else 0)])
    if x:
        out += bytes([x])
    if picture_id is not None:
        out += (
            bytes([0x80 | (picture_id >> 8) & 0x7F, picture_id & 0xFF])
            if long_id
            else bytes([picture_id & 0x7F])
        )
    if tl0:
        out += b"\x05"
    if tid or keyidx:
        out += b"\x40"
    return out


@pytest.mark.parametrize(
    ("options", "length"),
    [
        ({}, 1),
        ({"picture_id": 5}, 3),
        ({"picture_id": 300, "long_id": True}, 4),
        ({"tl0": True}, 3),
        ({"tid": True}, 3),
        ({"keyidx": True}, 3),
        ({"tid": True, "keyidx": True}, 3),
        ({"picture_id": 300, "long_id": True, "tl0": True, "tid": True}, 6),
    ],
)
def test_vp8_descriptor_variants(options: dict[str, object], length: int) -> None:
    descriptor = vp8_descriptor(start=True, **options)  # type: ignore[arg-type]
    assert len(descriptor) == length
    assert vp8_descriptor_length(descriptor + b"\x10\x02\x00") == length


@pytest.mark.parametrize("payload", [b"", b"\x90", b"\x90\x80", b"\x90\x80\x80", b"\x10"])
def test_vp8_truncated_descriptor_is_malformed(payload: bytes) -> None:
    with pytest.raises(Malformed):
        vp8_descriptor_length(payload)


def split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def vp8_packets(
    frame: bytes, seq: int, ts: int, *, size: int = 300, picture_id: int = 0
) -> list[tuple[int, int, int, bytes]]:
    chunks = split(frame, size)
    return [
        (
            (seq + i) & 0xFFFF,
            ts,
            int(i == len(chunks) - 1),
            vp8_descriptor(start=i == 0, picture_id=picture_id, long_id=True) + chunk,
        )
        for i, chunk in enumerate(chunks)
    ]


def push_all(asm: FrameAssembler, packets: list[tuple[int, int, int, bytes]]) -> list[Frame]:
    out: list[Frame] = []
    for seq, ts, marker, payload in packets:
        out.extend(asm.push(seq, ts, marker, payload))
    return out


@pytest.fixture(scope="module")
def vp8_stream(vp8_packets: list[av.Packet]) -> list[bytes]:
    return [bytes(p) for p in vp8_packets[:8]]


def test_vp8_frames_reassemble_across_sequence_and_timestamp_wrap(vp8_stream: list[bytes]) -> None:
    asm = vp8_assembler()
    packets = []
    seq, ts = 65530, 0xFFFFFFFF - 3000 * 3
    for i, frame in enumerate(vp8_stream):
        packets += vp8_packets(frame, seq, ts, picture_id=i)
        seq = (packets[-1][0] + 1) & 0xFFFF
        ts = (ts + 3000) & 0xFFFFFFFF
    frames = push_all(asm, packets)
    assert [b"".join(f.payloads) for f in frames] == vp8_stream
    assert asm.lost == 0
    assert vp8_frame_info(b"".join(frames[0].payloads)) == (True, 320, 180)
    assert vp8_frame_info(b"".join(frames[1].payloads))[0] is False


def test_vp8_reordered_packets_within_a_few_frames_still_make_frames(
    vp8_stream: list[bytes],
) -> None:
    asm = vp8_assembler()
    packets = []
    seq, ts = 100, 1000
    for frame in vp8_stream:
        packets += vp8_packets(frame, seq, ts)
        seq = (packets[-1][0] + 1) & 0xFFFF
        ts += 3000
    rng = random.Random(7)
    shuffled = packets[:]
    for i in range(0, len(shuffled) - 3, 3):  # swap neighbours, across frame borders too
        j = i + rng.randrange(1, 3)
        shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
    frames = push_all(asm, shuffled)
    assert [b"".join(f.payloads) for f in frames] == vp8_stream
    assert [f.ts for f in frames] == sorted(f.ts for f in frames)


def test_vp8_lost_packet_drops_that_frame_only(vp8_stream: list[bytes]) -> None:
    asm = vp8_assembler(max_pending=2)
    per_frame = []
    seq, ts = 0, 0
    for frame in vp8_stream:
        per_frame.append(vp8_packets(frame, seq, ts, size=200))
        seq = per_frame[-1][-1][0] + 1
        ts += 3000
    assert len(per_frame[2]) >= 3
    del per_frame[2][1]  # a middle packet of frame 2
    frames = push_all(asm, [p for packets in per_frame for p in packets])
    got = [b"".join(f.payloads) for f in frames]
    assert got == vp8_stream[:2] + vp8_stream[3:]
    assert asm.lost == 1
    # a late packet of the dropped frame changes nothing
    assert asm.push(2, 6000, 0, vp8_descriptor(start=False) + b"x") == []


def test_vp8_frame_without_its_first_or_marker_packet_is_dropped(
    vp8_stream: list[bytes],
) -> None:
    asm = vp8_assembler(max_pending=1)
    first = vp8_packets(vp8_stream[0], 0, 0)
    second = vp8_packets(vp8_stream[1], len(first), 3000)
    third = vp8_packets(vp8_stream[2], len(first) + len(second), 6000)
    frames = push_all(asm, first[1:] + second[:-1] + third)  # no start, no marker
    assert [b"".join(f.payloads) for f in frames] == [vp8_stream[2]]
    assert asm.lost == 2


# -- H.264 --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def h264_units() -> list[bytes]:
    return encode_h264(12)


def packetize_h264(unit: bytes, seq: int, ts: int) -> list[tuple[int, int, int, bytes]]:
    payloads = H264Encoder._packetize(H264Encoder._split_bitstream(unit))
    return [
        ((seq + i) & 0xFFFF, ts, int(i == len(payloads) - 1), payload)
        for i, payload in enumerate(payloads)
    ]


def nal_types(payloads: list[bytes]) -> set[int]:
    return {p[0] & 0x1F for p in payloads}


def test_h264_fu_a_and_stap_a_reassemble_to_the_access_units(h264_units: list[bytes]) -> None:
    asm = h264_assembler()
    packets = []
    seq, ts = 65500, 0xFFFFFFFF - 6000
    kinds: set[int] = set()
    for unit in h264_units:
        mine = packetize_h264(unit, seq, ts)
        kinds |= nal_types([p[3] for p in mine])
        packets += mine
        seq = (mine[-1][0] + 1) & 0xFFFF
        ts = (ts + 3000) & 0xFFFFFFFF
    assert {24, 28} <= kinds  # aiortc aggregated SPS/PPS (STAP-A) and fragmented the IDR
    frames = push_all(asm, packets)
    assert len(frames) == len(h264_units)
    for frame, unit in zip(frames, h264_units, strict=True):
        au = h264_access_unit(frame.payloads)
        expected = list(H264Encoder._split_bitstream(unit))
        assert au.data == b"".join(START_CODE + nal for nal in expected)
    first = h264_access_unit(frames[0].payloads)
    assert first.key and first.sps is not None and first.pps is not None
    assert h264_sps_size(first.sps) == (320, 180)  # 320x192 coded, cropped
    assert not h264_access_unit(frames[1].payloads).key


def test_h264_lost_fu_a_fragment_drops_the_frame(h264_units: list[bytes]) -> None:
    asm = h264_assembler(max_pending=2)
    per_unit = []
    seq = 0
    for i, unit in enumerate(h264_units[:5]):
        per_unit.append(packetize_h264(unit, seq, i * 3000))
        seq = per_unit[-1][-1][0] + 1
    fu = [j for j, p in enumerate(per_unit[0]) if p[3][0] & 0x1F == 28]
    assert len(fu) >= 3
    del per_unit[0][fu[1]]  # a middle fragment of the IDR
    frames = push_all(asm, [p for packets in per_unit for p in packets])
    assert len(frames) == 4 and asm.lost == 1
    assert frames[0].ts == 3000


def test_h264_fu_a_and_stap_a_by_hand() -> None:
    nal = bytes([0x65]) + bytes(range(200))  # IDR slice, NRI 3
    fu_indicator = (nal[0] & 0xE0) | 28
    fragments = [nal[1:80], nal[80:150], nal[150:]]
    payloads = [
        memoryview(bytes([fu_indicator, 0x80 | 5]) + fragments[0]),
        memoryview(bytes([fu_indicator, 5]) + fragments[1]),
        memoryview(bytes([fu_indicator, 0x40 | 5]) + fragments[2]),
    ]
    sps, pps = b"\x67\x42\x00\x1f", b"\x68\xce\x3c\x80"
    stap = b"\x78" + len(sps).to_bytes(2, "big") + sps + len(pps).to_bytes(2, "big") + pps
    assert h264_nal_units([memoryview(stap), *payloads]) == [sps, pps, nal]
    with pytest.raises(Malformed):  # fragment without its start
        h264_nal_units(payloads[1:])
    with pytest.raises(Malformed):  # never ended
        h264_nal_units(payloads[:2])
    with pytest.raises(Malformed):  # STAP-A size past the end
        h264_nal_units([memoryview(b"\x78\x00\x09" + sps)])
    with pytest.raises(Malformed):  # FU-B is not packetization mode 1
        h264_nal_units([memoryview(b"\x7d\x85abc")])


def test_h264_lost_first_packet_is_caught_by_the_previous_marker(
    h264_units: list[bytes],
) -> None:
    asm = h264_assembler(max_pending=1)
    a = packetize_h264(h264_units[0], 0, 0)
    slices = [bytes([0x41]) + b"slice one", bytes([0x41]) + b"slice two"]
    b = [(a[-1][0] + 1 + i, 3000, i, payload) for i, payload in enumerate(slices)]
    c = packetize_h264(h264_units[1], b[-1][0] + 1, 6000)
    # the second access unit loses its first packet (a whole slice: looks like a start)
    frames = push_all(asm, a + b[1:] + c)
    assert [f.ts for f in frames] == [0, 6000]
    assert asm.lost == 1


# -- Opus ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("toc", "samples"),
    [
        (bytes([0xFC]), 960),  # CELT FB 20 ms, one frame
        (bytes([0xF8 | 1]), 1920),  # two frames
        (bytes([0x78]), 960),  # hybrid FB 20 ms
        (bytes([0x08]), 960),  # SILK NB 20 ms
        (bytes([0xFB, 0x03]), 2880),  # code 3, three 20 ms frames
        (b"", 0),
    ],
)
def test_opus_packet_duration(toc: bytes, samples: int) -> None:
    assert opus_packet_samples(toc) == samples
