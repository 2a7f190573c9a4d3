"""The message bus of several nodes: Redis pub/sub on one channel.

Its own connections, apart from the store's: a subscription must see a lost connection
to say `RESYNC` (redis-py's retrying pool would re-subscribe silently), and a burst of
scans must not wait behind the bus or the other way round.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from .bus import RESYNC, Subscription
from .keys import RedisKeys
from .redis import COMMAND_TIMEOUT_S, RECONNECT_RETRIES, parse_url

log = logging.getLogger(__name__)

# Pauses before re-subscribing to the channel after a lost connection.
RESUBSCRIBE_FIRST_S = 0.1
RESUBSCRIBE_MAX_S = 5.0


class RedisBus:
    """Owns the publishing client, the subscriptions' pool and the open subscriptions."""

    def __init__(self, url: str, prefix: str = "podium:") -> None:
        self.url = url
        self.channel = RedisKeys(prefix).channel
        self._client: aioredis.Redis | None = None
        self._pubsub_pool: aioredis.ConnectionPool | None = None
        self._subs: set[_RedisSubscription] = set()

    @classmethod
    def from_url(cls, url: str) -> RedisBus:
        plain, prefix = parse_url(url)
        return cls(plain, prefix)

    async def open(self) -> None:
        self._client = aioredis.Redis.from_url(
            self.url,
            decode_responses=True,
            socket_timeout=COMMAND_TIMEOUT_S,
            socket_connect_timeout=COMMAND_TIMEOUT_S,
            retry=Retry(
                ExponentialBackoff(cap=0.5, base=0.02),
                RECONNECT_RETRIES,
                supported_errors=(aioredis.ConnectionError,),
            ),
            retry_on_error=[aioredis.ConnectionError],
        )

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
        sub = _RedisSubscription(pubsub, self.channel, self._subs)
        self._subs.add(sub)
        return sub


class _RedisSubscription:
    def __init__(self, pubsub: Any, channel: str, registry: set[_RedisSubscription]) -> None:
        self._pubsub = pubsub
        self._channel = channel
        self._registry = registry
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        """The channel's messages, for as long as the subscription is open. A lost
        connection (Redis restarted, the client killed) is retried with a growing pause,
        re-subscribing; then `RESYNC` says notices may have been missed meanwhile."""
        pause = 0.0  # the last pause; back to none once a connection has lasted
        lost = False
        up_since = time.monotonic()
        while not self._closed:
            try:
                if lost:
                    await self._pubsub.subscribe(self._channel)  # reconnects first
                    log.warning("updates channel back after a lost connection")
                    lost, up_since = False, time.monotonic()
                    yield dict(RESYNC)
                msg = await self._pubsub.get_message(timeout=1.0)
            except (aioredis.ConnectionError, aioredis.TimeoutError, OSError, RuntimeError) as e:
                if self._closed:
                    return
                if time.monotonic() - up_since > RESUBSCRIBE_MAX_S * 6:
                    pause = 0.0  # it had been up a while: a new outage, start small
                # a connection dropped again and again (say, over its output limit)
                # is retried ever more slowly, not 10 times a second with a refresh each
                pause = min(max(pause * 2, RESUBSCRIBE_FIRST_S), RESUBSCRIBE_MAX_S)
                lost = True
                log.warning("updates channel lost (%s); retrying in %.1f s", e, pause)
                with contextlib.suppress(Exception):
                    await self._pubsub.aclose()  # drop the broken connection
                await asyncio.sleep(pause)
                continue
            if msg is None or msg.get("type") != "message":
                continue
            try:
                data = json.loads(msg["data"])
            except ValueError:
                log.warning("ignored a non-JSON message on the updates channel")
                continue
            if isinstance(data, dict):
                yield data

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._registry.discard(self)
        try:
            await self._pubsub.unsubscribe()
            await self._pubsub.aclose()
        except (aioredis.ConnectionError, RuntimeError):
            pass
