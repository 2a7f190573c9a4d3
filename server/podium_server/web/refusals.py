"""The audit of refused requests, coalesced: kept, without one client growing it at will.

A refusal (a revoked or forged token, a role that may not do this, too many requests)
is written at once the first time in a window; the same refusal again within
WINDOW_S is only counted, and one row with that count (`repeats`, first and last time)
closes the window. So a client refused 500 times a second leaves two rows a minute per
token (or per address, for tokens that are not even genuine), not 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace

from aiohttp import web

from .. import appkeys as keys
from ..store.records import AuditRecord
from ..store.roles import AuditLog

log = logging.getLogger(__name__)

WINDOW_S = 60.0
MAX_OPEN_WINDOWS = 10_000


@dataclass
class _Window:
    first: AuditRecord
    repeats: int = 0
    last_at: float = 0.0


class RefusalLog:
    """Owns the open windows of repeated refusals, each counted until it closes into one
    audit row."""

    def __init__(
        self,
        store: AuditLog,
        clock: Callable[[], float],
        window_s: float = WINDOW_S,
        max_open: int = MAX_OPEN_WINDOWS,
    ) -> None:
        self.store = store
        self.clock = clock
        self.window_s = window_s
        self.max_open = max_open
        self._open: OrderedDict[tuple[str, str, str, str], _Window] = OrderedDict()

    async def record(self, record: AuditRecord) -> None:
        """Write it if it opens a window; count it if its window is open."""
        key = (record.kind, record.actor, record.device, str(record.detail.get("reason", "")))
        window = self._open.get(key)
        if window is not None and record.at - window.first.at < self.window_s:
            window.repeats += 1
            window.last_at = record.at
            return
        if window is not None:
            await self._close(key)
        self._open[key] = _Window(record, last_at=record.at)
        await self.store.append_audit(record)
        while len(self._open) > self.max_open:  # the oldest window closes early
            await self._close(next(iter(self._open)))

    async def refused_request(self, address: str, reason: str) -> None:
        """A refusal with no genuine token to name (forged, expired, too many)."""
        await self.record(
            AuditRecord(
                at=self.clock(),
                kind="request_refused",
                device=f"http {address}",
                detail={"reason": reason},
            )
        )

    async def flush(self, *, everything: bool = False) -> None:
        """Close the windows that are over (all of them at shutdown)."""
        now = self.clock()
        for key, window in list(self._open.items()):
            if everything or now - window.first.at >= self.window_s:
                await self._close(key)

    async def _close(self, key: tuple[str, str, str, str]) -> None:
        window = self._open.pop(key)
        if window.repeats:
            first = window.first
            await self.store.append_audit(
                replace(
                    first,
                    at=window.last_at,
                    detail={
                        **first.detail,
                        "repeats": window.repeats,
                        "first_at": first.at,
                        "last_at": window.last_at,
                    },
                )
            )

    def __len__(self) -> int:
        return len(self._open)


REFUSALS = web.AppKey("refusals", RefusalLog)


async def _refusals_ctx(app: web.Application) -> AsyncIterator[None]:
    refusals = RefusalLog(app[keys.STORE], app[keys.CLOCK])
    app[REFUSALS] = refusals

    async def close_windows() -> None:
        while True:
            await asyncio.sleep(refusals.window_s / 4)
            try:
                await refusals.flush()
            except Exception:  # the store away a moment: the counts wait for the next
                log.warning("could not write the refusal counts", exc_info=True)

    task = asyncio.create_task(close_windows())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    with contextlib.suppress(Exception):
        await refusals.flush(everything=True)


def setup(app: web.Application) -> None:
    """After the store's context: it writes there, and flushes before the store closes."""
    app.cleanup_ctx.append(_refusals_ctx)
