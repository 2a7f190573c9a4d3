"""The WHIP/WHEP HTTP exchange's manners: a 429 is waited out as Retry-After asks, on a
real HTTP server on 127.0.0.1."""

from __future__ import annotations

import time
from typing import Any

import pytest
from aiohttp import web

from podium_client.errors import ClientError
from podium_client.whip import end, offer


async def test_a_429_is_waited_out_then_the_offer_goes_through(aiohttp_server: Any) -> None:
    posts: list[float] = []
    deletes: list[float] = []

    async def whep(request: web.Request) -> web.Response:
        posts.append(time.monotonic())
        if len(posts) < 3:
            return web.json_response(
                {"error": {"code": "rate_limited", "message": "slow down"}},
                status=429,
                headers={"Retry-After": "0.3"},
            )
        return web.Response(status=201, text="v=0\r\n", headers={"Location": "/whep/hall/r1"})

    async def resource(request: web.Request) -> web.Response:
        deletes.append(time.monotonic())
        if len(deletes) < 2:
            return web.Response(status=429, headers={"Retry-After": "0.2"})
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/whep/hall", whep)
    app.router.add_delete("/whep/hall/r1", resource)
    server = await aiohttp_server(app)
    url = str(server.make_url("/whep/hall"))
    got = await offer(url, "tok", "v=0\r\n", "watch hall")
    assert got.location == str(server.make_url("/whep/hall/r1"))
    assert len(posts) == 3 and posts[1] - posts[0] >= 0.25 and posts[2] - posts[1] >= 0.25
    await end(got.location, "tok")
    assert len(deletes) == 2


async def test_a_server_that_keeps_refusing_with_429_is_an_error(aiohttp_server: Any) -> None:
    async def whep(request: web.Request) -> web.Response:
        return web.Response(status=429, headers={"Retry-After": "0"})

    app = web.Application()
    app.router.add_post("/whep/hall", whep)
    server = await aiohttp_server(app)
    with pytest.raises(ClientError, match="kept answering 429"):
        await offer(str(server.make_url("/whep/hall")), "tok", "v=0\r\n", "watch hall")
