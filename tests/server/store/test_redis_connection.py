"""How the Redis store reaches Redis: the URL's key prefix, and the durability check."""

from __future__ import annotations

import logging

import pytest
import redis.asyncio as aioredis

from podium_server.event.model import Participant
from podium_server.store.redis import RedisStore
from podium_server.store.redis.connection import parse_url


def test_the_prefix_comes_out_of_the_url_and_the_rest_stays() -> None:
    assert parse_url("redis://h:6380/2") == ("redis://h:6380/2", "podium:")
    assert parse_url("redis://h:6380/2?prefix=ev1:&protocol=3") == (
        "redis://h:6380/2?protocol=3",
        "ev1:",
    )
    with pytest.raises(ValueError, match="not a redis URL"):
        parse_url("rediss://h/0")
    with pytest.raises(ValueError, match="prefix"):
        RedisStore.from_url("redis://h/0?prefix=a b")


async def test_two_prefixes_on_one_redis_keep_apart(redis_url: str) -> None:
    first = RedisStore.from_url(f"{redis_url}?prefix=ev1:")
    second = RedisStore.from_url(f"{redis_url}?prefix=ev2:")
    await first.open()
    await second.open()
    try:
        await first.upsert_participants(
            [Participant("p1", "Li Na", "p1@x.org", "Org", "government", "Hubei")]
        )
        assert [p.id for p in await first.list_participants()] == ["p1"]
        assert await second.list_participants() == []
        raw = aioredis.Redis.from_url(redis_url, decode_responses=True)
        try:
            assert await raw.exists("ev1:participants") and not await raw.exists(
                "podium:participants"
            )
        finally:
            await raw.aclose()
    finally:
        await first.close()
        await second.close()


def durability_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "appendfsync" in r.getMessage()]


async def test_open_warns_when_redis_does_not_fsync_every_write(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    raw = aioredis.Redis.from_url(redis_url, decode_responses=True)
    before = await raw.config_get("appendfsync")
    assert before == {"appendfsync": "always"}  # as the test server runs
    store = RedisStore.from_url(redis_url)
    await store.open()
    await store.close()
    assert durability_warnings(caplog) == []
    try:
        await raw.config_set("appendfsync", "everysec")
        await store.open()
        await store.close()
        assert len(durability_warnings(caplog)) == 1
    finally:
        await raw.config_set("appendfsync", "always")
        await raw.aclose()
