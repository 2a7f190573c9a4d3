"""Store outages: told apart from bugs, answered as retryable, logged once.

A store that cannot be reached now (Redis down or not answering, SQLite held by another
process past the busy timeout) is not a bug: every call that fails for that reason
raises `StoreUnavailable`, which clients see as `unavailable` (WebSocket) or 503 (HTTP)
and retry with the same request id, which the ledger answers once. `OutageLog` writes
one line when the outage starts and one with its duration when it ends, instead of a
traceback per failed scan, and keeps the figures `/metrics` shows.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import redis.exceptions

from ..errors import StoreUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")

# The store calls that can meet an outage (subscribe has its own reconnecting loop).
GUARDED_CALLS = (
    "ping",
    "save_event",
    "load_event",
    "upsert_participants",
    "list_participants",
    "get_participant",
    "revoke",
    "is_revoked",
    "revoked_values",
    "append_audit",
    "list_audit",
    "lookup",
    "commit",
    "record_watch",
    "live",
    "live_counts",
    "list_scans",
    "list_watches",
    "publish",
)
# SQLite's words for a database another connection holds (the writer process reports
# its errors as "OperationalError: <message>").
_LOCKED = ("database is locked", "database is busy", "database table is locked")


def is_outage(exc: BaseException) -> bool:
    """The store cannot be reached now, as opposed to a bug or bad data."""
    if isinstance(exc, StoreUnavailable):
        return True
    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        return True  # refused, reset, timed out, or still loading its data after a restart
    if isinstance(exc, sqlite3.OperationalError):
        return any(words in str(exc) for words in _LOCKED)
    from .sqlite import WriterError

    return isinstance(exc, WriterError) and any(words in str(exc) for words in _LOCKED)


class OutageLog:
    """When the store became unreachable, for how long in all, how many calls failed."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.down_since: float | None = None
        self.failing: set[str] = set()  # the kinds of call that failed in this outage
        self.past_outages_s = 0.0
        self.errors = 0  # calls that failed for an outage, ever

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def outage_seconds(self) -> float:
        """Seconds the store was unreachable since start, the current outage included."""
        current = self.clock() - self.down_since if self.down_since is not None else 0.0
        return self.past_outages_s + current

    def failed(self, call: str, exc: BaseException) -> None:
        self.errors += 1
        self.failing.add(call)
        if self.down_since is None:
            self.down_since = self.clock()
            log.warning("store unavailable: %s failed: %s", call, _describe(exc))

    def succeeded(self, call: str) -> None:
        """A call of a kind that failed works again: the outage is over. (Another kind
        working says nothing: with SQLite locked, reads go on while commits fail.)"""
        if self.down_since is None or call not in self.failing:
            return
        lasted = self.clock() - self.down_since
        self.past_outages_s += lasted
        log.warning(
            "store available again after %.1f s",
            lasted,
            extra={"outage_s": round(lasted, 3), "failed_calls": sorted(self.failing)},
        )
        self.down_since = None
        self.failing.clear()


def _describe(exc: BaseException) -> str:
    cause = exc.__cause__ if isinstance(exc, StoreUnavailable) and exc.__cause__ else exc
    return f"{type(cause).__name__}: {cause}"


def guard_store(store: T, outage: OutageLog) -> T:
    """`store` (or the bus), each of its calls turning an outage into `StoreUnavailable` (and noted
    in `outage`). The same object: its type and its other attributes stay as they are."""
    for name in GUARDED_CALLS:
        method = getattr(store, name, None)
        if method is not None:
            setattr(store, name, _guarded(name, method, outage))
    return store


def _guarded(
    name: str, method: Callable[..., Awaitable[Any]], outage: OutageLog
) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(method)
    async def call(*args: Any, **kwargs: Any) -> Any:
        try:
            result = await method(*args, **kwargs)
        except Exception as exc:
            if not is_outage(exc):
                raise
            outage.failed(name, exc)
            if isinstance(exc, StoreUnavailable):
                raise
            raise StoreUnavailable() from exc
        outage.succeeded(name)
        return result

    return call
