"""The message bus, on each backend's kind: in this process (SQLite) and Redis pub/sub
on a real `redis-server`. Two buses on the same URL stand for two nodes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from podium_server.store.bus import (
    ROSTER_CHANGED,
    LocalBus,
    MessageBus,
    Subscription,
    event_loaded,
    sessions_changed,
)
from podium_server.store.factory import open_bus


@pytest.fixture
async def bus(store_url: str) -> AsyncIterator[MessageBus]:
    b = open_bus(store_url)
    await b.open()
    try:
        yield b
    finally:
        await b.close()


async def first(sub: Subscription, wait: float = 5) -> dict[str, Any]:
    async def read() -> dict[str, Any]:
        async for msg in sub:
            return msg
        raise AssertionError("the subscription ended")

    return await asyncio.wait_for(read(), wait)


async def test_every_subscriber_gets_each_message_in_order(bus: MessageBus) -> None:
    a, b = await bus.subscribe(), await bus.subscribe()
    sent = [sessions_changed("n1", {"s2", "s1"}), ROSTER_CHANGED, event_loaded("ev")]
    for message in sent:
        await bus.publish(message)
    for sub in (a, b):
        assert [await first(sub) for _ in sent] == [
            {"node": "n1", "sessions": ["s1", "s2"]},
            {"roster": True},
            {"event": "ev"},
        ]
        await sub.aclose()


async def test_a_closed_subscription_ends_and_gets_nothing_more(bus: MessageBus) -> None:
    keep, gone = await bus.subscribe(), await bus.subscribe()
    await gone.aclose()
    await bus.publish({"n": 1})
    assert await first(keep) == {"n": 1}
    with pytest.raises(AssertionError, match="ended"):
        await first(gone, wait=1)
    await keep.aclose()


async def test_closing_the_bus_ends_its_subscriptions(store_url: str) -> None:
    bus = open_bus(store_url)
    await bus.open()
    sub = await bus.subscribe()
    reader = asyncio.create_task(first(sub))
    await asyncio.sleep(0.05)
    await bus.close()
    with pytest.raises(AssertionError, match="ended"):
        await asyncio.wait_for(reader, 5)


async def test_redis_messages_reach_the_other_nodes(redis_url: str) -> None:
    """Two nodes' buses on one Redis: each hears the other (and itself)."""
    here, there = open_bus(redis_url), open_bus(redis_url)
    await here.open()
    await there.open()
    try:
        mine, theirs = await here.subscribe(), await there.subscribe()
        await here.publish(ROSTER_CHANGED)
        assert await first(theirs) == ROSTER_CHANGED
        assert await first(mine) == ROSTER_CHANGED
    finally:
        await here.close()
        await there.close()


async def test_a_local_bus_reaches_only_this_process() -> None:
    """SQLite is one node: two local buses are two separate processes' buses."""
    here, there = LocalBus(), LocalBus()
    sub = await there.subscribe()
    await here.publish(ROSTER_CHANGED)
    await there.publish({"mine": True})
    assert await first(sub) == {"mine": True}
    await sub.aclose()
