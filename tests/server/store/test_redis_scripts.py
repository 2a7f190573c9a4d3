"""The Redis store's Lua files: each is loaded and used, a missing one fails `open`."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from podium_server.attendance.records import DoorScan, PairLedger, WatchInterval
from podium_server.event.model import Participant
from podium_server.store.records import COMMITTED, AuditRecord, LedgerWrite, StoredReply
from podium_server.store.redis import RedisKeys, RedisStore
from podium_server.store.redis import scripts as redis_scripts
from podium_server.store.redis.scripts import (
    LUA_DIR,
    RedisScripts,
    ScriptMissing,
    included_by,
    lua_source,
)

LUA_FILES = sorted(p.name for p in LUA_DIR.iterdir() if p.name.endswith(".lua"))


def test_every_lua_file_is_a_script_or_included_by_one() -> None:
    registered = set(RedisScripts.FILES)
    included = {inc for name in registered for inc in included_by(name)}
    assert set(LUA_FILES) == registered | included
    assert included == {"count.lua"}  # the attended counters, shared by three scripts
    assert not registered & included


def test_an_include_line_becomes_the_included_file() -> None:
    count = (LUA_DIR / "count.lua").read_text()
    for name in ("commit.lua", "watch.lua", "recount.lua"):
        source = lua_source(name)
        assert not [line for line in source.splitlines() if line.startswith("-- include:")]
        assert count.rstrip("\n") in source
        # defined before the script's own code calls it
        assert source.index("local function count(") < source.index("count(pk")
    assert "local function count(" not in lua_source("lookup.lua")


def copy_without(tmp_path: Path, missing: str) -> Path:
    where = tmp_path / "lua"
    where.mkdir()
    for name in LUA_FILES:
        if name != missing:
            shutil.copy(Path(str(LUA_DIR / name)), where / name)
    return where


@pytest.mark.parametrize("missing", LUA_FILES)
async def test_a_missing_script_fails_open_naming_it(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    """A package shipped without one of its Lua files (say, package data left out of a
    wheel) refuses to open instead of failing the first scan that needs the script."""
    monkeypatch.setattr(redis_scripts, "LUA_DIR", copy_without(tmp_path, missing))
    store = RedisStore.from_url(redis_url)
    with pytest.raises(ScriptMissing, match=missing.replace(".", r"\.")):
        await store.open()
    with pytest.raises(RuntimeError, match="not open"):
        store.redis  # noqa: B018 - no client was kept
    await store.close()
    raw = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        assert await raw.get(RedisKeys().schema) is None  # nothing was written
    finally:
        await raw.aclose()


async def test_every_registered_script_is_run_by_a_store_call(redis_url: str) -> None:
    """Each script reaches Redis through the store: commit, lookup, watch, recount
    (a roster update changes a counted person) and migrate_pair (schema-1 data)."""
    keys = RedisKeys()
    raw = aioredis.Redis.from_url(redis_url, decode_responses=True)
    await raw.script_flush()
    old = DoorScan("r0", "s1", "p9", "in", 50.0, "door", 50.0)
    await raw.hset(  # type: ignore[misc]
        keys.pair("s1", "p9"), mapping={"v": 1, "scans": json.dumps([old.to_json()])}
    )
    await raw.sadd(keys.pair_index, "s1:p9")  # type: ignore[misc]
    store = RedisStore.from_url(redis_url)
    await store.open()
    try:
        person = Participant("p1", "Wang Fang", "p1@x.org", "Org", "government", "Beijing")
        await store.upsert_participants([person])
        scan = DoorScan("r1", "s1", "p1", "in", 100.0, "door", 100.0)
        pair = PairLedger("s1", "p1", (scan,), 1)
        write = LedgerWrite(
            dedupe_key="door|r1",
            stored=StoredReply({"type": "scan.result", "re": "r1"}, "s1", "p1"),
            audit=AuditRecord(at=100.0, kind="scan", device="door"),
            pair=pair,
            inside=True,
            door_seen=True,
            appended=(scan,),
        )
        assert [r.status for r in await store.commit([write])] == [COMMITTED]
        assert (await store.lookup([], [("s1", "p1")], [])).pairs[("s1", "p1")] == pair
        await store.record_watch(WatchInterval("s1", "p2", "w1", 100.0, 160.0, False))
        await store.upsert_participants([dataclasses.replace(person, province="Shanghai")])
        counts = await store.live_counts("s1", 200.0)
        assert counts.attended == 2 and counts.by_province == {"Shanghai": 1, "unknown": 1}
        assert [s.scan_id for s in await store.list_scans()] == ["r1", "r0"]

        shas = {name: script.sha for name, script in store._scripts.by_file.items()}
        loaded = await raw.script_exists(*shas.values())
        assert dict(zip(shas, loaded, strict=True)) == dict.fromkeys(RedisScripts.FILES, True)
    finally:
        await store.close()
        await raw.aclose()
