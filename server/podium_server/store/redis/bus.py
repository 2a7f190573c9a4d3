"""The message bus of several nodes: Redis pub/sub on one channel.

Its own connections, apart from the store's: a subscription must see a lost connection
to say `RESYNC` (redis-py's retrying pool would re-subscribe silently), and a burst of
scans must not wait behind the bus or the other way round.
"""

from __future__ import annotations

import json
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub

from ..bus import Subscription
from .connection import command_pool, parse_url
from .keys import RedisKeys
from .subscription import RedisSubscription


class RedisBus:
    """Owns the publishing client, the subscriptions' pool and the open subscriptions."""

    def __init__(self, url: str, prefix: str = "podium:") -> None:
        self.url = url
        self.channel = RedisKeys(prefix).channel
        self._client: aioredis.Redis | None = None
        self._pubsub_pool: aioredis.ConnectionPool | None = None
        self._subs: set[RedisSubscription] = set()

    @classmethod
    def from_url(cls, url: str) -> RedisBus:
        plain, prefix = parse_url(url)
        return cls(plain, prefix)

    async def open(self) -> None:
        # Publishing is a command like the store's (timeouts, retried reconnects);
        # closing the client closes its pool.
        self._client = aioredis.Redis.from_pool(command_pool(self.url))

    async def close(self) -> None:
        for sub in list(self._subs):
            await sub.aclose()
        if self._client is not None:
            await self._client.aclose()
        self._client = None
        if self._pubsub_pool is not None:
            await self._pubsub_pool.aclose()
        self._pubsub_pool = None

    async def publish(self, message: dict[str, Any]) -> None:
        if self._client is None:
            raise RuntimeError("bus is not open")
        await self._client.publish(self.channel, json.dumps(message))

    async def subscribe(self) -> Subscription:
        if self._pubsub_pool is None:
            self._pubsub_pool = aioredis.ConnectionPool.from_url(
                self.url, decode_responses=True, health_check_interval=30
            )
        pubsub = PubSub(self._pubsub_pool, ignore_subscribe_messages=True)
        await pubsub.subscribe(self.channel)
        sub = RedisSubscription(pubsub, self.channel, self._subs)
        self._subs.add(sub)
        return sub
