"""The layout version of the data under one key prefix, and the move from older ones."""

from __future__ import annotations

import json
import logging

import redis.asyncio as aioredis

from ...attendance.records import DoorScan
from .keys import RedisKeys
from .scripts import RedisScripts

log = logging.getLogger(__name__)

# 1: a pair's scans as one JSON array in its hash (field `scans`).
# 2: a pair's scans as lines appended to their own list (`RedisKeys.scans`).
SCHEMA = "2"


async def migrate(client: aioredis.Redis, keys: RedisKeys, scripts: RedisScripts) -> None:
    """Bring data written by an older layout up to `SCHEMA` (once per prefix)."""
    if await client.get(keys.schema) == SCHEMA:
        return
    names: list[str] = sorted(await client.smembers(keys.pair_index))  # type: ignore[arg-type]
    moved = 0
    for start in range(0, len(names), 500):
        chunk = [name.split(":", 1) for name in names[start : start + 500]]
        async with client.pipeline(transaction=False) as pipe:
            for s, p in chunk:
                pipe.hget(keys.pair(s, p), "scans")
            olds = await pipe.execute()
        for (s, p), old in zip(chunk, olds, strict=True):
            if old is None:
                continue
            lines = [DoorScan.from_json(x).json_text for x in json.loads(old)]
            moved += await scripts.migrate_pair(s, p, old, lines)
    await client.set(keys.schema, SCHEMA)
    if moved:
        log.info("redis store: moved %d pair histories to append-only scan lists", moved)
