"""RTP payloads back into encoded frames, for the recorder (no decoding, no encoding).

- VP8 (RFC 7741): strip the payload descriptor of each packet; a frame is the payloads of
  one timestamp, from the packet with S=1 and partition id 0 up to the marker packet.
- H.264 (RFC 6184, packetization mode 0/1): single NAL units, STAP-A aggregates and FU-A
  fragments become one Annex-B access unit (start code before each NAL unit).
- Opus (RFC 7587): one packet is one frame; nothing to assemble.

`FrameAssembler` groups packets by timestamp, tolerates reordering within a few frames,
and drops a frame with a sequence gap (packet loss) instead of emitting a broken one.
Sequence numbers and timestamps are compared on their 16/32-bit circles (wrap-around).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

START_CODE = b"\x00\x00\x00\x01"
_H264_IDR = 5
_H264_SPS = 7
_H264_PPS = 8
_STAP_A = 24
_FU_A = 28


class Malformed(ValueError):
    """A payload that does not follow its RTP payload format."""


# -- VP8 ----------------------------------------------------------------------------------


def vp8_descriptor_length(payload: bytes | memoryview) -> int:
    """Length of the VP8 payload descriptor (RFC 7741 4.2) at the start of `payload`."""
    n = len(payload)
    if n < 1:
        raise Malformed("empty VP8 payload")
    off = 1
    if payload[0] & 0x80:  # X: extension byte
        if n < 2:
            raise Malformed("truncated VP8 descriptor")
        x = payload[1]
        off = 2
        if x & 0x80:  # I: picture id, M bit set = 15 bits
            if n <= off:
                raise Malformed("truncated VP8 picture id")
            off += 2 if payload[off] & 0x80 else 1
        if x & 0x40:  # L: TL0PICIDX
            off += 1
        if x & 0x30:  # T and/or K: one byte TID|Y|KEYIDX
            off += 1
    if off >= n:
        raise Malformed("VP8 payload has a descriptor and no data")
    return off


def vp8_packet_starts_frame(payload: bytes | memoryview) -> bool:
    """S bit set and partition index 0."""
    return bool(payload) and payload[0] & 0x1F == 0x10


def vp8_frame_info(frame: bytes) -> tuple[bool, int, int]:
    """(keyframe, width, height) from a VP8 frame header; sizes are 0 for delta frames."""
    if len(frame) < 3:
        raise Malformed("VP8 frame shorter than its tag")
    if frame[0] & 0x01:
        return False, 0, 0
    if len(frame) < 10 or frame[3:6] != b"\x9d\x01\x2a":
        raise Malformed("VP8 key frame without its start code")
    width = (frame[6] | frame[7] << 8) & 0x3FFF
    height = (frame[8] | frame[9] << 8) & 0x3FFF
    return True, width, height


# -- H.264 --------------------------------------------------------------------------------


def h264_nal_units(payloads: list[memoryview]) -> list[bytes]:
    """The NAL units of one access unit's RTP payloads, in order (RFC 6184 5.6-5.8)."""
    nals: list[bytes] = []
    fu: list[memoryview] | None = None
    for payload in payloads:
        if not payload:
            raise Malformed("empty H.264 payload")
        kind = payload[0] & 0x1F
        if kind == _FU_A:
            if len(payload) < 3:
                raise Malformed("truncated FU-A")
            header = payload[1]
            if header & 0x80:  # S: first fragment
                if fu is not None:
                    raise Malformed("FU-A started twice")
                nal_header = (payload[0] & 0xE0) | (header & 0x1F)
                fu = [memoryview(bytes((nal_header,))), payload[2:]]
            elif fu is None:
                raise Malformed("FU-A fragment without its start")
            else:
                fu.append(payload[2:])
            if header & 0x40:  # E: last fragment
                nals.append(b"".join(fu))
                fu = None
            continue
        if fu is not None:
            raise Malformed("FU-A not ended")
        if kind == _STAP_A:
            off = 1
            end = len(payload)
            while off < end:
                if off + 2 > end:
                    raise Malformed("truncated STAP-A size")
                size = payload[off] << 8 | payload[off + 1]
                off += 2
                if size == 0 or off + size > end:
                    raise Malformed("bad STAP-A unit size")
                nals.append(bytes(payload[off : off + size]))
                off += size
        elif 1 <= kind <= 23:
            nals.append(bytes(payload))
        else:  # STAP-B, MTAP, FU-B: not in packetization modes 0 and 1
            raise Malformed(f"unsupported H.264 NAL unit type {kind}")
    if fu is not None:
        raise Malformed("FU-A not ended")
    return nals


