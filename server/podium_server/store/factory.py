"""Which backend and which message bus a store URL names: the one module that knows
every backend (so the roles, records and bus import none of them)."""

from __future__ import annotations

from .bus import LocalBus, MessageBus
from .roles import Store


def open_store(url: str) -> Store:
    """Build (not yet open) the backend named by `url`'s scheme."""
    if url.startswith("sqlite://"):
        from .sqlite import SqliteStore

        return SqliteStore.from_url(url)
    if url.startswith("redis://"):
        from .redis import RedisStore

        return RedisStore.from_url(url)
    raise ValueError(f"unknown store URL scheme: {url!r}")


def open_bus(url: str) -> MessageBus:
    """Build (not yet open) the message bus that goes with the store at `url`: in this
    process for SQLite (one node), Redis pub/sub for Redis (several)."""
    if url.startswith("sqlite://"):
        return LocalBus()
    if url.startswith("redis://"):
        from .redis.bus import RedisBus

        return RedisBus.from_url(url)
    raise ValueError(f"unknown store URL scheme: {url!r}")
