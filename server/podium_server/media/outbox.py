"""Per-viewer bounded send queue: a slow or dead viewer loses its own packets only.

The fan-out calls `push()` synchronously for every viewer. When the viewer's path can
take the datagram at once (a UDP socket with nothing buffered) it is sent right there,
with no task switch; otherwise it is queued, up to `max_packets`, and a drain task of
this viewer alone awaits the slower path. A full queue drops the new packet and marks
the viewer stalled; the relay drops viewers stalled longer than its timeout.

A packet the sink cannot send at all (longer than the MTU allows, refused by SRTP) is
dropped and counted, and the viewer's other packets go on: nothing the sink raises other
than `ConnectionError` (the viewer is gone) leaves `push()` or the drain task.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .aiortc_private import DirectWire

log = logging.getLogger(__name__)


class PacketSink(Protocol):
    """Where one viewer's serialized RTP/RTCP goes (SRTP protection included)."""

    def try_send(self, data: bytes) -> bool:
        """Send now if that cannot block; False means 'use send()'. ConnectionError: gone."""
        ...

    async def send(self, data: bytes) -> None: ...

    def backlog(self) -> int:
        """Bytes buffered below us and not yet on the wire."""
        ...


DropCounter = Callable[[str], None]  # called with the reason of each dropped packet


class Outbox:
    """Owns one viewer's queue of packets not yet sent, its drain task and its
    counters (sent, dropped, stalled since)."""

    __slots__ = (
        "_sink",
        "_queue",
        "_max",
        "_max_backlog",
        "_task",
        "dropped",
        "sent",
        "stalled_since",
        "failed",
        "_direct",
        "_on_drop",
        "_max_size",
        "_warned",
    )

    def __init__(
        self,
        sink: PacketSink,
        *,
        max_packets: int = 256,
        max_backlog: int = 256_000,
        max_size: int | None = None,
        on_drop: DropCounter | None = None,
    ):
        if max_packets < 1:
            raise ValueError("max_packets must be >= 1")
        self._sink = sink
        self._queue: deque[bytes] = deque()
        self._max = max_packets
        self._max_backlog = max_backlog
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0
        self.sent = 0
        self.stalled_since: float | None = None
        self.failed = False
        # A real viewer's sink offers the fan-out's fast path (see relay.py); test sinks not.
        self._direct: Callable[[], DirectWire | None] | None = getattr(sink, "direct", None)
        self._on_drop = on_drop
        self._max_size = max_size
        self._warned = False

    def count_drop(self, reason: str) -> None:
        """One packet of this viewer's was not sent (`reason`: too-long, refused, full)."""
        self.dropped += 1
        if self._on_drop is not None:
            self._on_drop(reason)

    def _refused(self, data: bytes, exc: Exception) -> None:
        # Once per viewer in the log: a publisher's oversized packets repeat at frame rate.
        if not self._warned:
            self._warned = True
            log.warning("dropping a %d-byte packet for a viewer: %s", len(data), exc)
        self.count_drop("refused")

    def direct(self) -> DirectWire | None:
        """The sink's fast path, only while nothing of ours waits in the queue (order)."""
        if self._queue or self.failed or self._direct is None:
            return None
        return self._direct()

    def push(self, data: bytes) -> None:
        if self.failed:
            return
        if self._max_size is not None and len(data) > self._max_size:
            if not self._warned:
                self._warned = True
                log.warning("dropping %d-byte packets: over %d", len(data), self._max_size)
            self.count_drop("too-long")
            return
        if not self._queue:
            try:
                if self._sink.try_send(data):
                    self.sent += 1
                    return
            except ConnectionError:
                self.failed = True
                return
            except Exception as exc:
                self._refused(data, exc)
                return
        if len(self._queue) >= self._max:
            self.count_drop("queue-full")
            if self.stalled_since is None:
                self.stalled_since = time.monotonic()
            return
        self._queue.append(data)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._drain())

    def __len__(self) -> int:
        return len(self._queue)

    async def _drain(self) -> None:
        try:
            while self._queue:
                # UDP transports never push back (no event to wait on): poll the backlog.
                while self._sink.backlog() > self._max_backlog:  # noqa: ASYNC110
                    await asyncio.sleep(0.005)
                data = self._queue.popleft()
                try:
                    await self._sink.send(data)
                except (ConnectionError, asyncio.CancelledError):
                    raise
                except Exception as exc:
                    self._refused(data, exc)
                    continue
                self.sent += 1
            self.stalled_since = None
        except ConnectionError:
            self.failed = True
            self._queue.clear()
        except asyncio.CancelledError:
            self._queue.clear()
            raise
        finally:
            self._task = None

    def close(self) -> None:
        self.failed = True
        self._queue.clear()
        if self._task is not None:
            self._task.cancel()
            self._task = None
