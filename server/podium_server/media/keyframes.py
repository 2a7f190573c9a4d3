"""Keyframe detection on RTP payloads (no depacketizing beyond the first bytes) and the
keyframe (GOP) cache that lets a late joiner decode a picture at once.

VP8 (RFC 7741): payload descriptor, then at the start of partition 0 the frame tag whose
lowest bit is 0 for a key frame. H.264 (RFC 6184): IDR slice (5) or SPS (7) as a single
NAL unit, inside a STAP-A aggregate, or at the start of an FU-A fragment.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

_H264_KEY_NALS = frozenset({5, 7})


def vp8_is_keyframe_start(payload: bytes) -> bool:
    """True for the first packet of a VP8 key frame."""
    n = len(payload)
    if n < 1:
        return False
    b0 = payload[0]
    # S bit set and partition id 0: this packet starts the frame.
    if not b0 & 0x10 or b0 & 0x0F:
        return False
    off = 1
    if b0 & 0x80:  # X: extension byte follows
        if n < 2:
            return False
        x = payload[1]
        off = 2
        if x & 0x80:  # I: picture id, 7 or 15 bits
            if n <= off:
                return False
            off += 2 if payload[off] & 0x80 else 1
        if x & 0x40:  # L: TL0PICIDX
            off += 1
        if x & 0x30:  # T or K: TID/Y/KEYIDX
            off += 1
    if n <= off:
        return False
    return not payload[off] & 0x01


def h264_is_keyframe_start(payload: bytes) -> bool:
    """True for a packet that carries (the start of) an SPS or IDR NAL unit."""
    if not payload:
        return False
    nal = payload[0] & 0x1F
    if nal in _H264_KEY_NALS:
        return True
    if nal == 24:  # STAP-A: 16-bit size + NAL unit, repeated
        off = 1
        while off + 2 < len(payload):
            size = (payload[off] << 8) | payload[off + 1]
            if size == 0 or off + 2 + size > len(payload):
                return False
            if payload[off + 2] & 0x1F in _H264_KEY_NALS:
                return True
            off += 2 + size
        return False
    if nal == 28 and len(payload) > 1:  # FU-A: start bit and type in the FU header
        fu = payload[1]
        return bool(fu & 0x80) and (fu & 0x1F) in _H264_KEY_NALS
    return False


def keyframe_detector(mime_type: str) -> Callable[[bytes], bool] | None:
    mime = mime_type.lower()
    if mime == "video/vp8":
        return vp8_is_keyframe_start
    if mime == "video/h264":
        return h264_is_keyframe_start
    return None


P = TypeVar("P")


@dataclass
class KeyframeCache(Generic[P]):
    """The packets of the last keyframe and of every frame after it (a GOP), bounded.

    A late joiner replays `gop()` and then continues live with no gap, so every frame it
    gets can be decoded. When the GOP outgrows `max_packets` (a publisher that sends
    keyframes rarely and ignores PLI) only the keyframe itself is kept; `complete` says
    which of the two a joiner gets.
    """

    max_packets: int = 1500
    _packets: list[P] = field(default_factory=list)
    _key_ts: int | None = None
    _key_len: int = 0
    _complete: bool = True

    def __post_init__(self) -> None:
        if self.max_packets < 1:
            raise ValueError("max_packets must be >= 1")

    def add(self, packet: P, timestamp: int, keyframe_start: bool) -> None:
        if keyframe_start and timestamp != self._key_ts:
            self._packets = [packet]
            self._key_ts = timestamp
            self._key_len = 1
            self._complete = True
            return
        if self._key_ts is None:
            return
        if timestamp == self._key_ts and self._key_len == len(self._packets):
            self._packets.append(packet)
            self._key_len += 1
            return
        if not self._complete:
            return
        if len(self._packets) >= self.max_packets:
            # Keep the picture, drop the deltas: joiners wait for the next keyframe.
            del self._packets[self._key_len :]
            self._complete = False
            log.debug("GOP longer than %d packets: caching the keyframe only", self.max_packets)
            return
        self._packets.append(packet)

    def clear(self) -> None:
        self._packets = []
        self._key_ts = None
        self._key_len = 0
        self._complete = True

    @property
    def has_keyframe(self) -> bool:
        return self._key_ts is not None

    @property
    def complete(self) -> bool:
        """True when `packets()` runs from the keyframe up to the live edge."""
        return self._complete

    def packets(self) -> list[P]:
        return list(self._packets)
