"""The contract examples sent to a real server process: every reply must match."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiortc import RTCPeerConnection
from aiortc.mediastreams import VideoStreamTrack
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from client.server_process import ServerProcess
from podium_client.ice import IceOptions, offer_addresses

from .contract import fill, load, reply_mismatches, ws_examples


def token_for(server: ServerProcess, spec: Any) -> str:
    if isinstance(spec, str):
        return spec
    claims = {k: v for k, v in spec.items() if k != "role"}
    return server.token(spec["role"], **claims)


async def answers(ws: Any, step: dict[str, Any]) -> tuple[Any, Any]:
    """The step's reply (by `re`; the first message if the request had no id to answer
    by) and, if the step expects one, the message of that type pushed meanwhile."""
    rid = step["send"].get("id")
    reply = pushed = None
    while reply is None or ("push" in step and pushed is None):
        msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if reply is None and (msg.get("re") == rid or rid is None):
            reply = msg
        elif "push" in step and msg.get("type") == step["push"]["type"] and pushed is None:
            pushed = msg
    return reply, pushed


@pytest.mark.parametrize("name", ws_examples(side="server"))
async def test_ws_replies_match_the_contract(name: str, server: ServerProcess) -> None:
    example = load(name)
    token = token_for(server, {"role": example["role"], **example.get("claims", {})})
    steps = example["steps"]
    async with connect(server.url.replace("http", "ws", 1) + "/ws", proxy=None) as ws:
        if steps[0]["send"]["type"] != "hello":  # every other example starts welcomed
            await ws.send(json.dumps({"type": "hello", "id": "h", "token": token, "device": "d"}))
            assert json.loads(await ws.recv())["type"] == "welcome"
        for step in steps:
            await ws.send(json.dumps(fill(step["send"], server.badge, token)))
            reply, pushed = await answers(ws, step)
            assert reply_mismatches(step["reply"], reply) == [], (name, step["send"], reply)
            if "push" in step:
                assert reply_mismatches(step["push"], pushed) == [], (name, pushed)
            if "close" in step:
                with pytest.raises(ConnectionClosed) as closed:
                    await ws.recv()
                assert closed.value.rcvd is not None
                assert closed.value.rcvd.code == step["close"]


async def sdp_offer(kind: str) -> tuple[RTCPeerConnection, str]:
    ice = IceOptions(("127.0.0.1",))
    pc = ice.peer()  # host candidates only: never aiortc's default public STUN server
    if kind == "whip":
        pc.addTransceiver(VideoStreamTrack(), direction="sendonly")
    else:
        pc.addTransceiver("video", direction="recvonly")
    offer_addresses(pc, ice.addresses)
    await pc.setLocalDescription(await pc.createOffer())
    return pc, pc.localDescription.sdp


@pytest.mark.media
@pytest.mark.parametrize("name", ["whip.json", "whep.json"])
async def test_whip_and_whep_exchanges_match_the_contract(
    name: str, server: ServerProcess, tmp_path: Path
) -> None:
    example = load(name)
    locations: dict[str, str] = {}
    peers: list[RTCPeerConnection] = []
    async with aiohttp.ClientSession(server.url) as http:
        for exchange in example["exchanges"]:
            request, expected = exchange["request"], exchange["response"]
            headers = {"Authorization": f"Bearer {token_for(server, exchange['token'])}"}
            headers.update(request.get("headers", {}))
            path = request["path"]
            if path.startswith("<Location of "):
                path = locations[path.removeprefix("<Location of ").removesuffix(">")]
            body = None
            if request.get("body") == "<sdp offer>":
                pc, body = await sdp_offer(example["kind"])
                peers.append(pc)
            async with http.request(request["method"], path, data=body, headers=headers) as got:
                text = await got.text()
                assert got.status == expected["status"], (exchange["name"], got.status, text)
                for header, value in expected.get("headers", {}).items():
                    if value.endswith("<resource>"):
                        assert got.headers[header].startswith(value.removesuffix("<resource>"))
                        assert len(got.headers[header]) > len(value.removesuffix("<resource>"))
                    else:
                        assert got.headers[header].split(";")[0] == value
                if expected.get("body") == "<sdp answer>":
                    assert text.startswith("v=0") and "a=fingerprint:" in text
                elif isinstance(expected.get("body"), dict):
                    found = reply_mismatches(expected["body"], json.loads(text))
                    assert found == [], (exchange["name"], text)
                if "Location" in got.headers:
                    locations[exchange["name"]] = got.headers["Location"]
    for pc in peers:
        await pc.close()
