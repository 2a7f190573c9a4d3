"""Security headers on a real app over loopback: per-page CSP, framing, banner, 401."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp.test_utils import TestClient

from web_client import issue_token

SIGNAGE = "https://signage.example.org"
pytestmark = pytest.mark.app(allowed_origins=(SIGNAGE,))


def directives(csp: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in csp.split(";"):
        name, _, value = part.strip().partition(" ")
        assert name not in out, f"{name} given twice in {csp!r}"
        out[name] = value
    return out


@pytest.mark.parametrize(
    "path", ["/api/v1/event", "/healthz", "/verify/PC1~x~y~Z", "/nowhere", "/watch/s1", "/"]
)
async def test_every_response_gets_the_strict_policy(client: TestClient, path: str) -> None:
    response = await client.get(path)
    csp = directives(response.headers["Content-Security-Policy"])
    assert (
        csp["script-src"] == "'self'" and "wasm" not in response.headers["Content-Security-Policy"]
    )
    assert csp["style-src"] == "'self'" and csp["default-src"] == "'none'"
    assert csp["frame-ancestors"] == "'none'" and response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "camera=()" in response.headers["Permissions-Policy"]
    assert response.headers["Server"] == "Podium"


async def test_only_the_scanner_may_compile_webassembly(client: TestClient) -> None:
    for path in ("/scan", "/static/vendor/zxing_reader.wasm", "/static/js/scan-worker.js"):
        csp = directives((await client.get(path)).headers["Content-Security-Policy"])
        assert csp["script-src"] == "'self' 'wasm-unsafe-eval'", path
    scan = await client.get("/scan")
    assert "camera=(self)" in scan.headers["Permissions-Policy"]
    for path in ("/scanner", "/static/js/watch.js", "/dashboard", "/watch/scan"):
        csp = directives((await client.get(path)).headers["Content-Security-Policy"])
        assert csp["script-src"] == "'self'", path


async def test_the_kiosk_view_may_be_framed_by_the_event_only(client: TestClient) -> None:
    kiosk = await client.get("/watch/s1?kiosk")
    csp = directives(kiosk.headers["Content-Security-Policy"])
    assert csp["frame-ancestors"] == f"'self' {SIGNAGE}"
    assert "X-Frame-Options" not in kiosk.headers
    other = await client.get("/publish/s1?kiosk")
    assert directives(other.headers["Content-Security-Policy"])["frame-ancestors"] == "'none'"


async def test_no_version_banner_even_on_errors(client: TestClient) -> None:
    for response in (
        await client.get("/api/v1/participants"),
        await client.post("/api/v1/event"),
        await client.get("/whep/none"),
    ):
        server = response.headers.get("Server", "")
        assert server == "Podium", server
        assert "aiohttp" not in server and "Python" not in server


@pytest.mark.parametrize(
    "raw", [b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: zz\r\n\r\n"]
)
async def test_no_version_banner_on_requests_that_cannot_be_parsed(
    client: TestClient, raw: bytes
) -> None:
    """aiohttp answers these itself, below the application."""
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    try:
        writer.write(raw)
        answer = await reader.read(4096)
    finally:
        writer.close()
    head = answer.split(b"\r\n\r\n")[0].decode()
    assert head.startswith("HTTP/1.") and " 400 " in head.splitlines()[0]
    assert "\r\nServer: Podium\r\n" in head + "\r\n", head
    assert "aiohttp" not in head and "Python" not in head


async def test_401_says_bearer(client: TestClient) -> None:
    anonymous = await client.get("/api/v1/participants")
    assert anonymous.status == 401
    assert anonymous.headers["WWW-Authenticate"] == 'Bearer realm="podium"'
    forged = await client.get("/api/v1/participants", headers={"Authorization": "Bearer pd1.x.y"})
    assert forged.status == 401
    assert forged.headers["WWW-Authenticate"] == 'Bearer realm="podium", error="invalid_token"'
    token = issue_token(client, "staff")
    refused = await client.get("/api/v1/participants", headers={"Authorization": f"Bearer {token}"})
    assert refused.status == 403 and "WWW-Authenticate" not in refused.headers


async def test_answers_to_a_token_are_not_cached(client: TestClient) -> None:
    token = issue_token(client, "organizer")
    listed = await client.get("/api/v1/participants", headers={"Authorization": f"Bearer {token}"})
    assert listed.status == 200 and listed.headers["Cache-Control"] == "no-store"
    public = await client.get("/api/v1/event")
    assert public.headers.get("Cache-Control") != "no-store"
