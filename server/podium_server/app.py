"""The app factory: `create_app(config) -> web.Application`."""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import AsyncIterator, Callable

from aiohttp import WSCloseCode, web

from . import appkeys as keys
from .attendance.certificates import CertificateSigner
from .attendance_service import AttendanceService
from .auth import BadgeSigner, TokenSigner, load_or_create_secret
from .config import Config
from .event.holder import EventHolder
from .event.model import Event
from .metrics import Metrics, store_outage_families
from .store.factory import open_bus, open_store
from .store.outage import OutageLog, guard_store
from .web import api, health, middleware
from .web import media as media_web

log = logging.getLogger(__name__)


def create_app(
    config: Config,
    *,
    event: Event | None = None,
    clock: Callable[[], float] = time.time,
) -> web.Application:
    """Build the application. `event` overrides --event/--demo (tests pass one in)."""
    app = web.Application(
        middlewares=[middleware.error_middleware],
        client_max_size=8 * 1024 * 1024,
    )
    app[keys.CONFIG] = config
    app[keys.CLOCK] = clock
    app[keys.METRICS] = metrics = Metrics()
    app[keys.WEBSOCKETS] = weakref.WeakSet()
    app[keys.STORE_OUTAGE] = outage = OutageLog()
    metrics.collect_also(store_outage_families(outage))
    app[keys.EVENT] = EventHolder(event)
    secret = load_or_create_secret(config.secret_file)
    app[keys.TOKENS] = TokenSigner(secret)
    app[keys.BADGES] = BadgeSigner.from_secret(secret)

    app.cleanup_ctx.append(_store_ctx)
    _install_hardening(app)  # after the store: the refusal audit writes there
    app.on_shutdown.append(_close_websockets)

    health.setup(app)
    api.setup(app)
    _install_subsystems(app)
    return app


def _install_hardening(app: web.Application) -> None:
    """Security headers, request limits, the coalesced refusal audit, /ws origins."""
    from .web import hardening

    hardening.setup(app)


def _install_subsystems(app: web.Application) -> None:
    """Attendance (WebSocket, reports) and media (WHIP/WHEP relay) wire themselves here."""
    from .web import pages, session_status
    from .web import reports as attendance_reports
    from .web import ws as attendance_ws

    # The attendance service before anything reads it (cleanup contexts run in order):
    # /ws, the reports and the media meter (app[WATCH_SINK]).
    app.cleanup_ctx.append(_attendance_ctx)
    attendance_ws.setup(app)  # /ws
    attendance_reports.setup(app)
    media_web.setup(app)
    pages.setup(app)  # /, /watch, /publish, /scan, /dashboard, /admin and /static
    session_status.setup(app)  # a trainee's own minutes, a speaker's viewer count


async def _store_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[keys.CONFIG]
    # outages raise StoreUnavailable (`unavailable`, 503), logged once each
    store = guard_store(open_store(config.store), app[keys.STORE_OUTAGE])
    await store.open()
    app[keys.STORE] = store
    bus = guard_store(open_bus(config.store), app[keys.STORE_OUTAGE])
    await bus.open()
    app[keys.BUS] = bus
    holder = app[keys.EVENT]
    if holder.event is None:
        holder.event = await _initial_event(app)
    else:
        await store.save_event(holder.event)
    if config.demo:
        from .event.demo import demo_roster

        added, updated = await store.upsert_participants(demo_roster())
        log.info("demo roster loaded", extra={"added": added, "updated": updated})
    yield
    await bus.close()
    await store.close()


async def _attendance_ctx(app: web.Application) -> AsyncIterator[None]:
    """Door scans, dashboards, search and reports: one service, started once the store is
    open and stopped before it closes (its commits under way finish first)."""
    config = app[keys.CONFIG]
    service = AttendanceService(
        store=app[keys.STORE],
        events=app[keys.EVENT],
        badges=app[keys.BADGES],
        certificates=CertificateSigner.from_secret(load_or_create_secret(config.secret_file)),
        clock=app[keys.CLOCK],
        metrics=app[keys.METRICS],
        node_id=config.node_id,
        bus=app[keys.BUS],
    )
    await service.start()
    app[keys.ATTENDANCE] = service
    app[keys.WATCH_SINK] = service
    yield
    await service.stop()


async def _initial_event(app: web.Application) -> Event | None:
    config = app[keys.CONFIG]
    store = app[keys.STORE]
    if config.demo:
        from .event.demo import demo_event

        event = demo_event(live_at=app[keys.CLOCK]())
        await store.save_event(event)
        return event
    if config.event_file is not None:
        from .event.loaders import load_event_file

        event = load_event_file(config.event_file)
        await store.save_event(event)
        return event
    stored = await store.load_event()
    if stored is None:
        log.warning("no event loaded: pass --event FILE or --demo, or run 'podium event load'")
    return stored


async def _close_websockets(app: web.Application) -> None:
    """All at once, each waiting a bounded time: one peer that reads nothing must not
    hold the others' goodbyes, nor the shutdown."""
    from .web.ws import close_socket

    open_sockets: weakref.WeakSet[web.WebSocketResponse] = app[keys.WEBSOCKETS]
    await asyncio.gather(
        *(close_socket(ws, WSCloseCode.GOING_AWAY, b"server shutdown") for ws in list(open_sockets))
    )
