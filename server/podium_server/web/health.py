"""/healthz (process up), /readyz (store reachable), /metrics (Prometheus)."""

from __future__ import annotations

from aiohttp import web

from .. import appkeys as keys
from ..errors import Unavailable
from .middleware import json_error


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    store = request.app.get(keys.STORE)
    ok = False
    if store is not None:
        try:
            ok = await store.ping()
        except Exception:
            ok = False
    if not ok:
        return json_error(Unavailable("store unreachable"))
    event = request.app[keys.EVENT].event
    return web.json_response({"status": "ready", "event": event.id if event else None})


async def metrics(request: web.Request) -> web.Response:
    # Prometheus text format 0.0.4, as prometheus-client writes it
    response = web.Response(text=request.app[keys.METRICS].render(), charset="utf-8")
    response.content_type = "text/plain"
    response.headers["Content-Type"] = "text/plain; version=0.0.4; charset=utf-8"
    return response


def setup(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
