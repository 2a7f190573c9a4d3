"""A /ws client for the tests: a peer that sends requests and reads their answers by id,
and the small roster they scan."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient

from podium_server import appkeys as keys
from podium_server.event.model import Participant
from web_client import issue_token

PEOPLE = [
    Participant(f"T{i:03d}", f"Trainee {i}", f"t{i}@x.org", "Org", org_type, province)
    for i, (org_type, province) in enumerate(
        [("government", "Guangdong"), ("university", "Hubei"), ("government", "Hubei")]
    )
]


async def started(client: TestClient) -> TestClient:
    await client.app[keys.STORE].upsert_participants(PEOPLE)
    return client


def badge(client: TestClient, pid: str) -> str:
    return str(client.app[keys.BADGES].code_for(pid))


class Peer:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.n = 0

    async def call(self, msg: dict[str, Any], wait: float = 5) -> dict[str, Any]:
        self.n += 1
        msg.setdefault("id", f"m{self.n}")
        await self.ws.send_str(json.dumps(msg))
        return await self.reply(msg["id"], wait)

    async def reply(self, rid: str | None, wait: float = 5) -> dict[str, Any]:
        while True:
            data = json.loads(await self.ws.receive_str(timeout=wait))
            if data.get("re") == rid or (rid is None and data["type"] == "error"):
                return data

    async def pipeline(self, frames: list[dict[str, Any]], wait: float = 5) -> dict[str, Any]:
        """Send every frame without waiting for answers; then each frame's answer, by id."""
        for frame in frames:
            await self.ws.send_str(json.dumps(frame))
        answers: dict[str, dict[str, Any]] = {}
        while len(answers) < len(frames):
            data = json.loads(await self.ws.receive_str(timeout=wait))
            answers[data["re"]] = data
        return answers

    async def next_of(self, kind: str, wait: float = 5) -> dict[str, Any]:
        while True:
            data = json.loads(await self.ws.receive_str(timeout=wait))
            if data["type"] == kind:
                return data


async def connect(
    client: TestClient, role: str, device: str = "door-A-1", token: str | None = None, **claims: Any
) -> Peer:
    """A /ws session; pass `token` to come back as the same scanner (a reconnect)."""
    ws = await client.ws_connect("/ws")
    peer = Peer(ws)
    welcome = await peer.call(
        {"type": "hello", "token": token or issue_token(client, role, **claims), "device": device}
    )
    assert welcome["type"] == "welcome" and welcome["role"] == role
    return peer


def scan(
    client: TestClient, pid: str, session: str = "s1", direction: str = "in", **kw: Any
) -> dict[str, Any]:
    return {
        "type": "scan",
        "code": badge(client, pid),
        "session": session,
        "direction": direction,
        **kw,
    }


async def until_closed(
    ws: aiohttp.ClientWebSocketResponse, into: list[dict[str, Any]] | None = None
) -> tuple[list[dict[str, Any]], aiohttp.WSMessage]:
    """Every message the server sends until it closes (into `into`, as they come), and
    the closing one."""
    messages = [] if into is None else into
    while True:
        msg = await ws.receive(timeout=10)
        if msg.type != WSMsgType.TEXT:
            return messages, msg
        messages.append(json.loads(msg.data))


def slow_commits(client: TestClient, monkeypatch: pytest.MonkeyPatch, delay_s: float) -> None:
    """The store's commits take `delay_s` longer: scans stay in flight that long."""
    store = client.app[keys.STORE]
    commit = store.commit

    async def slow_commit(writes: Any) -> Any:
        await asyncio.sleep(delay_s)
        return await commit(writes)

    monkeypatch.setattr(store, "commit", slow_commit)
