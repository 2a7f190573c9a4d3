"""Typed application state keys, in one place (no module globals)."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Protocol

from aiohttp import web

from .attendance.records import WatchInterval
from .attendance_service import AttendanceService
from .auth import BadgeSigner, TokenSigner
from .config import Config
from .event.holder import EventHolder
from .metrics import Metrics
from .store.bus import MessageBus
from .store.outage import OutageLog
from .store.roles import Store


class WatchSink(Protocol):
    """Where the media meter sends online presence (the attendance service)."""

    async def record_watch(self, interval: WatchInterval) -> None: ...


CONFIG = web.AppKey("config", Config)
STORE = web.AppKey("store", Store)
# Tells every node about changes (dashboards, roster, programme): see store/bus.py.
BUS = web.AppKey("bus", MessageBus)
EVENT = web.AppKey("event", EventHolder)
# Door scans, uploads, annuls, dashboards, reports: built and started by the app factory
# (app.py), read by the handlers.
ATTENDANCE = web.AppKey("attendance", AttendanceService)
TOKENS = web.AppKey("tokens", TokenSigner)
BADGES = web.AppKey("badges", BadgeSigner)
Clock = Callable[[], float]
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
WEBSOCKETS: web.AppKey[weakref.WeakSet[web.WebSocketResponse]] = web.AppKey("websockets")
WATCH_SINK = web.AppKey("watch_sink", WatchSink)
METRICS = web.AppKey("metrics", Metrics)
STORE_OUTAGE = web.AppKey("store_outage", OutageLog)
