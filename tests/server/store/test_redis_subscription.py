"""The Redis message bus's subscription to the updates channel: what it passes on, and that
it outlives a lost connection, saying so with `RESYNC`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis

from podium_server.store.bus import RESYNC
from podium_server.store.redis.bus import RedisBus


async def next_message(messages: AsyncIterator[dict[str, Any]]) -> dict[str, Any]:
    return await asyncio.wait_for(anext(messages), 10)


async def subscribers(raw: aioredis.Redis, channel: str, expected: int) -> int:
    """The channel's subscriber count once it is `expected`, or as it is after 5 s (a
    subscribe or close is sent without waiting for Redis to have handled it)."""
    for _ in range(100):
        count = int((await raw.pubsub_numsub(channel))[0][1])
        if count == expected:
            break
        await asyncio.sleep(0.05)
    return count


async def test_only_json_objects_are_passed_on(redis_url: str) -> None:
    """Other software (or a bug) may publish on the channel: what is not a JSON object
    is dropped, and the subscription goes on."""
    bus = RedisBus.from_url(redis_url)
    await bus.open()
    raw = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        sub = await bus.subscribe()
        messages = aiter(sub)
        assert await subscribers(raw, bus.channel, 1) == 1
        for junk in ("not json", "[1, 2]", '"text"'):
            await raw.publish(bus.channel, junk)
        await bus.publish({"session": "s1"})
        assert await next_message(messages) == {"session": "s1"}
    finally:
        await bus.close()
        await raw.aclose()


async def test_a_killed_connection_is_resubscribed_and_says_resync(redis_url: str) -> None:
    """Redis drops the subscriber's connection (a restart, an output buffer limit): the
    subscription connects again, yields RESYNC (notices may have been missed), then the
    channel's messages as before."""
    bus = RedisBus.from_url(redis_url)
    await bus.open()
    raw = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        sub = await bus.subscribe()
        messages = aiter(sub)
        assert await subscribers(raw, bus.channel, 1) == 1
        await bus.publish({"n": 1})
        assert await next_message(messages) == {"n": 1}
        assert await raw.client_kill_filter(_type="pubsub") == 1
        assert await next_message(messages) == RESYNC
        assert await subscribers(raw, bus.channel, 1) == 1
        await bus.publish({"n": 2})
        assert await next_message(messages) == {"n": 2}
    finally:
        await bus.close()
        await raw.aclose()


async def test_closing_the_bus_closes_its_subscriptions(redis_url: str) -> None:
    bus = RedisBus.from_url(redis_url)
    await bus.open()
    raw = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        subs = [await bus.subscribe() for _ in range(3)]
        assert await subscribers(raw, bus.channel, 3) == 3
        await subs[0].aclose()
        await bus.close()
        assert await subscribers(raw, bus.channel, 0) == 0
        ended = [m async for m in subs[1]]  # a closed subscription's iteration ends
        assert ended == []
    finally:
        await raw.aclose()
