"""Memory stays flat while WebSockets connect and close: a real `podium serve` process
(with its GC policy), thousands of connect/hello/close cycles of each kind, its resident
memory read from /proc after a warm-up and at the end. The 20,000-cycle figures are in
`bench/connections.py`; this is the bounded version that guards the fix."""

from __future__ import annotations

import asyncio
import gc
import json
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from web_client import MakeClient

# Short, so silent connections are refused at the deadline quickly (10 s in production).
HELLO_DEADLINE_S = 0.5
WARM_UP = 2500
CYCLES = 2500
AT_ONCE = 100
# Growth of the peak allowed over CYCLES after the warm-up. Before the fix a refused connection kept
# ~100 KB for 45 s (its re-armed heartbeat), and frozen ones stayed for 600 s: 2,500 of
# them grew the process by 26 MB and more. A valid hello also grows the audit log and
# SQLite's page cache, legitimately: 1.5-7 MB seen over 2,500 on a loaded machine.
MAX_GROWTH_MB = 12.0


@dataclass
class Server:
    proc: subprocess.Popen[str]
    base: str
    staff_token: str

    def peak_rss_mb(self) -> float:
        """The most resident memory the process has had so far (VmHWM): garbage freed in
        batches makes RSS a sawtooth, and a leak is a peak that keeps rising."""
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        match = re.search(r"VmHWM:\s+(\d+) kB", status)
        assert match is not None
        return int(match.group(1)) / 1024


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    launcher = textwrap.dedent(
        f"""
        import sys
        from podium_server.web import ws
        ws.HELLO_TIMEOUT_S = {HELLO_DEADLINE_S}
        from podium_server.cli import main
        sys.exit(main(sys.argv[1:]))
        """
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            launcher,
            "serve",
            "--demo",
            "--no-demo-stream",
            "--port",
            "0",
            "--store",
            f"sqlite:///{tmp_path}/podium.db",
            "--secret-file",
            str(tmp_path / "secret.key"),
            "--log-level",
            "WARNING",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    base = token = None
    assert proc.stdout is not None
    for line in proc.stdout:
        if found := re.search(r"running at (http://\S+)", line):
            base = found.group(1)
        if found := re.search(r"Staff scanner:\s+\S+#token=(\S+)", line):
            token = found.group(1)
            break
    assert base and token, "the server did not start"
    try:
        yield Server(proc, base, token)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


async def cycle(session: aiohttp.ClientSession, server: Server, kind: str) -> None:
    """One connection: a valid hello then close; a forged token; or nothing at all."""
    async with session.ws_connect(f"{server.base}/ws") as ws:
        if kind == "silent":
            msg = await ws.receive(timeout=HELLO_DEADLINE_S + 10)
            assert json.loads(msg.data)["message"] == "hello expected"
            assert (await ws.receive(timeout=10)).type == aiohttp.WSMsgType.CLOSE
            return
        token = server.staff_token if kind == "valid" else "pd1.forged.token"
        await ws.send_str(json.dumps({"type": "hello", "id": "h", "token": token, "device": "d"}))
        reply = json.loads((await ws.receive(timeout=10)).data)
        if kind == "valid":
            assert reply["type"] == "welcome"
        else:
            assert reply["type"] == "error" and reply["code"] == "forbidden"
            assert (await ws.receive(timeout=10)).type == aiohttp.WSMsgType.CLOSE


async def cycles(server: Server, kind: str, n: int) -> None:
    async with aiohttp.ClientSession() as session:
        for start in range(0, n, AT_ONCE):
            batch = min(AT_ONCE, n - start)
            await asyncio.gather(*(cycle(session, server, kind) for _ in range(batch)))


@pytest.mark.parametrize("kind", ["valid", "forged", "silent"])
async def test_resident_memory_stays_flat_over_connect_close_cycles(
    server: Server, kind: str
) -> None:
    await cycles(server, kind, WARM_UP)
    await asyncio.sleep(0.5)
    before = server.peak_rss_mb()
    await cycles(server, kind, CYCLES)
    await asyncio.sleep(0.5)
    after = server.peak_rss_mb()
    assert after - before <= MAX_GROWTH_MB, (
        f"{kind}: {before:.1f} -> {after:.1f} MB over {CYCLES} connections"
    )
    async with aiohttp.ClientSession() as session, session.get(f"{server.base}/healthz") as r:
        assert r.status == 200


@pytest.mark.parametrize("kind", ["forged", "silent"])
async def test_a_socket_the_server_closed_first_is_freed(
    kind: str,
    make_client: MakeClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The cause, in process: once refused and closed, nothing keeps the response alive
    (aiohttp's heartbeat timer, re-armed by the client's close frame, used to, 45 s)."""
    from podium_server.web import ws as ws_module
    from podium_server.web.ws_socket import PodiumWebSocket

    monkeypatch.setattr(ws_module, "HELLO_TIMEOUT_S", 0.2)
    monkeypatch.setattr(ws_module, "STUCK_CLOSE_S", 0.2)
    client = await make_client()
    # Only this test's sockets count: another test's app may still be held elsewhere.
    earlier = [o for o in gc.get_objects() if isinstance(o, PodiumWebSocket)]
    for _ in range(5):
        ws = await client.ws_connect("/ws")
        if kind == "forged":
            hello = {"type": "hello", "id": "h", "token": "pd1.forged.token"}
            await ws.send_str(json.dumps(hello))
        assert json.loads((await ws.receive(timeout=5)).data)["type"] == "error"
        assert (await ws.receive(timeout=5)).type == aiohttp.WSMsgType.CLOSE
        await ws.close()
    await asyncio.sleep(0.6)  # past STUCK_CLOSE_S: the handlers' own timers are done
    gc.collect()
    alive = [
        o
        for o in gc.get_objects()
        if isinstance(o, PodiumWebSocket) and not any(o is e for e in earlier)
    ]
    assert not alive, f"{len(alive)} closed sockets still reachable"
