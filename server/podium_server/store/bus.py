"""The message bus: what one node tells every node, itself included.

A change one node makes that others hold in memory (the dashboards' figures, the cached
roster, the programme) is announced here; each node then reads the change from the
store. Messages are small JSON objects, never the data itself. One node (SQLite) uses
`LocalBus`, in memory; several (Redis) use Redis pub/sub (`redis/bus.py`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import Any, Protocol

# After a lost connection is back, a subscription gives this: messages may have been
# missed meanwhile, so everything cached should be read again.
RESYNC: dict[str, Any] = {"resync": True}
# A roster import: nodes drop their cached roster (and every dashboard's `registered`).
ROSTER_CHANGED: dict[str, Any] = {"roster": True}


def event_loaded(event_id: str) -> dict[str, Any]:
    """A programme loaded on one node: the others load it from the store."""
    return {"event": event_id}


def sessions_changed(node_id: str, sessions: Iterable[str]) -> dict[str, Any]:
    """Door scans or online time changed these sessions' figures (on node `node_id`)."""
    return {"node": node_id, "sessions": sorted(sessions)}


class Subscription(Protocol):
    """Messages published on any node from when it was made; iterate, then `aclose()`."""

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]: ...
    async def aclose(self) -> None: ...


class MessageBus(Protocol):
    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def publish(self, message: dict[str, Any]) -> None:
        """Tell every node (this one included) about a change; a JSON-able message."""
        ...

    async def subscribe(self) -> Subscription:
        """Messages published by any node from the moment this returns."""
        ...


class LocalBus:
    """The bus of a single node: each subscription is a queue in this process."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[dict[str, Any] | None]] = set()

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        for queue in list(self._queues):
            queue.put_nowait(None)
        self._queues.clear()

    async def publish(self, message: dict[str, Any]) -> None:
        for queue in list(self._queues):
            queue.put_nowait(message)

    async def subscribe(self) -> Subscription:
        return _QueueSubscription(self._queues)


class _QueueSubscription:
    def __init__(self, queues: set[asyncio.Queue[dict[str, Any] | None]]) -> None:
        self._queues = queues
        self._queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        queues.add(self._queue)

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            yield item

    async def aclose(self) -> None:
        self._queues.discard(self._queue)
        self._queue.put_nowait(None)
