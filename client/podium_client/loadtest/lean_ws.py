"""A staff scanner connection speaking WebSocket straight on a socket: the load generator
of `loadtest checkins` and of the check-in benchmark."""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import Callable
from typing import Any

import orjson


class LeanStaff(asyncio.Protocol):
    """A scanner connection speaking WebSocket directly on a socket, for the staff load.

    The load generators share the 2 cores with the server, so they should cost as little
    as possible: frames are written with an all-zero mask (RFC 6455 allows it; masking is
    then a no-op), answers are parsed in `data_received` and handed to a callback there
    (no task or future per scan), and what those callbacks send meanwhile goes out in one
    write. aiohttp's client costs several times more per message. Answers match by `re`.
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.upgraded = asyncio.get_running_loop().create_future()
        self.waiting: dict[str, Callable[[dict[str, Any]], None]] = {}
        self.closed = False
        self.corked: list[bytes] | None = None  # frames held while answers are handled

    @classmethod
    async def connect(cls, url: str, token: str, device: str) -> LeanStaff:
        host_port = url.split("://", 1)[1].split("/", 1)[0]
        host, port = host_port.rsplit(":", 1)
        loop = asyncio.get_running_loop()
        _, proto = await loop.create_connection(cls, host, int(port))
        assert proto.transport is not None
        key = base64.b64encode(os.urandom(16)).decode()
        proto.transport.write(
            (
                f"GET /ws HTTP/1.1\r\nHost: {host_port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        await proto.upgraded
        welcome = await proto.call({"type": "hello", "id": "h", "token": token, "device": device})
        if welcome.get("type") != "welcome":
            raise RuntimeError(f"hello refused: {welcome}")
        return proto

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.upgraded.done():
            self.upgraded.set_exception(ConnectionError("closed before the upgrade"))
        self.waiting.clear()

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        if not self.upgraded.done():
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self.upgraded.set_exception(RuntimeError(bytes(buf[:end]).decode()))
                return
            del buf[: end + 4]
            self.upgraded.set_result(None)
        at = 0
        self.corked = []
        while len(buf) - at >= 2:
            opcode, size, head = buf[at] & 0x0F, buf[at + 1] & 0x7F, 2
            if size == 126:
                if len(buf) - at < 4:
                    break
                size, head = int.from_bytes(buf[at + 2 : at + 4], "big"), 4
            elif size == 127:
                if len(buf) - at < 10:
                    break
                size, head = int.from_bytes(buf[at + 2 : at + 10], "big"), 10
            if len(buf) - at < head + size:
                break
            if opcode == 1:  # text: an answer
                answer = orjson.loads(buf[at + head : at + head + size])
                handler = self.waiting.pop(str(answer.get("re")), None)
                if handler is not None:
                    handler(answer)
            at += head + size
        del buf[:at]
        corked, self.corked = self.corked, None
        if corked and self.transport is not None:
            self.transport.write(b"".join(corked))

    def send(self, msg: dict[str, object]) -> None:
        payload = orjson.dumps(msg)
        n = len(payload)
        head = bytes((0x81, 0x80 | n)) if n < 126 else bytes((0x81, 0xFE)) + n.to_bytes(2, "big")
        frame = head + b"\0\0\0\0" + payload
        if self.corked is not None:
            self.corked.append(frame)
        elif self.transport is not None:
            self.transport.write(frame)

    def request(self, msg: dict[str, object], on_answer: Callable[[dict[str, Any]], None]) -> None:
        self.waiting[str(msg["id"])] = on_answer
        self.send(msg)

    async def call(self, msg: dict[str, object]) -> dict[str, Any]:
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

        def settle(answer: dict[str, Any]) -> None:
            if not fut.done():
                fut.set_result(answer)

        self.request(msg, settle)
        return await fut

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
