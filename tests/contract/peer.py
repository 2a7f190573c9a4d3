"""A /ws peer that plays the server's part from the contract examples, for the client's
side: it checks each request the client sends against the example's, and answers with
the example's reply (its `re` set to the client's ids). A real WebSocket server on
127.0.0.1; the client under test is the real one."""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve

from .contract import load, request_mismatches


def with_ids(reply: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    """The example reply answering this request: `re` is the request's id, and a sync's
    results answer its scans, in order."""
    out = copy.deepcopy(reply)
    if "re" in out:
        out["re"] = request.get("id")
    scans = request.get("scans")
    if isinstance(scans, list) and isinstance(out.get("results"), list):
        for result, scan in zip(out["results"], scans, strict=False):
            result["re"] = scan.get("id")
    return out


class ContractPeer:
    def __init__(self, example: str, *, role: str | None = None) -> None:
        data = load(example)
        hello = load("ws_hello.json")["steps"][0]
        self.steps: list[dict[str, Any]] = list(data["steps"])
        if self.steps[0]["send"]["type"] == "hello":
            self.hello = self.steps.pop(0)
        else:
            self.hello = copy.deepcopy(hello)
            self.hello["reply"]["role"] = role or data.get("role", "staff")
        self.received: list[dict[str, Any]] = []
        self.mismatches: list[str] = []
        self.changed = asyncio.Event()
        self.server: Server | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        port = next(iter(self.server.sockets)).getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aenter__(self) -> ContractPeer:
        self.server = await serve(self.handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def answer(self, ws: ServerConnection, step: dict[str, Any], msg: dict[str, Any]) -> None:
        self.received.append(msg)
        self.mismatches += [f"{msg.get('type')}{m}" for m in request_mismatches(step["send"], msg)]
        await ws.send(json.dumps(with_ids(step["reply"], msg)))
        self.changed.set()
        if "close" in step:
            await ws.close(step["close"], step["reply"].get("code", ""))

    async def handle(self, ws: ServerConnection) -> None:
        hello = json.loads(await ws.recv())
        await self.answer(ws, self.hello, hello)
        if "close" in self.hello:
            return
        async for text in ws:
            msg = json.loads(text)
            if not self.steps:
                self.mismatches.append(f"{msg.get('type')}: more requests than the example has")
                return
            await self.answer(ws, self.steps.pop(0), msg)

    async def wait_for(self, n: int, within: float = 20.0) -> None:
        """Until `n` requests (hello included) came in."""
        async with asyncio.timeout(within):
            while len(self.received) < n:
                self.changed.clear()
                await self.changed.wait()
