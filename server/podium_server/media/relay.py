"""The encoded pass-through relay: the hot path from one publisher to every viewer.

Nothing here decodes or encodes. A `Source` (one per session and kind) receives each RTP
packet once, updates the keyframe cache and hands the same `Packet` to every attached
`ViewerTrack`, which writes a 12-byte header of its own (SSRC, sequence number, timestamp,
payload type) in front of the payload and sends it.

Two paths do that. The fast one is inlined in `Source._fan_out`: for a viewer in steady
state (current epoch, not waiting for a keyframe, empty outbox, plain UDP path) the header
and payload are written into one shared scratch buffer, SRTP-protected there in place and
handed to the viewer's socket with `sendto` -- no per-viewer task, queue, or `bytes`
object. Everything else (rebasing, waiting for a keyframe, a viewer whose socket would
block, test sinks) goes through `ViewerTrack.forward` and the viewer's bounded `Outbox`,
which is where a slow viewer loses its own packets; `forward` switches the viewer back to
the fast path as soon as its outbox is empty and its socket writable again.

Sequence numbers and timestamps of a viewer are `input + offset`; the offsets are re-based
whenever the input changes under it (a publisher reconnects, its SSRC or codec changes,
or a late joiner resumes at a keyframe) so that each viewer sees one continuous stream.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from .aiortc_private import (
    MAX_DIRECT_PACKET,
    SCRATCH,
    SCRATCH_LEN,
    SCRATCH_VIEW,
    DirectWire,
    srtp_protect,
)
from .keyframes import KeyframeCache, keyframe_detector
from .outbox import Outbox
from .rtp import HEADER, RTP_VERSION_BYTE

log = logging.getLogger(__name__)

KEYFRAME_REQUEST_INTERVAL = 1.0  # at most one PLI upstream per second
VIDEO_HISTORY = 512  # packets kept per viewer for NACK (~4 s at 1 Mbps); references only
AUDIO_HISTORY = 64


@dataclass(frozen=True)
class CodecInfo:
    """What the relay needs to know of an input codec; `key` matches viewer codecs."""

    key: str
    mime_type: str
    clock_rate: int
    detect_keyframe: Callable[[bytes], bool] | None = None

    def __post_init__(self) -> None:
        if "/" not in self.mime_type or self.clock_rate <= 0:
            raise ValueError(f"bad codec {self.mime_type}/{self.clock_rate}")

    @classmethod
    def of(cls, mime_type: str, clock_rate: int, parameters: dict[str, object]) -> CodecInfo:
        return cls(
            key=codec_key(mime_type, parameters),
            mime_type=mime_type,
            clock_rate=clock_rate,
            detect_keyframe=keyframe_detector(mime_type),
        )


def codec_key(mime_type: str, parameters: dict[str, object]) -> str:
    """Codecs a packet can be relayed between: same name (and H.264 packetization mode)."""
    mime = mime_type.lower()
    if mime == "video/h264":
        return f"{mime};packetization-mode={parameters.get('packetization-mode', 0)}"
    return mime


class Packet:
    """One input RTP packet as the relay keeps it (shared by every viewer)."""

    __slots__ = ("seq", "ts", "marker", "payload", "epoch", "key", "start", "codec")

    def __init__(
        self,
        seq: int,
        ts: int,
        marker: int,
        payload: bytes,
        epoch: int,
        key: bool,
        codec: CodecInfo,
        start: bool = True,
    ) -> None:
        self.seq = seq
        self.ts = ts
        self.marker = marker
        self.payload = payload
        self.epoch = epoch
        self.key = key
        self.start = start  # first packet of a new picture (timestamp)
        self.codec = codec


class ViewerTrack:
    """One kind of media of one viewer: its SSRC, offsets, NACK history and outbox."""

    __slots__ = (
        "kind",
        "ssrc",
        "pt_map",
        "outbox",
        "pt",
        "epoch",
        "seq_off",
        "ts_off",
        "last_seq",
        "last_ts",
        "started",
        "waiting_key",
        "resume_at_frame",
        "packets",
        "octets",
        "history",
        "mask",
        "resent",
        "fast_epoch",
        "wire",
    )

    def __init__(self, kind: str, ssrc: int, pt_map: dict[str, int], outbox: Outbox) -> None:
        if kind not in ("audio", "video"):
            raise ValueError(f"kind must be audio or video, not {kind!r}")
        self.kind = kind
        self.ssrc = ssrc
        self.pt_map = dict(pt_map)
        self.outbox = outbox
        self.pt = -1
        self.epoch = -1
        self.seq_off = 0
        self.ts_off = 0
        # Like aiortc: start in the lower half of the sequence space (SRTP rollover).
        self.last_seq = (random.getrandbits(16) % 32768 - 1) & 0xFFFF
        self.last_ts = random.getrandbits(32)
        self.started = False
        self.waiting_key = kind == "video"
        self.resume_at_frame = False
        self.packets = 0
        self.octets = 0
        size = VIDEO_HISTORY if kind == "video" else AUDIO_HISTORY
        self.history: list[Packet | None] = [None] * size
        self.mask = size - 1
        self.resent = 0
        # The fan-out takes its fast path for this viewer only while `fast_epoch` equals
        # the packet's epoch; -1 (or a stale epoch after an input change) sends it here.
        self.fast_epoch = -1
        self.wire: DirectWire | None = None

    def resume_at_next_picture(self) -> None:
        """Skip to the next picture start (only the cached keyframe was replayed)."""
        self.waiting_key = True
        self.resume_at_frame = True
        self.fast_epoch = -1

    def forward(self, p: Packet, gap_seconds: float) -> None:
        """The general path: rebase if needed, rewrite the header, push into the outbox."""
        if p.epoch != self.epoch:
            self._rebase(p, gap_seconds)
        if self.waiting_key:
            if not (p.key or (self.resume_at_frame and p.start)):
                return
            self.waiting_key = False
            self.resume_at_frame = False
            # Resume right after the last packet this viewer got: no sequence gap.
            self.seq_off = (self.last_seq + 1 - p.seq) & 0xFFFF
        pt = self.pt
        if pt < 0:
            return
        seq = (p.seq + self.seq_off) & 0xFFFF
        ts = (p.ts + self.ts_off) & 0xFFFFFFFF
        payload = p.payload
        self.history[seq & self.mask] = p
        if (seq - self.last_seq) & 0xFFFF < 0x8000:
            self.last_seq = seq
            self.last_ts = ts
        self.packets += 1
        self.octets += len(payload)
        outbox = self.outbox
        outbox.push(
            HEADER.pack(RTP_VERSION_BYTE, (p.marker << 7) | pt, seq, ts, self.ssrc) + payload
        )
        wire = outbox.direct()
        if wire is not None:
            self.wire = wire
            self.fast_epoch = self.epoch

    def _rebase(self, p: Packet, gap_seconds: float) -> None:
        self.epoch = p.epoch
        self.pt = self.pt_map.get(p.codec.key, -1)
        if self.pt < 0:
            log.warning("viewer %08x cannot take %s: not negotiated", self.ssrc, p.codec.key)
        self.seq_off = (self.last_seq + 1 - p.seq) & 0xFFFF
        if self.started:
            # Timestamps move on by the wall-clock time the input was away.
            ticks = max(1, int(gap_seconds * p.codec.clock_rate))
            self.ts_off = (self.last_ts + ticks - p.ts) & 0xFFFFFFFF
        else:
            self.ts_off = (self.last_ts - p.ts) & 0xFFFFFFFF
            self.started = True
        if self.kind == "video" and not p.key:
            self.waiting_key = True

    def retransmit(self, seq: int) -> bool:
        """Answer a NACK for our sequence number `seq` from the history."""
        p = self.history[seq & self.mask]
        if p is None or p.epoch != self.epoch or (p.seq + self.seq_off) & 0xFFFF != seq:
            return False
        ts = (p.ts + self.ts_off) & 0xFFFFFFFF
        self.resent += 1
        self.outbox.push(
            HEADER.pack(RTP_VERSION_BYTE, (p.marker << 7) | self.pt, seq, ts, self.ssrc) + p.payload
        )
        return True

    def rtp_time_at(self, source_last_time: float, now: float, clock_rate: int) -> int:
        """Our RTP timestamp for wall-clock `now` (sender reports)."""
        return (self.last_ts + int(max(0.0, now - source_last_time) * clock_rate)) & 0xFFFFFFFF


class Source:
    """The input of one kind for one session: publisher or demo feed, viewers, cache."""

    def __init__(self, kind: str, *, gop_cache_packets: int = 1500) -> None:
        if kind not in ("audio", "video"):
            raise ValueError(f"kind must be audio or video, not {kind!r}")
        self.kind = kind
        self.viewers: list[ViewerTrack] = []
        self.taps: list[Callable[[Packet], None]] = []
        self.epoch = 0
        self.codec: CodecInfo | None = None
        self.cache: KeyframeCache[Packet] | None = (
            KeyframeCache(max_packets=gop_cache_packets) if kind == "video" else None
        )
        self.last_time = 0.0
        self.gap = 0.0
        self.packets = 0
        self._ssrc: int | None = None
        self._last_ts = -1
        self._keyframe_requester: Callable[[], None] | None = None
        self._last_request = -KEYFRAME_REQUEST_INTERVAL
        self.keyframe_requests = 0

    # -- input ----------------------------------------------------------------------------

    def set_input(self, keyframe_requester: Callable[[], None] | None) -> None:
        """A new publisher (or feed) takes over: start a new epoch at its first packet."""
        self._keyframe_requester = keyframe_requester
        self._ssrc = None

    def clear_input(self, keyframe_requester: Callable[[], None] | None = None) -> None:
        # `==`, not `is`: a bound method is a new object at each attribute access.
        if keyframe_requester is None or keyframe_requester == self._keyframe_requester:
            self._keyframe_requester = None

    def publish(
        self, ssrc: int, seq: int, ts: int, marker: int, payload: bytes, codec: CodecInfo
    ) -> None:
        now = time.monotonic()
        if ssrc != self._ssrc or codec is not self.codec:
            self._new_epoch(ssrc, codec, now)
        self.last_time = now
        detect = codec.detect_keyframe
        key = detect(payload) if detect is not None else False
        p = Packet(seq, ts, marker, payload, self.epoch, key, codec, ts != self._last_ts)
        self._last_ts = ts
        self.packets += 1
        if self.cache is not None:
            self.cache.add(p, ts, key)
        if self.viewers:
            self._fan_out(p)
        for tap in self.taps:
            tap(p)

    def _fan_out(self, p: Packet) -> None:
        """Send `p` to every viewer; the loop body is `ViewerTrack.forward`, inlined.

        At a few hundred viewers this loop is the server's CPU: it runs viewers x packets
        times a second, so it keeps to local variables and slot reads, and does the SRTP
        and the syscall on a shared buffer (see aiortc_private.SCRATCH).
        """
        gap = self.gap
        payload = p.payload
        size = len(payload)
        end = 12 + size
        if end > MAX_DIRECT_PACKET:
            for viewer in self.viewers:
                viewer.forward(p, gap)
            return
        epoch = p.epoch
        in_seq = p.seq
        in_ts = p.ts
        b1 = p.marker << 7
        view = SCRATCH_VIEW
        scratch = SCRATCH
        length = SCRATCH_LEN
        protect = srtp_protect
        pack_into = HEADER.pack_into
        for v in self.viewers:
            wire = v.wire
            if v.fast_epoch != epoch or wire is None or not wire.live:
                v.forward(p, gap)
                continue
            seq = (in_seq + v.seq_off) & 0xFFFF
            ts = (in_ts + v.ts_off) & 0xFFFFFFFF
            v.history[seq & v.mask] = p
            if (seq - v.last_seq) & 0xFFFF < 0x8000:
                v.last_seq = seq
                v.last_ts = ts
            v.packets += 1
            v.octets += size
            pack_into(view, 0, RTP_VERSION_BYTE, b1 | v.pt, seq, ts, v.ssrc)
            view[12:end] = payload
            length[0] = end
            if protect(wire.ctx, scratch, length):
                v.outbox.count_drop("refused")  # libsrtp refused (key use exhausted)
                continue
            try:
                wire.sendto(view[: length[0]], wire.addr)
            except OSError:
                # The socket is full (or gone): this viewer continues through its bounded
                # outbox, which queues, drops its own packets, or marks it failed.
                v.fast_epoch = -1
                v.outbox.push(HEADER.pack(RTP_VERSION_BYTE, b1 | v.pt, seq, ts, v.ssrc) + payload)

    def _new_epoch(self, ssrc: int, codec: CodecInfo, now: float) -> None:
        self.epoch += 1
        self.gap = now - self.last_time if self.last_time else 0.0
        self._ssrc = ssrc
        self.codec = codec
        if self.cache is not None:
            self.cache.clear()
        log.info("%s input epoch %d: ssrc %08x %s", self.kind, self.epoch, ssrc, codec.key)

    # -- viewers --------------------------------------------------------------------------

    def attach(self, viewer: ViewerTrack, now: float) -> None:
        """Add a viewer; a video viewer first gets the cached keyframe (and GOP)."""
        cache = self.cache
        if cache is not None and cache.has_keyframe:
            for p in cache.packets():
                viewer.forward(p, self.gap)
            if not cache.complete:
                # Only the keyframe was kept: go on at the next picture. Tolerant decoders
                # show a moving (if smeared) picture; strict ones ask for a keyframe (PLI).
                viewer.resume_at_next_picture()
                self.request_keyframe(now)
        elif self.kind == "video":
            self.request_keyframe(now)
        self.viewers.append(viewer)

    def detach(self, viewer: ViewerTrack) -> None:
        if viewer in self.viewers:
            self.viewers.remove(viewer)

    def request_keyframe(self, now: float) -> bool:
        """Ask the input for a keyframe, at most once per KEYFRAME_REQUEST_INTERVAL."""
        if self._keyframe_requester is None:
            return False
        if now - self._last_request < KEYFRAME_REQUEST_INTERVAL:
            return False
        self._last_request = now
        self.keyframe_requests += 1
        self._keyframe_requester()
        return True
