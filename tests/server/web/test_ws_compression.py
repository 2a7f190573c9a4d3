"""permessage-deflate, chosen per frame: a bare client that negotiates it reads which
frames came compressed (RSV1) and inflates them with one context, as a browser does."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import time
import zlib
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from podium_server import appkeys as keys
from podium_server.web.ws_socket import COMPRESS_FROM_BYTES
from web_client import MakeClient


@pytest.fixture
async def demo(make_client: MakeClient) -> TestClient:
    """The demo event and roster: a welcome and a snapshot of a few kilobytes."""
    return await make_client(demo=True, event=None)


class DeflateClient:
    """A blocking WebSocket client on a raw socket that offers permessage-deflate."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        self.head = head.decode("latin-1").lower()
        self.inflater = zlib.decompressobj(-15)  # one context for the whole connection

    def send(self, msg: dict[str, Any]) -> None:
        payload, mask = json.dumps(msg).encode(), os.urandom(4)
        n = len(payload)
        size = bytes((0x80 | n,)) if n < 126 else bytes((0x80 | 126,)) + n.to_bytes(2, "big")
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(bytes((0x81,)) + size + mask + body)

    def exactly(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            assert chunk, "connection closed"
            data += chunk
        return data

    def receive(self) -> tuple[bool, int, dict[str, Any]]:
        """(compressed?, bytes on the wire, the message)."""
        first, second = self.exactly(2)
        n = second & 0x7F
        if n == 126:
            n = int.from_bytes(self.exactly(2), "big")
        elif n == 127:
            n = int.from_bytes(self.exactly(8), "big")
        payload = self.exactly(n)
        compressed = bool(first & 0x40)
        assert first & 0x0F == 0x1, "a text frame"
        if compressed:
            payload = self.inflater.decompress(payload + b"\x00\x00\xff\xff")
        return compressed, n, json.loads(payload)

    def call(self, msg: dict[str, Any]) -> tuple[bool, int, dict[str, Any]]:
        self.send(msg)
        while True:
            compressed, n, reply = self.receive()
            if reply.get("re") == msg["id"]:
                return compressed, n, reply


async def test_answers_go_plain_and_large_views_compressed(demo: TestClient) -> None:
    port = demo.server.port
    assert port is not None
    tokens = demo.app[keys.TOKENS]
    staff_token = tokens.issue("staff", now=time.time())
    organizer_token = tokens.issue("organizer", now=time.time())
    event = demo.app[keys.EVENT].require()
    session = event.sessions[0].id  # live now
    people = (await demo.app[keys.STORE].list_participants())[:12]
    badges = [demo.app[keys.BADGES].code_for(p.id) for p in people]

    def conversation() -> dict[str, tuple[bool, int, dict[str, Any]]]:
        staff, organizer = DeflateClient(port), DeflateClient(port)
        try:
            seen = {"head": (False, 0, {"extensions": staff.head})}
            seen["welcome"] = staff.call({"type": "hello", "id": "h", "token": staff_token})
            seen["scan"] = staff.call(
                {"type": "scan", "id": "s1", "code": "bogus", "session": session, "direction": "in"}
            )
            seen["pong"] = staff.call({"type": "ping", "id": "p1"})
            for i, code in enumerate(badges):  # the room fills: a larger snapshot
                scan = {"type": "scan", "id": f"in{i}", "code": code, "session": session}
                accepted = staff.call({**scan, "direction": "in"})
                assert accepted[2]["outcome"] == "accepted" and not accepted[0]
            organizer.call({"type": "hello", "id": "h", "token": organizer_token})
            seen["snapshot"] = organizer.call({"type": "subscribe", "id": "sub"})
            # after a compressed frame, a plain one and another compressed one: the
            # client's single inflate context stays in step
            seen["pong2"] = organizer.call({"type": "ping", "id": "p2"})
            seen["snapshot2"] = organizer.call({"type": "subscribe", "id": "sub2"})
            return seen
        finally:
            staff.sock.close()
            organizer.sock.close()

    seen = await asyncio.to_thread(conversation)
    assert "permessage-deflate" in seen["head"][2]["extensions"]
    compressed, size, welcome = seen["welcome"]
    assert welcome["type"] == "welcome" and welcome["event"]["id"] == event.id
    assert compressed and size < len(json.dumps(welcome)) / 2, "the event in it: compressed"
    compressed, _, result = seen["scan"]
    assert result["type"] == "scan.result" and not compressed, "an answer goes plain"
    assert seen["pong"][2]["type"] == "pong" and not seen["pong"][0]
    for name in ("snapshot", "snapshot2"):
        compressed, size, snapshot = seen[name]
        assert snapshot["type"] == "snapshot"
        assert len(json.dumps(snapshot, separators=(",", ":"))) >= COMPRESS_FROM_BYTES
        assert compressed and size < len(json.dumps(snapshot)) / 2
    assert not seen["pong2"][0] and seen["pong2"][2]["type"] == "pong"
