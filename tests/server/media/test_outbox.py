"""The per-viewer bounded queue: a blocked viewer loses its own packets, never blocks push."""

from __future__ import annotations

import asyncio

from podium_server.media.outbox import Outbox


class GatedSink:
    """A viewer path that cannot take data synchronously and blocks until opened."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.sent: list[bytes] = []

    def try_send(self, data: bytes) -> bool:
        return False

    async def send(self, data: bytes) -> None:
        await self.gate.wait()
        self.sent.append(data)

    def backlog(self) -> int:
        return 0


class DeadSink(GatedSink):
    def try_send(self, data: bytes) -> bool:
        raise ConnectionError("gone")


async def test_blocked_viewer_drops_its_own_packets_and_is_marked_stalled() -> None:
    sink = GatedSink()
    box = Outbox(sink, max_packets=4)
    for i in range(10):
        box.push(bytes([i]))  # never awaits: the fan-out is not held up
    assert len(box) == 4 and box.dropped == 6 and box.stalled_since is not None
    sink.gate.set()
    for _ in range(10):
        await asyncio.sleep(0)
    assert sink.sent == [bytes([i]) for i in range(4)]
    assert box.stalled_since is None and len(box) == 0
    box.close()


async def test_dead_viewer_is_marked_failed() -> None:
    box = Outbox(DeadSink())
    box.push(b"x")
    assert box.failed
    box.push(b"y")
    assert len(box) == 0


class PickySink(GatedSink):
    """Refuses one particular packet on both paths (as SRTP refuses a packet too long)."""

    def __init__(self, sync: bool) -> None:
        super().__init__()
        self.sync = sync
        self.gate.set()

    def try_send(self, data: bytes) -> bool:
        if not self.sync:
            return False
        if data == b"bad":
            raise ValueError("packet is too long")
        self.sent.append(data)
        return True

    async def send(self, data: bytes) -> None:
        if data == b"bad":
            raise ValueError("packet is too long")
        self.sent.append(data)


async def test_refused_and_oversized_packets_are_dropped_counted_and_the_rest_sent() -> None:
    for sync in (True, False):
        sink = PickySink(sync)
        reasons: list[str] = []
        box = Outbox(sink, max_size=8, on_drop=reasons.append)
        for data in (b"a", b"bad", b"b", b"x" * 9, b"c"):
            box.push(data)  # never raises
        for _ in range(10):
            await asyncio.sleep(0)
        assert sink.sent == [b"a", b"b", b"c"], sync
        assert sorted(reasons) == ["refused", "too-long"] and box.dropped == 2
        assert not box.failed and len(box) == 0
        box.close()
