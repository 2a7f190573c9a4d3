"""One node's subscription to the updates channel, which outlives lost connections."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis

from ..bus import RESYNC

log = logging.getLogger(__name__)

# Pauses before re-subscribing to the updates channel after a lost connection.
RESUBSCRIBE_FIRST_S = 0.1
RESUBSCRIBE_MAX_S = 5.0


class RedisSubscription:
    """Owns one pub/sub connection to the updates channel: yields its JSON messages,
    re-subscribes after a lost connection (saying `RESYNC`), and leaves `registry`, the
    bus's set of open subscriptions, when closed."""

    def __init__(self, pubsub: Any, channel: str, registry: set[RedisSubscription]) -> None:
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
