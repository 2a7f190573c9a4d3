"""The store's Lua scripts: read from the package's `lua/` files when the store opens,
registered once per client (EVALSHA, loaded again by redis-py on NOSCRIPT), and called
with their ARGV in the order each file reads them.

A script shares code by a line `-- include: NAME.lua`, replaced by that file's text at
load (Redis scripts have no `require`). A missing file fails the store's `open`, naming
the file, rather than the first scan that needs it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript

from ..records import RECENT_KEEP
from .keys import RedisKeys

LUA_DIR = resources.files(__package__ or __name__).joinpath("lua")

_INCLUDE = re.compile(r"^-- include: (\S+\.lua)$", re.MULTILINE)


class ScriptMissing(RuntimeError):
    """A Lua file the store needs is not where the package keeps them."""


def lua_source(name: str, root: Traversable | None = None) -> str:
    """The text of `name` in `root` (the package's `lua/`), its `-- include:` lines
    replaced by the named files (one level: an included file includes nothing)."""
    where = LUA_DIR if root is None else root

    def include(match: re.Match[str]) -> str:
        return _read(where, match.group(1)).rstrip("\n")

    return _INCLUDE.sub(include, _read(where, name))


def included_by(name: str, root: Traversable | None = None) -> list[str]:
    """The files `name` includes, in order."""
    return _INCLUDE.findall(_read(LUA_DIR if root is None else root, name))


def _read(root: Traversable, name: str) -> str:
    path = root.joinpath(name)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScriptMissing(f"redis store script {name} is missing (looked in {root})") from None


class RedisScripts:
    """Owns the store's scripts registered on one client, and their calls: each method
    is one EVALSHA round trip with the key names of one prefix."""

    # Each script the store runs; the files they include are read with them.
    FILES = ("commit.lua", "lookup.lua", "watch.lua", "recount.lua", "migrate_pair.lua")

    def __init__(
        self, client: aioredis.Redis, keys: RedisKeys, root: Traversable | None = None
    ) -> None:
        self.keys = keys
        # Registering reads the file, and makes no round trip (EVALSHA loads it later).
        self.by_file: Mapping[str, AsyncScript] = {
            name: client.register_script(lua_source(name, root)) for name in self.FILES
        }
        self._commit = self.by_file["commit.lua"]
        self._lookup = self.by_file["lookup.lua"]
        self._watch = self.by_file["watch.lua"]
        self._recount = self.by_file["recount.lua"]
        self._migrate_pair = self.by_file["migrate_pair.lua"]

    async def commit(self, writes_json: str) -> list[Any]:
        """A batch of ledger writes (`codec.write_json`, as one JSON array): per write
        1 committed, 0 conflict, 2 its token revoked, or the stored reply's body."""
        k = self.keys
        return await self._commit(
            args=[
                writes_json,
                k.replies,
                k.audit,
                k.pair_stem,
                k.pair_index,
                k.inside_stem,
                k.attended_stem,
                k.recent_stem,
                RECENT_KEEP,
                k.participants,
                k.by_province_stem,
                k.by_org_type_stem,
                k.counted,
                k.scans_stem,
                k.revoked("badge"),
                k.revoked("token"),
            ]
        )

    async def lookup(
        self,
        dedupe_keys: Sequence[str],
        pairs: Sequence[tuple[str, str]],
        cached: Mapping[tuple[str, str], int],
        roster_ids: Sequence[str],
        badge_ids: Sequence[str],
    ) -> list[Any]:
        """[reply bodies, [version, watched, scan lines] per pair, roster entries,
        revocations], each in the order asked; a pair's lines only when its version
        is not the `cached` one."""
        k = self.keys
        args: list[str | int] = [
            k.replies,
            k.participants,
            k.revoked("badge"),
            k.pair_stem,
            k.scans_stem,
            len(dedupe_keys),
            *dedupe_keys,
            len(pairs),
        ]
        for s, p in pairs:
            args += (s, p, cached.get((s, p), -1))
        args += (len(roster_ids), *roster_ids, len(badge_ids), *badge_ids)
        return await self._lookup(args=args)

    async def watch(self, interval_json: str) -> None:
        k = self.keys
        await self._watch(
            args=[
                interval_json,
                k.watches,
                k.pair_stem,
                k.pair_index,
                k.attended_stem,
                k.online_stem,
                k.participants,
                k.by_province_stem,
                k.by_org_type_stem,
                k.counted,
            ]
        )

    async def recount(self, session_id: str) -> None:
        k = self.keys
        await self._recount(
            args=[
                session_id,
                k.attended_stem,
                k.pair_stem,
                k.participants,
                k.by_province_stem,
                k.by_org_type_stem,
                k.counted,
            ]
        )

    async def migrate_pair(
        self, session_id: str, participant_id: str, old: str, lines: Sequence[str]
    ) -> int:
        """1 if the pair's schema-1 field still held `old` and now is `lines`, else 0."""
        k = self.keys
        keys = [k.pair(session_id, participant_id), k.scans(session_id, participant_id)]
        return int(await self._migrate_pair(keys=keys, args=[old, *lines]))
