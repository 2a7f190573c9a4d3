"""Which backend a store URL names: the one module that knows every backend (so
`base` imports none of them, and they all import `base`)."""

from __future__ import annotations

from .base import Store


def open_store(url: str) -> Store:
    """Build (not yet open) the backend named by `url`'s scheme."""
    if url.startswith("sqlite://"):
        from .sqlite import SqliteStore

        return SqliteStore.from_url(url)
    if url.startswith("redis://"):
        from .redis import RedisStore

        return RedisStore.from_url(url)
    raise ValueError(f"unknown store URL scheme: {url!r}")
