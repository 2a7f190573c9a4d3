"""Every PodiumError becomes a JSON error with its status; nothing else leaks."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from .. import appkeys as keys
from ..errors import PodiumError, code_for_status

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_error(err: PodiumError) -> web.Response:
    """The HTTP face of an error: its JSON body with the status its class names."""
    return web.json_response(err.to_json(), status=err.status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await _handle(request, handler)
    # Count by status class only: path labels would let any client grow the series.
    request.app[keys.METRICS].inc(
        f"podium_http_responses_{response.status // 100}xx_total", help="HTTP responses"
    )
    return response


async def _handle(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except PodiumError as err:
        return json_error(err)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return web.json_response(
            {"error": {"code": code_for_status(exc.status), "message": exc.reason}},
            status=exc.status,
            headers={k: v for k, v in exc.headers.items() if k.lower() == "allow"},
        )
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return json_error(PodiumError("internal error"))
