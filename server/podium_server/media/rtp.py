"""Pure RTP helpers for the relay: header writing and 16/32-bit wrap-around arithmetic.

The relay never re-serializes an aiortc `RtpPacket` per viewer: it packs a fresh 12-byte
header (its own SSRC, sequence number, timestamp and payload type) in front of the
unchanged payload, which costs a third of `RtpPacket.serialize` (see the notes).
Header extensions and CSRCs of the publisher are dropped: their ids were negotiated with
the publisher, not with the viewer.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

RTP_VERSION_BYTE = 0x80  # V=2, no padding, no extension, no CSRC
HEADER = struct.Struct("!BBHII")
SEQ_MOD = 1 << 16
TS_MOD = 1 << 32
VIDEO_CLOCK = 90_000


def write_header(pt: int, marker: int, seq: int, ts: int, ssrc: int, payload: bytes) -> bytes:
    """Serialize one RTP packet with a minimal header and the given payload."""
    return HEADER.pack(RTP_VERSION_BYTE, (marker << 7) | pt, seq, ts, ssrc) + payload


@dataclass(frozen=True)
class RtpHeader:
    version: int
    marker: int
    payload_type: int
    sequence_number: int
    timestamp: int
    ssrc: int
    header_length: int

    def __post_init__(self) -> None:
        if self.version != 2:
            raise ValueError("not RTP version 2")


def parse_header(data: bytes) -> RtpHeader:
    """Parse the fixed header (and skip CSRCs / extension) of a serialized RTP packet."""
    if len(data) < 12:
        raise ValueError("RTP packet shorter than 12 bytes")
    b0, b1, seq, ts, ssrc = HEADER.unpack_from(data)
    length = 12 + 4 * (b0 & 0x0F)
    if b0 & 0x10:
        if len(data) < length + 4:
            raise ValueError("truncated RTP header extension")
        (words,) = struct.unpack_from("!H", data, length + 2)
        length += 4 + 4 * words
    if len(data) < length:
        raise ValueError("truncated RTP header")
    return RtpHeader(b0 >> 6, b1 >> 7, b1 & 0x7F, seq, ts, ssrc, length)


def seq_add(a: int, b: int) -> int:
    return (a + b) % SEQ_MOD


def seq_diff(a: int, b: int) -> int:
    """Signed distance a - b on the 16-bit circle, in [-32768, 32767]."""
    return ((a - b + 32768) % SEQ_MOD) - 32768


def ts_add(a: int, b: int) -> int:
    return (a + b) % TS_MOD


def clock_rate_of(kind: str) -> int:
    return VIDEO_CLOCK if kind == "video" else 48_000