def h264_packet_may_start(payload: bytes | memoryview) -> bool:
    """Could this packet be the first of an access unit (not an FU-A continuation)?"""
    if not payload:
        return False
    if payload[0] & 0x1F == _FU_A:
        return len(payload) > 1 and bool(payload[1] & 0x80)
    return True


class _Bits:
    """Exp-Golomb reader over an RBSP (emulation prevention bytes removed)."""

    def __init__(self, data: bytes) -> None:
        self.value = int.from_bytes(data, "big")
        self.left = len(data) * 8

    def u(self, n: int) -> int:
        if n > self.left:
            raise Malformed("truncated SPS")
        self.left -= n
        return (self.value >> self.left) & ((1 << n) - 1)

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise Malformed("bad Exp-Golomb code in SPS")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)


def _rbsp(nal: bytes) -> bytes:
    return nal.replace(b"\x00\x00\x03", b"\x00\x00")


def h264_sps_size(sps: bytes) -> tuple[int, int]:
    """(width, height) in pixels from an SPS NAL unit (ITU-T H.264 7.3.2.1.1)."""
    b = _Bits(_rbsp(sps[1:]))
    profile = b.u(8)
    b.u(16)  # constraint flags, level
    b.ue()  # seq_parameter_set_id
    chroma = 1
    separate_planes = 0
    if profile in (100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135):
        chroma = b.ue()
        if chroma == 3:
            separate_planes = b.u(1)
        b.ue()  # bit_depth_luma_minus8
        b.ue()  # bit_depth_chroma_minus8
        b.u(1)  # qpprime_y_zero_transform_bypass_flag
        if b.u(1):  # seq_scaling_matrix_present_flag
            for i in range(12 if chroma == 3 else 8):
                if b.u(1):
                    last = nxt = 8
                    for _ in range(16 if i < 6 else 64):
                        if nxt:
                            nxt = (last + b.se()) % 256
                        last = nxt or last
    b.ue()  # log2_max_frame_num_minus4
    poc_type = b.ue()
    if poc_type == 0:
        b.ue()
    elif poc_type == 1:
        b.u(1)
        b.se()
        b.se()
        for _ in range(b.ue()):
            b.se()
    b.ue()  # max_num_ref_frames
    b.u(1)  # gaps_in_frame_num_value_allowed_flag
    width_mbs = b.ue() + 1
    height_units = b.ue() + 1
    frame_mbs_only = b.u(1)
    if not frame_mbs_only:
        b.u(1)  # mb_adaptive_frame_field_flag
    b.u(1)  # direct_8x8_inference_flag
    width = width_mbs * 16
    height = (2 - frame_mbs_only) * height_units * 16
    if b.u(1):  # frame_cropping_flag
        left, right, top, bottom = b.ue(), b.ue(), b.ue(), b.ue()
        if chroma == 0 or separate_planes:
            unit_x, unit_y = 1, 2 - frame_mbs_only
        else:
            unit_x = 1 if chroma == 3 else 2
            unit_y = (2 if chroma == 1 else 1) * (2 - frame_mbs_only)
        width -= (left + right) * unit_x
        height -= (top + bottom) * unit_y
    if width <= 0 or height <= 0:
        raise Malformed("SPS with an empty picture")
    return width, height


@dataclass(slots=True)
class H264Unit:
    """One access unit in Annex-B, with what the muxer needs to know of it."""

    data: bytes
    key: bool
    sps: bytes | None
    pps: bytes | None


def h264_access_unit(payloads: list[memoryview]) -> H264Unit:
    nals = h264_nal_units(payloads)
    if not nals:
        raise Malformed("access unit without NAL units")
    key = False
    sps = pps = None
    for nal in nals:
        kind = nal[0] & 0x1F
        if kind == _H264_IDR:
            key = True
        elif kind == _H264_SPS:
            sps = nal
        elif kind == _H264_PPS:
            pps = nal
    data = b"".join(START_CODE + nal for nal in nals)
    return H264Unit(data, key, sps, pps)


# -- Opus ---------------------------------------------------------------------------------

_OPUS_FRAME_48K = (
    # SILK NB/MB/WB 10, 20, 40, 60 ms
    *(480, 960, 1920, 2880) * 3,
    # Hybrid SWB/FB 10, 20 ms
    *(480, 960) * 2,
    # CELT NB/WB/SWB/FB 2.5, 5, 10, 20 ms
    *(120, 240, 480, 960) * 4,
)


def opus_packet_samples(packet: bytes) -> int:
    """Samples at 48 kHz in one Opus packet (RFC 6716 3.1), 0 if it cannot be told."""
    if not packet:
        return 0
    toc = packet[0]
    per_frame = _OPUS_FRAME_48K[toc >> 3]
    code = toc & 0x03
    if code == 0:
        return per_frame
    if code in (1, 2):
        return 2 * per_frame
    if len(packet) < 2:
        return 0
    return (packet[1] & 0x3F) * per_frame


