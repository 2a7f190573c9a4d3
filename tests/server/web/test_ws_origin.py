"""`/ws` refuses pages from other origins with 403 before the upgrade (real sockets)."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from podium_server.config import Config
from web_client import MakeClient, issue_token

ALLOWED = "https://rooms.example.org"


async def hello(client: TestClient, ws: aiohttp.ClientWebSocketResponse) -> str:
    token = issue_token(client, "staff")
    await ws.send_json({"type": "hello", "id": "h", "token": token, "device": "d"})
    return str((await ws.receive_json())["type"])


async def test_own_configured_and_absent_origins_are_accepted(make_client: MakeClient) -> None:
    client = await make_client(allowed_origins=(ALLOWED,))
    own = f"http://127.0.0.1:{client.port}"
    for headers in ({}, {"Origin": own}, {"Origin": ALLOWED}, {"Origin": own.upper()}):
        ws = await client.ws_connect("/ws", headers=headers)
        assert await hello(client, ws) == "welcome", headers
        await ws.close()


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "null",
        "http://127.0.0.1.evil.example",
        "https://rooms.example.org:8443",
        "file://",
        "garbage",
    ],
)
async def test_other_origins_get_403_before_the_upgrade(
    make_client: MakeClient, origin: str
) -> None:
    client = await make_client(allowed_origins=(ALLOWED,))
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await client.ws_connect("/ws", headers={"Origin": origin})
    assert info.value.status == 403
    # The same request as plain HTTP: a JSON error, no upgrade.
    plain = await client.get(
        "/ws",
        headers={
            "Origin": origin,
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
    )
    assert plain.status == 403 and (await plain.json())["error"]["code"] == "forbidden"
    assert "Sec-WebSocket-Accept" not in plain.headers


async def test_with_a_public_url_only_that_origin_is_ours(make_client: MakeClient) -> None:
    client = await make_client(public_url="https://podium.example.org/")
    ws = await client.ws_connect("/ws", headers={"Origin": "https://podium.example.org"})
    assert await hello(client, ws) == "welcome"
    await ws.close()
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await client.ws_connect("/ws", headers={"Origin": "http://evil.example"})
    assert info.value.status == 403


def test_allowed_origins_must_be_plain_origins(make_config: Callable[..., Config]) -> None:
    assert Config.from_env(
        {"PODIUM_ALLOWED_ORIGINS": f"{ALLOWED}, http://a.example:81"}
    ).allowed_origins == (ALLOWED, "http://a.example:81")
    for bad in ("https://rooms.example.org/", "rooms.example.org", "ftp://x.example"):
        with pytest.raises(ValueError, match="allowed origin"):
            make_config(allowed_origins=(bad,))
