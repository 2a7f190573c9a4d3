"""Real peers for the organizer pages' tests, each its own client of the server under
test: a door scanner on /ws (aiohttp), a trainee's WHEP viewer (aiortc over 127.0.0.1)
and the organizer's HTTP calls."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import aiohttp
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from podium_http import sdp_exchange
from podium_server.media.ice import offer_addresses, rtc_configuration


async def organizer_get(base: str, token: str, path: str) -> Any:
    async with aiohttp.ClientSession() as http:
        async with http.get(
            f"{base}{path}", headers={"Authorization": f"Bearer {token}"}
        ) as response:
            assert response.status == 200, await response.text()
            if "json" in response.content_type:
                return await response.json()
            return await response.read()


async def badge_codes(base: str, organizer: str) -> dict[str, str]:
    """Participant id -> the code printed on their badge."""
    listed = await organizer_get(base, organizer, "/api/v1/participants")
    return {p["id"]: p["badge_code"] for p in listed["participants"]}


class Scanner:
    """A door scanner's WebSocket: hello once, then scans answered one by one."""

    def __init__(self, base: str, token: str, device: str) -> None:
        self.url = base.replace("http://", "ws://") + "/ws"
        self.token = token
        self.device = device
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._n = 0

    async def __aenter__(self) -> Scanner:
        self._http = aiohttp.ClientSession()
        self._ws = await self._http.ws_connect(self.url)
        welcome = await self._call({"type": "hello", "token": self.token, "device": self.device})
        assert welcome["type"] == "welcome", welcome
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._http is not None:
            await self._http.close()

    async def _call(self, frame: dict[str, Any]) -> dict[str, Any]:
        assert self._ws is not None
        self._n += 1
        frame = {**frame, "id": f"{self.device}-{self._n}-{time.monotonic_ns()}"}
        await self._ws.send_str(json.dumps(frame))
        while True:
            reply = json.loads(await self._ws.receive_str(timeout=10))
            if reply.get("re") == frame["id"]:
                return dict(reply)

    async def scan(self, code: str, session: str, direction: str = "in") -> dict[str, Any]:
        return await self._call(
            {"type": "scan", "code": code, "session": session, "direction": direction}
        )


class Viewer:
    """A trainee watching a session over WHEP with aiortc, decoding what arrives."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection(rtc_configuration())
        self.frames = 0
        self.first_frame = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self, base: str, session: str, token: str) -> None:
        self.pc.addTransceiver("audio", direction="recvonly")
        self.pc.addTransceiver("video", direction="recvonly")
        offer_addresses(self.pc, ("127.0.0.1",))

        @self.pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self._tasks.append(asyncio.ensure_future(self._consume(track)))

        await self.pc.setLocalDescription(await self.pc.createOffer())
        answer = await sdp_exchange(f"{base}/whep/{session}", token)(self.pc.localDescription.sdp)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

    async def _consume(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                await track.recv()
                if track.kind == "video":
                    self.frames += 1
                    self.first_frame.set()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.pc.close()
