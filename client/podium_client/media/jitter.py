"""aiortc's jitter buffer, telling whole frames from broken ones.

aiortc hands its decoder every run of consecutive packets sharing a timestamp. That run
is whole except where the buffer's origin falls inside a frame -- a viewer that joins
mid-frame, or after the buffer overflowed and dropped packets -- and then the frame lacks
its first packets: a decoder shrugs, but a recording would keep garbage. This buffer
does the same work and marks each frame it hands out `complete` or not, from the RTP
payload headers: the first packet starts the picture, the last carries the marker.
"""

from __future__ import annotations

from typing import Any

from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtp import RtpPacket


def starts_picture(mime: str, payload: bytes) -> bool:
    """Whether an RTP payload is the first packet of a picture."""
    if not payload:
        return False
    if mime == "video/vp8":  # RFC 7741 4.2: S bit set, partition index 0
        head = payload[0]
        return bool(head & 0x10) and head & 0x07 == 0
    if mime == "video/h264":  # RFC 6184: a whole NAL unit, an aggregate, or an FU start
        nal_type = payload[0] & 0x1F
        if nal_type in (28, 29):  # FU-A / FU-B
            return len(payload) > 1 and bool(payload[1] & 0x80)
        return True
    return True  # audio: one packet, one frame


class CheckedJitterBuffer(JitterBuffer):
    def __init__(
        self, capacity: int, prefetch: int, is_video: bool, codecs: dict[int, Any]
    ) -> None:
        super().__init__(capacity=capacity, prefetch=prefetch, is_video=is_video)
        self.codecs = codecs  # the receiver's payload type -> codec, filled once negotiated

    def mime(self, packet: RtpPacket) -> str:
        codec = self.codecs.get(packet.payload_type)
        return str(codec.mimeType).lower() if codec is not None else ""

    def _remove_frame(self, sequence_number: int) -> JitterFrame | None:
        # aiortc's own loop (jitterbuffer.py), plus the completeness check
        frame = None
        frames = 0
        packets: list[RtpPacket] = []
        remove = 0
        timestamp = None
        for count in range(self.capacity):
            pos = (self._origin + count) % self._capacity  # type: ignore[operator]
            packet = self._packets[pos]
            if packet is None:
                break
            if timestamp is None:
                timestamp = packet.timestamp
            elif packet.timestamp != timestamp:
                if frame is None:
                    frame = JitterFrame(
                        data=b"".join([x._data for x in packets]),  # type: ignore[attr-defined]
                        timestamp=timestamp,
                    )
                    frame.complete = (  # type: ignore[attr-defined]
                        starts_picture(self.mime(packets[0]), packets[0].payload)
                        and (packets[-1].marker or not self._is_video)
                    )
                    remove = count
                frames += 1
                if frames >= self._prefetch:
                    self.remove(remove)
                    return frame
                packets = []
                timestamp = packet.timestamp
            packets.append(packet)
        return None
