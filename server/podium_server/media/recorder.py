"""Recording without transcoding: each live session's RTP, as relayed, to an rtpdump file.

Format: rtptools' RTPdump (`#!rtpplay1.0 address/port`, a 16-byte file header, then per
packet `length, plen, offset_ms` and the RTP packet), readable by rtpplay, Wireshark and
GStreamer (`rtpdumpdemux`/`rtpbin`) for later muxing. Packets carry a fixed SSRC and
payload type per kind (listed in the `.json` sidecar) and the input's sequence numbers and
timestamps. Writes are batched and done in a worker thread once a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import random
import struct
import time
from pathlib import Path
from typing import IO

from .relay import Packet
from .rtp import write_header
from .session import SessionRelay

log = logging.getLogger(__name__)

FILE_HEADER = struct.Struct("!IIIHH")
PACKET_HEADER = struct.Struct("!HHI")
PAYLOAD_TYPES = {"audio/opus": 111, "video/vp8": 96, "video/h264": 102}


class SessionRecorder:
    def __init__(self, directory: Path, session_id: str, flush_every: float = 1.0) -> None:
        if flush_every <= 0:
            raise ValueError("flush_every must be positive")
        self.directory = directory
        self.session_id = session_id
        self.flush_every = flush_every
        self.path: Path | None = None
        self.packets = 0
        self._buffer = bytearray()
        self._file: IO[bytes] | None = None
        self._start = 0.0
        self._ssrc = {"audio": random.getrandbits(32), "video": random.getrandbits(32)}
        self._codecs: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def attach(self, relay: SessionRelay) -> None:
        for kind, source in relay.sources.items():
            source.taps.append(functools.partial(self.write, kind))

    def write(self, kind: str, p: Packet) -> None:
        if not self._start:
            self._start = time.time()
            stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(self._start))
            self.path = self.directory / f"{self.session_id}-{stamp}.rtpdump"
            self._buffer += b"#!rtpplay1.0 127.0.0.1/5004\n"
            sec = int(self._start)
            usec = int((self._start - sec) * 1e6)
            self._buffer += FILE_HEADER.pack(sec, usec, 0x7F000001, 5004, 0)
            self._task = asyncio.get_running_loop().create_task(self._run())
        mime = p.codec.mime_type.lower()
        pt = PAYLOAD_TYPES.get(mime, 96 if kind == "video" else 111)
        self._codecs[f"{self._ssrc[kind]}"] = f"{p.codec.mime_type}/{p.codec.clock_rate} pt={pt}"
        rtp = write_header(pt, p.marker, p.seq, p.ts, self._ssrc[kind], p.payload)
        offset = int((time.time() - self._start) * 1000) & 0xFFFFFFFF
        self._buffer += PACKET_HEADER.pack(8 + len(rtp), len(rtp), offset)
        self._buffer += rtp
        self.packets += 1

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_every)
            await self.flush()

    async def flush(self) -> None:
        async with self._lock:
            if not self._buffer or self.path is None:
                return
            data, self._buffer = bytes(self._buffer), bytearray()
            await asyncio.to_thread(self._append, self.path, data, dict(self._codecs))

    def _append(self, path: Path, data: bytes, codecs: dict[str, str]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if self._file is None:
            self._file = path.open("ab")
        self._file.write(data)
        self._file.flush()
        path.with_suffix(".json").write_text(
            json.dumps({"session": self.session_id, "ssrc": codecs}, indent=1)
        )

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()
        if self._file is not None:
            self._file.close()
            self._file = None
        if self.path is not None:
            log.info("recorded %d packets of %s to %s", self.packets, self.session_id, self.path)


def read_rtpdump(path: Path) -> list[tuple[int, bytes]]:
    """(offset_ms, RTP packet) pairs of an rtpdump file (tests, tooling)."""
    data = path.read_bytes()
    end = data.index(b"\n") + 1
    if not data.startswith(b"#!rtpplay1.0 "):
        raise ValueError("not an rtpdump file")
    pos = end + FILE_HEADER.size
    out = []
    while pos + PACKET_HEADER.size <= len(data):
        length, plen, offset = PACKET_HEADER.unpack_from(data, pos)
        out.append((offset, data[pos + PACKET_HEADER.size : pos + PACKET_HEADER.size + plen]))
        pos += length
    return out
