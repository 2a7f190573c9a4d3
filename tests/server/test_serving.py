"""Connections that never finish their headers are closed; one address has a cap.

The app is served as `podium serve` serves it (serving.setup + listen) on 127.0.0.1,
with the header deadline shortened; clients are raw sockets."""

from __future__ import annotations

import asyncio
import json
import os
import re
import resource
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest

from podium_server import appkeys as keys
from podium_server import serving
from podium_server.app import create_app
from podium_server.config import Config
from podium_server.event.model import Event

DEADLINE_S = 0.8


@pytest.fixture
async def served(
    make_config: Callable[..., Config], small_event: Event, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[str, int, serving.ConnectionGuard]]:
    monkeypatch.setattr(serving, "HEADER_TIMEOUT_S", DEADLINE_S)
    monkeypatch.setattr(serving, "UNCAPPED_ADDRESSES", frozenset())  # all tests are loopback
    config = make_config(port=0, max_connections_per_address=4)
    app = create_app(config, event=small_event)
    runner = await serving.setup(app, config)
    port = await serving.listen(runner, config)
    token = app[keys.TOKENS].issue("staff", now=time.time())
    try:
        yield token, port, app[serving.GUARD]
    finally:
        await runner.cleanup()


async def closed_after(reader: asyncio.StreamReader, limit_s: float) -> float:
    """Seconds until the server closes the connection (reads return EOF)."""
    started = time.monotonic()
    async with asyncio.timeout(limit_s):
        while await reader.read(4096):
            pass
    return time.monotonic() - started


async def healthz(port: int) -> int:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
            return response.status


async def test_a_connection_that_sends_nothing_is_closed(
    served: tuple[str, int, serving.ConnectionGuard],
) -> None:
    _, port, _ = served
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    took = await closed_after(reader, DEADLINE_S + 3)
    assert DEADLINE_S * 0.8 <= took <= DEADLINE_S + 2
    writer.close()


async def test_headers_sent_a_byte_at_a_time_are_cut_at_the_deadline(
    served: tuple[str, int, serving.ConnectionGuard],
) -> None:
    _, port, _ = served
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200
    started = time.monotonic()

    async def trickle() -> None:
        for byte in request:
            writer.write(bytes((byte,)))
            await asyncio.sleep(0.05)  # never finishes within the deadline

    dribbler = asyncio.create_task(trickle())
    try:
        await closed_after(reader, DEADLINE_S + 3)
    finally:
        dribbler.cancel()
    assert time.monotonic() - started <= DEADLINE_S + 2
    assert await healthz(port) == 200  # the server itself answers as before
    writer.close()


async def test_a_websocket_outlives_the_header_deadline(
    served: tuple[str, int, serving.ConnectionGuard],
) -> None:
    token, port, _ = served
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"http://127.0.0.1:{port}/ws") as ws:
            await ws.send_str(json.dumps({"type": "hello", "id": "h", "token": token}))
            assert json.loads((await ws.receive(timeout=5)).data)["type"] == "welcome"
            await asyncio.sleep(DEADLINE_S * 2)
            await ws.send_str(json.dumps({"type": "ping", "id": "p"}))
            assert json.loads((await ws.receive(timeout=5)).data)["type"] == "pong"


async def test_connections_past_the_cap_from_one_address_are_refused(
    served: tuple[str, int, serving.ConnectionGuard],
) -> None:
    token, port, guard = served
    async with aiohttp.ClientSession() as session:
        sockets = [await session.ws_connect(f"http://127.0.0.1:{port}/ws") for _ in range(4)]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        refusal = await asyncio.wait_for(reader.read(), 5)
        assert refusal.startswith(b"HTTP/1.1 503 ") and b"too many connections" in refusal
        assert guard.refused == 1 and guard.open["127.0.0.1"] == 4
        writer.close()
        await sockets.pop().close()
        for _ in range(50):  # its slot is free once the server saw it close
            if guard.open["127.0.0.1"] == 3:
                break
            await asyncio.sleep(0.05)
        assert await healthz(port) == 200
        for ws in sockets:
            await ws.send_str(json.dumps({"type": "hello", "id": "h", "token": token}))
            assert json.loads((await ws.receive(timeout=5)).data)["type"] == "welcome"
            await ws.close()


def test_silent_connections_do_not_use_up_a_small_file_limit(tmp_path: Path) -> None:
    """`podium serve` with 256 file descriptors: 250 connections that send nothing, then
    /healthz. Before the header deadline they were never closed and /healthz timed out."""
    launcher = textwrap.dedent(
        """
        import resource, sys
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
        from podium_server import serving
        serving.HEADER_TIMEOUT_S = 2.0
        from podium_server.cli import main
        sys.exit(main(sys.argv[1:]))
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", launcher, "serve", "--demo", "--no-demo-stream", "--port", "0"]
        + ["--store", f"sqlite:///{tmp_path}/podium.db"]
        + ["--secret-file", str(tmp_path / "secret.key"), "--log-level", "WARNING"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PODIUM_MAX_CONNECTIONS_PER_ADDRESS": "0"},
    )
    try:
        assert proc.stdout is not None
        port = 0
        for line in proc.stdout:
            if found := re.search(r"running at http://127.0.0.1:(\d+)", line):
                port = int(found.group(1))
                break
        assert port
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        assert soft >= 300, "the test itself needs the sockets"
        silent = [socket.create_connection(("127.0.0.1", port)) for _ in range(250)]
        time.sleep(0.5)
        open_fds = len(list(Path(f"/proc/{proc.pid}/fd").iterdir()))
        assert open_fds >= 240, "the server accepted them all (and is near its limit)"
        time.sleep(3.0)  # past the deadline
        for sock in silent:
            sock.settimeout(2)
            assert sock.recv(1) == b"", "closed by the server"
            sock.close()
        with socket.create_connection(("127.0.0.1", port), timeout=5) as probe:
            probe.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert probe.recv(4096).startswith(b"HTTP/1.1 200 ")
    finally:
        proc.terminate()
        proc.wait(timeout=20)


async def test_loopback_is_not_capped_by_default(
    make_config: Callable[..., Config], small_event: Event
) -> None:
    """Behind a reverse proxy on the same host every client comes from 127.0.0.1: the
    cap is the proxy's job then, and the server's own would refuse everyone."""
    config = make_config(port=0, max_connections_per_address=1)
    app = create_app(config, event=small_event)
    runner = await serving.setup(app, config)
    port = await serving.listen(runner, config)
    try:
        async with aiohttp.ClientSession() as session:
            sockets = [await session.ws_connect(f"http://127.0.0.1:{port}/ws") for _ in range(3)]
            assert await healthz(port) == 200
            assert app[serving.GUARD].refused == 0 and app[serving.GUARD].open["127.0.0.1"] >= 3
            for ws in sockets:
                await ws.close()
    finally:
        await runner.cleanup()
