"""The WHIP/WHEP exchange (RFC 9725): POST an SDP offer, get `201 Created` with the
resource's Location and the answer; DELETE the resource to end it."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiortc import RTCPeerConnection, RTCSessionDescription

from .errors import ClientError, UnreachableError, from_http, reason
from .ice import offer_addresses

SDP = "application/sdp"
TIMEOUT = aiohttp.ClientTimeout(total=60)
MAX_RETRIES = 8


@dataclass(frozen=True)
class Exchange:
    location: str  # absolute URL of the resource
    answer: str


def endpoint(server: str, kind: str, session: str) -> str:
    parts = urlsplit(server)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ClientError(f"--server must be an http:// or https:// URL, not {server!r}", 2)
    return f"{server.rstrip('/')}/{kind}/{session}"


def _error_text(body: str) -> tuple[str, str]:
    try:
        error = json.loads(body)["error"]
        return str(error.get("code", "")), str(error.get("message", ""))
    except (ValueError, KeyError, TypeError):
        return "", body.strip()[:200]


def retry_after(headers: Any) -> float:
    """Seconds a 429 asks to wait (Retry-After, in seconds), within 0.2..10."""
    try:
        return min(10.0, max(0.2, float(headers.get("Retry-After", "1"))))
    except ValueError:
        return 1.0


async def offer(url: str, token: str, sdp: str, what: str) -> Exchange:
    """POST the offer; a refusal becomes the ClientError that says what to do. A 429
    (too many requests from this token or address) is waited out, as it asks."""
    headers = {"Content-Type": SDP, "Authorization": f"Bearer {token}"}
    try:
        async with aiohttp.ClientSession(timeout=TIMEOUT, trust_env=False) as http:
            for _ in range(MAX_RETRIES):
                async with http.post(url, data=sdp.encode(), headers=headers) as response:
                    body = await response.text()
                    if response.status == 429:
                        await asyncio.sleep(retry_after(response.headers))
                        continue
                    if response.status != 201:
                        code, message = _error_text(body)
                        if response.status == 404 and not code:
                            message = f"{url} not found: is --server a Podium server?"
                        raise from_http(response.status, code, message, what)
                    location = response.headers.get("Location")
                    if not location:
                        raise ClientError(f"{what}: the server sent no Location header")
                    return Exchange(urljoin(url, location), body)
            raise ClientError(f"{what}: the server kept answering 429 (too many requests)")
    except (aiohttp.ClientConnectionError, TimeoutError) as exc:
        raise UnreachableError(f"{what}: cannot reach {url} ({reason(exc)})") from exc


async def negotiate(
    pc: RTCPeerConnection, url: str, token: str, what: str, addresses: tuple[str, ...]
) -> str:
    """Offer `pc`'s tracks at `url` (WHIP or WHEP), apply the answer, and return the
    resource's Location; on a refusal `pc` is closed and the ClientError raised."""
    offer_addresses(pc, addresses)
    await pc.setLocalDescription(await pc.createOffer())
    try:
        exchange = await offer(url, token, pc.localDescription.sdp, what)
    except BaseException:
        await pc.close()
        raise
    await pc.setRemoteDescription(RTCSessionDescription(sdp=exchange.answer, type="answer"))
    return exchange.location


async def end(location: str, token: str) -> None:
    """DELETE the resource (waiting out a 429); a server that is gone ended it already."""
    try:
        async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=15), trust_env=False
        ) as http:
            for _ in range(MAX_RETRIES):
                async with http.delete(
                    location, headers={"Authorization": f"Bearer {token}"}
                ) as response:
                    if response.status != 429:
                        return
                    await asyncio.sleep(retry_after(response.headers))
    except (aiohttp.ClientError, TimeoutError):
        pass
