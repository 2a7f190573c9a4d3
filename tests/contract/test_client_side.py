"""The contract examples played to the real client: what it sends must match the example
requests, and it must act rightly on the example replies."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest
from aiohttp import web
from rich.console import Console

from podium_client.errors import AuthError, NotFoundError
from podium_client.scan_queue import ScanQueue
from podium_client.watch import WatchOptions, presence
from podium_client.whip import end, offer
from podium_client.ws_session import WsSession

from .contract import load, request_mismatches
from .peer import ContractPeer


async def run_scan(peer: ContractPeer, queue: Path, *lines: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "podium_client.cli", "--color", "never", "scan",
        "--server", peer.url, "--token", "staff-token", "--session", "hall",
        "--queue", str(queue),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=os.environ | {"NO_PROXY": "*"},
    )  # fmt: skip
    out, err = await asyncio.wait_for(
        proc.communicate("".join(f"{line}\n" for line in lines).encode()), 60
    )
    return int(proc.returncode or 0), out.decode(), err.decode()


async def test_hello_is_sent_as_the_contract_says_and_the_welcome_read() -> None:
    async with ContractPeer("ws_hello.json") as peer:
        session = await WsSession.open(peer.url, "a-token", "door-A-1")
        await session.close()
    assert peer.mismatches == []
    assert session.welcome["role"] == "staff"
    assert session.welcome["event"]["sessions"][0]["id"] == "hall"


async def test_a_refused_hello_is_an_auth_error_with_the_servers_words() -> None:
    async with ContractPeer("ws_hello_refused.json") as peer:
        with pytest.raises(AuthError, match="forged token: bad signature"):
            await WsSession.open(peer.url, "pd1.forged.token", "door-A-1")
    assert peer.mismatches == []


async def test_scan_sends_the_contracts_scan_and_shows_its_answer(tmp_path: Path) -> None:
    async with ContractPeer("ws_scan.json") as peer:
        code, out, err = await run_scan(peer, tmp_path / "q.db", "PB1.T001.signature")
    assert code == 0, err
    assert peer.mismatches == []
    assert [m["type"] for m in peer.received] == ["hello", "scan"]
    assert "ACCEPTED" in out and "Zhang Wei · Shenzhen Tech Transfer Centre" in out


async def test_queued_scans_go_up_as_the_contracts_sync(tmp_path: Path) -> None:
    queue_path = tmp_path / "q.db"
    async with ContractPeer("ws_sync.json") as peer:
        queue = ScanQueue(queue_path, peer.url)
        queue.add("PB1.T002.sig", "hall", "in", "staff-token", at=1_000_000.0)
        queue.add("PB1.T003.sig", "hall", "in", "staff-token", at=1_000_030.0)
        queue.close()
        code, out, err = await run_scan(peer, queue_path)
    assert code == 0, err
    assert peer.mismatches == []
    sync = peer.received[1]
    assert sync["type"] == "sync"
    assert [s["scanned_at"] for s in sync["scans"]] == [1_000_000.0, 1_000_030.0]
    assert "Li Na" in out and "Wang Fang" in out


async def test_unavailable_keeps_the_scan_and_sends_the_same_request_again(
    tmp_path: Path,
) -> None:
    async with ContractPeer("ws_unavailable.json") as peer:
        code, out, err = await run_scan(peer, tmp_path / "q.db", "PB1.T005.signature")
    assert code == 0, err
    assert peer.mismatches == []
    first, again = peer.received[1], peer.received[-1]
    assert again["id"] == first["id"] and again["scanned_at"] == first["scanned_at"]
    assert "QUEUED" in out and "ACCEPTED" in out and "Liu Yang" in out


async def test_watch_sends_the_contracts_presence() -> None:
    async with ContractPeer("ws_presence.json") as peer:
        stop = asyncio.Event()
        opts = WatchOptions(server=peer.url, token="trainee-token", session="hall")
        task = asyncio.create_task(presence(opts, Console(quiet=True), stop))
        await peer.wait_for(2)  # hello, watching
        stop.set()
        await asyncio.wait_for(task, 10)
    assert peer.mismatches == []
    assert [m.get("state") for m in peer.received[1:]] == ["watching", "left"]


@pytest.mark.parametrize("name", ["whip.json", "whep.json"])
async def test_whip_and_whep_requests_and_answers_follow_the_contract(
    name: str, aiohttp_server: object
) -> None:
    example = load(name)
    kind = example["kind"]
    seen: list[tuple[str, str, dict[str, str], str]] = []
    respond: dict[str, dict[str, object]] = {}

    async def replay(request: web.Request) -> web.Response:
        seen.append((request.method, request.path, dict(request.headers), await request.text()))
        expected = respond["now"]
        headers = {k: v for k, v in dict(expected.get("headers", {})).items()}  # type: ignore[call-overload]
        if "Location" in headers:
            headers["Location"] = headers["Location"].replace("<resource>", "r1")
        body = expected.get("body")
        text = json.dumps(body) if isinstance(body, dict) else "v=0\r\n"
        if isinstance(body, dict):
            headers["Content-Type"] = "application/json"
        return web.Response(status=int(expected["status"]), text=text, headers=headers)  # type: ignore[call-overload]

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", replay)
    server = await aiohttp_server(app)  # type: ignore[operator]
    base = str(server.make_url("")).rstrip("/")
    raised = {401: AuthError, 403: AuthError, 404: NotFoundError}
    for exchange in example["exchanges"]:
        request, expected = exchange["request"], exchange["response"]
        respond["now"] = expected
        if request["method"] == "DELETE":
            await end(f"{base}/{kind}/hall/r1", "tok")
            assert seen[-1][:2] == ("DELETE", f"/{kind}/hall/r1")
            continue
        url = f"{base}{request['path']}"
        if expected["status"] == 201:
            got = await offer(url, "tok", "v=0\r\noffer", exchange["name"])
            assert got.location == f"{base}/{kind}/hall/r1" and got.answer == "v=0\r\n"
        else:
            with pytest.raises(raised[expected["status"]]) as refused:
                await offer(url, "tok", "v=0\r\noffer", exchange["name"])
            assert expected["body"]["error"]["message"] in refused.value.message
        method, path, headers, body = seen[-1]
        assert (method, path, body) == ("POST", request["path"], "v=0\r\noffer")
        assert (
            request_mismatches(request["headers"], {"Content-Type": headers["Content-Type"]}) == []
        )
        assert headers["Content-Type"] == "application/sdp"
        assert headers["Authorization"] == "Bearer tok"
