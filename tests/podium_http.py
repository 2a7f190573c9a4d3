"""A real Podium app on 127.0.0.1 (aiohttp TestServer) for tests that go through HTTP
on a real port: WHIP/WHEP clients in other processes, trickle ICE PATCHes, browsers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from podium_server.app import create_app
from podium_server.config import Config
from podium_server.event.model import Event
from podium_server.media.service import MediaService
from podium_server.web.media import MEDIA
from web_client import issue_token

SdpExchange = Callable[[str], Awaitable[str]]


@dataclass
class Podium:
    """A running app: its server, base URL and, when asked for, every request it got."""

    server: TestServer
    url: str
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # method, path, Origin

    @property
    def app(self) -> web.Application:
        return self.server.app  # type: ignore[return-value]

    @property
    def media(self) -> MediaService:
        return self.app[MEDIA]

    @property
    def viewers(self) -> int:
        return len(self.media.viewers)

    @property
    def publishers(self) -> int:
        return len(self.media.publishers)

    def preflights(self, origin: str) -> list[str]:
        """Paths of the CORS preflights (OPTIONS) Podium got from pages of `origin`."""
        return [path for method, path, o in self.requests if method == "OPTIONS" and o == origin]

    def token(self, role: str, **claims: Any) -> str:
        return issue_token(self.server, role, **claims)

    def sdp_exchange(self, path: str, token: str) -> SdpExchange:
        """`sdp_exchange` with this app's `path` (/whip/S, /whep/S)."""
        return sdp_exchange(f"{self.url}{path}", token)

    def whep(self, session: str) -> SdpExchange:
        """Watching `session` as the organizer."""
        return self.sdp_exchange(f"/whep/{session}", self.token("organizer"))


def sdp_exchange(url: str, token: str) -> SdpExchange:
    """Posts an SDP offer to a WHIP or WHEP `url` with `token` and returns the answer,
    once the server has answered 201 (anything else fails the test, with its body)."""

    async def post(offer: str) -> str:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/sdp"}
        async with (
            aiohttp.ClientSession() as http,
            http.post(url, data=offer, headers=headers) as r,
        ):
            assert r.status == 201, await r.text()
            return await r.text()

    return post


async def start_podium(
    config: Config, event: Event | None, *, record_requests: bool = False
) -> Podium:
    app = create_app(config, event=event)
    seen: list[tuple[str, str, str]] = []
    if record_requests:

        @web.middleware
        async def record(request: web.Request, handler: Any) -> web.StreamResponse:
            seen.append((request.method, request.path, request.headers.get("Origin", "")))
            return await handler(request)

        # Outermost, so it also sees requests the app answers with an error.
        app.middlewares.insert(0, record)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return Podium(server, str(server.make_url("")).rstrip("/"), seen)


async def wait_until(check: Callable[[], bool], within: float, every: float = 0.05) -> bool:
    """Polls `check` until it holds or `within` seconds pass (for states that raise no
    event to wait on); the last answer of `check`."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(every)
    return check()