# -- frames out of packets ----------------------------------------------------------------


@dataclass(slots=True)
class _Pending:
    ts: int
    payloads: dict[int, memoryview]
    start: int | None = None  # sequence number of the first packet, when known
    end: int | None = None  # sequence number of the marker packet
    broken: bool = False  # a malformed packet: the frame can never be emitted


@dataclass(slots=True)
class Frame:
    ts: int  # RTP timestamp
    payloads: list[memoryview]  # the packets' payloads in order, descriptors removed


class FrameAssembler:
    """Packets of one video stream (one input epoch) -> complete frames, in order.

    A frame is emitted when every packet from its first to its marker packet is there.
    Frames are emitted in timestamp order; an incomplete frame holds back newer complete
    ones until more than `max_pending` frames are waiting, then it is dropped (counted in
    `lost`). `strip` returns the offset of the codec data in a payload (raising
    `Malformed`), `starts` tells whether a packet begins a frame. With `exact_start`
    (VP8: the S bit) that is certain; without (H.264, where a frame has no start flag)
    the first packet is the one after the previous frame's marker, and `starts` is only
    consulted for the first frame, when there is no previous marker.
    """

    def __init__(
        self,
        strip: Callable[[memoryview], int],
        starts: Callable[[memoryview], bool],
        *,
        exact_start: bool,
        max_pending: int = 8,
    ) -> None:
        if max_pending < 1:
            raise ValueError("max_pending must be >= 1")
        self.strip = strip
        self.starts = starts
        self.exact_start = exact_start
        self.max_pending = max_pending
        self.pending: dict[int, _Pending] = {}
        self.frames = 0
        self.lost = 0  # frames dropped: a packet missing or malformed
        self._last_ts: int | None = None  # last frame emitted or dropped
        self._last_end: int | None = None  # its marker's sequence number

    def push(self, seq: int, ts: int, marker: int, payload: bytes) -> list[Frame]:
        last = self._last_ts
        if last is not None and ((ts - last) & 0xFFFFFFFF >= 0x80000000 or ts == last):
            return []  # late: that frame was emitted or given up already
        view = memoryview(payload)
        p = self.pending.get(ts)
        new = p is None
        if p is None:
            p = self.pending[ts] = _Pending(ts, {})
        try:
            off = self.strip(view)
        except Malformed:
            p.broken = True
            return self._emit()
        p.payloads[seq] = view[off:]
        if self.exact_start:
            if self.starts(view):
                p.start = seq
        elif self.starts(view) and (p.start is None or (p.start - seq) & 0xFFFF < 0x8000):
            p.start = seq  # the lowest packet that may start the frame
        if marker:
            p.end = seq
        elif p.end is None and not new:
            return []  # nothing can have completed (the common case: mid-frame, in order)
        return self._emit()

    def _emit(self) -> list[Frame]:
        out: list[Frame] = []
        while self.pending:
            ts = self._oldest()
            p = self.pending[ts]
            frame = self._complete(p)
            if frame is None and len(self.pending) <= self.max_pending:
                break
            del self.pending[ts]
            self._last_ts = ts
            self._last_end = p.end
            if frame is None:
                self.lost += 1
            else:
                self.frames += 1
                out.append(frame)
        return out

    def _oldest(self) -> int:
        it = iter(self.pending)
        oldest = next(it)
        for ts in it:
            if (ts - oldest) & 0xFFFFFFFF >= 0x80000000:
                oldest = ts
        return oldest

    def _complete(self, p: _Pending) -> Frame | None:
        end = p.end
        if end is None or p.broken:
            return None
        start = p.start
        if not self.exact_start and self._last_end is not None:
            start = (self._last_end + 1) & 0xFFFF
        if start is None:
            return None
        count = ((end - start) & 0xFFFF) + 1
        if count != len(p.payloads):
            return None
        payloads = p.payloads
        try:
            return Frame(p.ts, [payloads[(start + i) & 0xFFFF] for i in range(count)])
        except KeyError:
            return None

    def flush(self) -> None:
        """Drop what is pending (the input changed or recording stops)."""
        self.lost += len(self.pending)
        self.pending.clear()


def _no_descriptor(payload: memoryview) -> int:
    if not payload:
        raise Malformed("empty payload")
    return 0


def vp8_assembler(max_pending: int = 8) -> FrameAssembler:
    return FrameAssembler(
        vp8_descriptor_length, vp8_packet_starts_frame, exact_start=True, max_pending=max_pending
    )


def h264_assembler(max_pending: int = 8) -> FrameAssembler:
    return FrameAssembler(
        _no_descriptor, h264_packet_may_start, exact_start=False, max_pending=max_pending
    )
