"""WHIP (RFC 9725) and WHEP routes, with CORS so a player on another origin works.

`POST /whip/{session}` and `POST /whep/{session}` take an `application/sdp` offer and
answer `201 Created` with `Location: /whip/{session}/{resource}` and an `ETag`; `DELETE` on
the resource ends it; `PATCH` with an `application/trickle-ice-sdpfrag` adds the client's
trickled candidates (204; 412 when `If-Match` names another ETag). Our answer carries all
of our own candidates, so we never trickle back.
Every response, errors included, carries the CORS headers (the error middleware only
sees exceptions, so errors are rendered here).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from .. import appkeys as keys
from ..attendance.records import WatchInterval
from ..auth.tokens import Claims
from ..errors import (
    BadRequest,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    PodiumError,
    UnsupportedMediaType,
)
from ..media.peer import IceSettings
from ..media.sdp import MAX_SDP_BYTES
from ..media.service import MediaService
from ..media.trickle import TRICKLE_ICE
from ..media.whep import ViewerPeer
from ..media.whip import Publisher
from .auth import require
from .middleware import json_error

log = logging.getLogger(__name__)

MEDIA = web.AppKey("media", MediaService)

SDP = "application/sdp"
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, If-Match",
    "Access-Control-Expose-Headers": "Location, ETag, Link, Accept-Post",
    "Access-Control-Max-Age": "600",
}
COLLECTION_METHODS = "POST, OPTIONS"
RESOURCE_METHODS = "PATCH, DELETE, OPTIONS"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def setup(app: web.Application) -> None:
    app.cleanup_ctx.append(_media_ctx)
    for kind in ("whip", "whep"):
        app.router.add_route("*", f"/{kind}/{{session_id}}", _cors(_collection(kind)))
        app.router.add_route("*", f"/{kind}/{{session_id}}/{{resource_id}}", _cors(_resource(kind)))


async def _media_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[keys.CONFIG]
    service = MediaService(
        ice=IceSettings(servers=config.ice_servers, addresses=config.ice_addresses),
        clock=app[keys.CLOCK],
        record_dir=config.record_dir,
    )

    async def to_sink(interval: WatchInterval) -> None:
        # Looked up on each report: the attendance service may be installed after us.
        sink = app.get(keys.WATCH_SINK)
        if sink is not None:
            await sink.record_watch(interval)

    service.watch_sink = to_sink
    app[MEDIA] = service
    metrics = app[keys.METRICS]
    metrics.gauge(
        "podium_media_publishers", lambda: len(service.publishers), "live WHIP publishers"
    )
    metrics.gauge("podium_media_viewers", lambda: len(service.viewers), "live WHEP viewers")
    metrics.gauge(
        "podium_media_viewers_dropped", lambda: service.stats.viewers_dropped, "viewers dropped"
    )
    # A plain counter (no labels): per-reason figures stay in service.stats.
    service.on_packet_dropped = lambda reason: metrics.inc(
        "podium_relay_packets_dropped_total",
        help="RTP packets the relay could not send to a viewer (too long, refused, queue full)",
    )
    await service.start()
    demo = None
    holder = app[keys.EVENT]
    if config.demo and config.demo_stream and holder.event is not None:
        from ..media.demo_stream import DemoStream

        sessions = [s.id for s in holder.event.sessions if s.stream]
        if sessions:
            demo = DemoStream([service.relay(s) for s in sessions])
            demo.start()
    try:
        yield
    finally:
        if demo is not None:
            await demo.stop()
        await service.close()


def _cors(handler: Handler) -> Handler:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            response = await handler(request)
        except PodiumError as err:
            response = json_error(err)
            if isinstance(err, MethodNotAllowed):
                response.headers["Allow"] = str(err.detail.get("allow", ""))
        response.headers.update(CORS_HEADERS)
        return response

    return wrapped


def _collection(kind: str) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        if request.method == "OPTIONS":
            return _options(COLLECTION_METHODS, accept_post=True)
        if request.method != "POST":
            raise MethodNotAllowed(
                f"{request.method} is not allowed here", allow=COLLECTION_METHODS
            )
        session_id = request.match_info["session_id"]
        claims = await _authorize(request, kind, session_id)
        offer = await _read_offer(request)
        _require_streamed(request, session_id)
        service = request.app[MEDIA]
        if kind == "whip":
            resource_id, answer = await service.publish(session_id, offer, owner=claims.jti)
            request.app[keys.METRICS].inc("podium_whip_sessions_total", help="WHIP sessions opened")
        else:
            participant = claims.participant if claims.role == "trainee" else None
            resource_id, answer = await service.watch(session_id, offer, participant_id=participant)
            request.app[keys.METRICS].inc("podium_whep_sessions_total", help="WHEP sessions opened")
        location = f"/{kind}/{session_id}/{resource_id}"
        peer = (
            service.publisher(session_id, resource_id)
            if kind == "whip"
            else service.viewer(session_id, resource_id)
        )
        return web.Response(
            status=201,
            body=answer.encode(),
            headers={
                "Content-Type": SDP,
                "Location": location,
                "ETag": peer.etag,
                "Accept-Patch": TRICKLE_ICE,
            },
        )

    return handle


def _resource(kind: str) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        if request.method == "OPTIONS":
            return _options(RESOURCE_METHODS, accept_patch=True)
        if request.method not in ("DELETE", "PATCH"):
            raise MethodNotAllowed(
                f"{request.method} is not supported on a {kind.upper()} resource",
                allow=RESOURCE_METHODS,
            )
        session_id = request.match_info["session_id"]
        resource_id = request.match_info["resource_id"]
        claims = await _authorize(request, kind, session_id)
        service = request.app[MEDIA]
        if request.method == "PATCH":
            return await _trickle(request, kind, claims, session_id, resource_id)
        if kind == "whip":
            await service.end_publisher(session_id, resource_id)
        else:
            peer = service.viewer(session_id, resource_id)
            owner = peer.viewer.participant_id if peer.viewer is not None else None
            if claims.role == "trainee" and owner != claims.participant:
                raise NotFound("no such WHEP resource")
            await service.end_viewer(session_id, resource_id)
        return web.Response(status=200)

    return handle


async def _trickle(
    request: web.Request, kind: str, claims: Claims, session_id: str, resource_id: str
) -> web.Response:
    service = request.app[MEDIA]
    if kind == "whip":
        peer: Publisher | ViewerPeer = service.publisher(session_id, resource_id)
    else:
        viewer = service.viewer(session_id, resource_id)
        owner = viewer.viewer.participant_id if viewer.viewer is not None else None
        if claims.role == "trainee" and owner != claims.participant:
            raise NotFound("no such WHEP resource")
        peer = viewer
    if request.content_type != TRICKLE_ICE:
        raise UnsupportedMediaType(f"send trickled candidates as {TRICKLE_ICE}")
    fragment = await _read_body(request, "trickle ICE fragment")
    await service.trickle(peer.pc, peer.etag, fragment, request.headers.get("If-Match"))
    return web.Response(status=204, headers={"ETag": peer.etag})


def _options(
    methods: str, *, accept_post: bool = False, accept_patch: bool = False
) -> web.Response:
    headers = {"Allow": methods, "Access-Control-Allow-Methods": methods}
    if accept_post:
        headers["Accept-Post"] = SDP
    if accept_patch:
        headers["Accept-Patch"] = TRICKLE_ICE
    return web.Response(status=204, headers=headers)


async def _authorize(request: web.Request, kind: str, session_id: str) -> Claims:
    if kind == "whip":
        claims = await require(request, "speaker", "organizer")
        if not claims.may_publish(session_id):
            raise Forbidden("this token may not publish this session")
    else:
        claims = await require(request, "trainee", "organizer")
        if not claims.may_watch(session_id):
            raise Forbidden("this token may not watch this session")
    return claims


async def _read_offer(request: web.Request) -> str:
    if request.content_type != SDP:
        raise UnsupportedMediaType(f"send the SDP offer as {SDP}")
    return await _read_body(request, "SDP offer")


async def _read_body(request: web.Request, what: str) -> str:
    if request.content_length is not None and request.content_length > MAX_SDP_BYTES:
        raise PayloadTooLarge(f"{what} too large")
    raw = await request.content.read(MAX_SDP_BYTES + 1)
    if len(raw) > MAX_SDP_BYTES:
        raise PayloadTooLarge(f"{what} too large")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the {what} is not UTF-8") from exc


def _require_streamed(request: web.Request, session_id: str) -> None:
    session = request.app[keys.EVENT].require().session(session_id)
    if session is None:
        raise NotFound(f"no session {session_id}")
    if not session.stream:
        raise NotFound(f"session {session_id} is not streamed")
