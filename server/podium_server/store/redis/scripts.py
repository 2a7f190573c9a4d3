"""The store's Lua scripts: read from the package's `lua/` files when the store opens,
registered once per connection (EVALSHA, loaded again by redis-py on NOSCRIPT).

A script shares code by a line `-- include: NAME.lua`, replaced by that file's text at
load (Redis scripts have no `require`). A missing file fails the store's `open`, naming
the file, rather than the first scan that needs it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from typing import ClassVar

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript

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


@dataclass(frozen=True)
class RedisScripts:
    """The registered scripts of one client: each call is one EVALSHA round trip."""

    commit: AsyncScript  # a batch of ledger writes
    lookup: AsyncScript  # everything a batch is decided on
    watch: AsyncScript  # one watch interval
    recount: AsyncScript  # one session's attended counters, from scratch
    migrate_pair: AsyncScript  # one pair's scans from the schema-1 field to a list

    # The file behind each field, each read at `register`.
    FILES: ClassVar[dict[str, str]] = {
        "commit": "commit.lua",
        "lookup": "lookup.lua",
        "watch": "watch.lua",
        "recount": "recount.lua",
        "migrate_pair": "migrate_pair.lua",
    }

    @classmethod
    def register(cls, client: aioredis.Redis, root: Traversable | None = None) -> RedisScripts:
        return cls(
            **{
                field: client.register_script(lua_source(name, root))
                for field, name in cls.FILES.items()
            }
        )
