"""A real Podium app on 127.0.0.1 (aiohttp TestServer) for tests that go through HTTP:
WHIP/WHEP clients in other processes, or trickle ICE PATCHes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
from aiohttp.test_utils import TestServer

from podium_server import appkeys as keys
from podium_server.app import create_app
from podium_server.config import Config
from podium_server.event.model import Event
from podium_server.media.service import MediaService
from podium_server.web.media import MEDIA


@dataclass
class Podium:
    server: TestServer
    url: str

    @property
    def media(self) -> MediaService:
        return self.server.app[MEDIA]

    def token(self, role: str, **claims: str) -> str:
        return self.server.app[keys.TOKENS].issue(role, now=time.time(), **claims)

    def whep(self, session: str) -> Callable[[str], object]:
        token = self.token("organizer")

        async def post(offer: str) -> str:
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/sdp"}
            async with (
                aiohttp.ClientSession() as http,
                http.post(f"{self.url}/whep/{session}", data=offer, headers=headers) as r,
            ):
                assert r.status == 201, await r.text()
                return await r.text()

        return post


async def start_podium(config: Config, event: Event | None) -> Podium:
    server = TestServer(create_app(config, event=event), host="127.0.0.1")
    await server.start_server()
    return Podium(server, str(server.make_url("")).rstrip("/"))


async def wait_until(check: Callable[[], bool], within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:  # polling: the relay has no event for these states
        if check():
            return True
        await asyncio.sleep(0.05)
    return check()
