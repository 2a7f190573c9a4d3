"""Redis specifics: data written by the schema-1 layout is moved on open."""

from __future__ import annotations

import json

import redis.asyncio as aioredis

from podium_server.attendance.records import DoorScan, PairLedger
from podium_server.store.redis import RedisKeys, RedisStore
from podium_server.store.redis.schema import SCHEMA


async def test_open_moves_pair_json_into_scan_lists(redis_url: str) -> None:
    keys = RedisKeys()
    scans = [
        DoorScan("r1", "s1", "p1", "in", 100.25, "door-A", 100.5, False, 1),
        DoorScan("r2", "s1", "p1", "out", 1637222400.123456, "door-B", 1637222401.0, True, 2),
    ]
    raw = aioredis.Redis.from_url(redis_url, decode_responses=True)
    await raw.hset(  # type: ignore[misc]
        keys.pair("s1", "p1"),
        mapping={"v": 2, "scans": json.dumps([s.to_json() for s in scans]), "inside": 0},
    )
    await raw.sadd(keys.pair_index, "s1:p1")  # type: ignore[misc]
    store = RedisStore(redis_url)
    await store.open()
    try:
        assert await store.list_scans() == scans
        got = (await store.lookup([], [("s1", "p1")], [])).pairs[("s1", "p1")]
        assert got == PairLedger("s1", "p1", tuple(scans), 2)
        assert not await raw.hexists(keys.pair("s1", "p1"), "scans")  # type: ignore[misc]
        assert await raw.get(keys.schema) == SCHEMA
    finally:
        await store.close()
    again = RedisStore(redis_url)  # opening again moves nothing twice
    await again.open()
    try:
        assert await again.list_scans() == scans
    finally:
        await again.close()
        await raw.aclose()


async def test_annul_lines_from_before_they_named_the_device_flag_earlier_scans_only(
    redis_url: str,
) -> None:
    """An annulment line written before lines named the device flags the scans with its
    id that came before it, not a scan another door made later with the same id."""
    keys = RedisKeys()
    door_a = DoorScan("r1", "s1", "p1", "in", 100.0, "door-A", 100.0, False, 1)
    door_b = DoorScan("r1", "s1", "p1", "in", 900.0, "door-B", 900.0, False, 3)
    raw = aioredis.Redis.from_url(redis_url, decode_responses=True)
    lines = [door_a.json_text, json.dumps({"annul": "r1", "v": 2}), door_b.json_text]
    await raw.rpush(keys.scans("s1", "p1"), *lines)  # type: ignore[misc]
    await raw.hset(keys.pair("s1", "p1"), mapping={"v": 3, "inside": 1})  # type: ignore[misc]
    await raw.sadd(keys.pair_index, "s1:p1")  # type: ignore[misc]
    await raw.aclose()
    store = RedisStore(redis_url)
    await store.open()
    try:
        got = (await store.lookup([], [("s1", "p1")], [])).pairs[("s1", "p1")]
        assert [(s.device, s.annulled) for s in got.scans] == [
            ("door-A", True),
            ("door-B", False),
        ]
        assert [s.annulled for s in await store.list_scans()] == [True, False]
    finally:
        await store.close()
