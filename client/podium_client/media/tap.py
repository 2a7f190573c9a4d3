"""Encoded frames as an aiortc receiver assembles them, before any decoding.

aiortc has no public hook between its jitter buffer and its decoder thread: the receiver
puts `(codec, frame)` on a private queue the thread reads. A queue of ours in its place
sees each complete frame on the event loop (for counting and recording without
transcoding), then hands it on to the decoder, or drops it when nothing should decode.
Install it after addTransceiver and before the connection starts (the thread takes the
queue when the receiver starts).
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from typing import Any

from aiortc import RTCRtpReceiver

from .jitter import CheckedJitterBuffer

# (mime type, encoded frame bytes, RTP timestamp as aiortc mapped it, whole frame or not)
FrameHandler = Callable[[str, bytes, int, bool], None]
_PRIVATE_QUEUE = "_RTCRtpReceiver__decoder_queue"
_PRIVATE_BUFFER = "_RTCRtpReceiver__jitter_buffer"
_PRIVATE_CODECS = "_RTCRtpReceiver__codecs"


class EncodedFrameTap(queue.Queue[Any]):
    def __init__(self, on_frame: FrameHandler, *, decode: bool) -> None:
        super().__init__()
        self.on_frame = on_frame
        self.decode = decode

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is not None:  # None: the receiver stopping, always passed on
            codec, frame = item
            whole = bool(getattr(frame, "complete", True))
            self.on_frame(codec.mimeType, bytes(frame.data), int(frame.timestamp), whole)
            if not self.decode:
                return
        super().put(item, block, timeout)


def install(receiver: RTCRtpReceiver, on_frame: FrameHandler, *, decode: bool = True) -> None:
    """Tap `receiver`'s frames, each marked whole or broken (see jitter.py)."""
    for name in (_PRIVATE_QUEUE, _PRIVATE_BUFFER, _PRIVATE_CODECS):
        if not hasattr(receiver, name):
            raise RuntimeError(f"this aiortc version has no {name} to tap")
    old = getattr(receiver, _PRIVATE_BUFFER)
    checked = CheckedJitterBuffer(
        old.capacity, old._prefetch, old._is_video, getattr(receiver, _PRIVATE_CODECS)
    )
    setattr(receiver, _PRIVATE_BUFFER, checked)
    setattr(receiver, _PRIVATE_QUEUE, EncodedFrameTap(on_frame, decode=decode))


def vp8_keyframe_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) if `data` is a VP8 keyframe (RFC 6386 9.1), else None."""
    if len(data) < 10 or data[0] & 1 or data[3:6] != b"\x9d\x01\x2a":
        return None
    return (
        int.from_bytes(data[6:8], "little") & 0x3FFF,
        int.from_bytes(data[8:10], "little") & 0x3FFF,
    )


def h264_nal_units(data: bytes) -> list[bytes]:
    """The NAL units of an Annex B access unit (start codes removed)."""
    units = []
    for part in data.split(b"\x00\x00\x01"):
        part = part.rstrip(b"\x00")
        if part:
            units.append(part)
    return units


def is_keyframe(mime: str, data: bytes) -> bool:
    if mime.lower() == "video/vp8":
        return vp8_keyframe_size(data) is not None
    if mime.lower() == "video/h264":
        return any(unit[0] & 0x1F == 5 for unit in h264_nal_units(data))
    return False
