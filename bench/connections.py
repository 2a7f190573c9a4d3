"""Connection churn and idle sockets: resident memory of a real `podium serve` process.

Part 1, churn: N connect/close cycles of each kind against one server (with its GC
policy, as deployed), the server's RSS printed every round:

- valid:  hello with a staff token, welcome, client closes;
- forged: hello with a forged token, refused (4401), closed;
- silent: no hello at all, refused at the hello deadline.

Flat means: after the warm-up round, RSS stays within a few MB however many cycles.
Side by side, --before-cycles of each kind on the code as it was (aiohttp's heartbeat
re-armed after the server's close, the GC policy's thaw every 600 s, a compressor per
socket), emulated in the server process by the launcher.

Part 2, idle sockets: K staff sockets (hello, one scan) and K dashboard sockets
(hello, subscribe) held open, with and without permessage-deflate negotiated; the RSS
each set adds, per socket.

    python bench/connections.py [--cycles 20000] [--round 2000] [--at-once 200]
        [--idle 1000] [--hello-deadline 2] [--kinds valid,forged,silent] [--skip-idle]
        [--before-cycles 4000]

The hello deadline is shortened (10 s in production) so silent cycles do not take hours;
the server is the same code otherwise. Traffic on 127.0.0.1 only.

Measured (defaults; 2 shared cores under load from other jobs, SQLite), RSS growth after
the first 2,000 cycles per 1,000 cycles, now (20,000 each) vs before (4,000 each):
valid +0.66 vs +15.9 MB, forged +0.27 vs +10.0 MB, silent +0.02 vs +10.3 MB. Idle
sockets, 1,000 of each: staff 40 KB each (141 KB with every frame compressed, 25 KB
without deflate), dashboards 42 KB (155 KB, 28 KB).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp


@dataclass
class Server:
    proc: subprocess.Popen[str]
    base: str
    tokens: dict[str, str]

    def rss_mb(self, field: str = "VmRSS") -> float:
        """Resident memory now (VmRSS), or the most it has been (VmHWM)."""
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        match = re.search(rf"{field}:\s+(\d+) kB", status)
        assert match is not None
        return int(match.group(1)) / 1024

    def fds(self) -> int:
        return len(list(Path(f"/proc/{self.proc.pid}/fd").iterdir()))


# For comparison in one run: aiohttp's own way, one compressor per socket kept for its
# life and every frame compressed (how /ws sent frames before the per-frame choice).
_EVERY_FRAME_COMPRESSED = """
from aiohttp import web
from podium_server.web.ws_socket import PodiumWebSocket
PodiumWebSocket.prepare = web.WebSocketResponse.prepare
"""
# ...and the rest of how it was: aiohttp's heartbeat re-armed by the client's close frame
# after the server closed, and the GC policy's thaw only every 600 s.
_BEFORE = (
    _EVERY_FRAME_COMPRESSED
    + """
PodiumWebSocket._reset_heartbeat = web.WebSocketResponse._reset_heartbeat
from podium_server import gcpolicy
gcpolicy.CHURN_WALK_AFTER_CLOSES = 10**12
"""
)


def start_server(
    work: Path, hello_deadline_s: float, every_frame_compressed: bool = False, before: bool = False
) -> Server:
    work.mkdir(parents=True, exist_ok=True)
    launcher = textwrap.dedent(
        f"""
        import sys
        from podium_server.web import ws
        ws.HELLO_TIMEOUT_S = {hello_deadline_s}
        """
    )
    if before:
        launcher += _BEFORE
    elif every_frame_compressed:
        launcher += _EVERY_FRAME_COMPRESSED
    launcher += "from podium_server.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    proc = subprocess.Popen(
        [sys.executable, "-c", launcher, "serve", "--demo", "--no-demo-stream", "--port", "0"]
        + ["--store", f"sqlite:///{work}/podium.db", "--secret-file", str(work / "secret.key")]
        + ["--log-level", "WARNING"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        # the bench opens thousands of sockets from one address: no per-address cap
        env={**os.environ, "PODIUM_MAX_CONNECTIONS_PER_ADDRESS": "0"},
    )
    assert proc.stdout is not None
    base, tokens = "", {}
    for line in proc.stdout:
        if found := re.search(r"running at (http://\S+)", line):
            base = found.group(1)
        if found := re.search(r"(Organizer dashboard|Staff scanner):\s+\S+#token=(\S+)", line):
            tokens["organizer" if found.group(1).startswith("Org") else "staff"] = found.group(2)
        if len(tokens) == 2:
            break
    if not base or len(tokens) != 2:
        proc.kill()
        raise SystemExit("the server did not start")
    return Server(proc, base, tokens)


async def cycle(session: aiohttp.ClientSession, server: Server, kind: str) -> None:
    async with session.ws_connect(f"{server.base}/ws", autoping=True) as ws:
        if kind != "silent":
            token = server.tokens["staff"] if kind == "valid" else "pd1.forged.token"
            hello = {"type": "hello", "id": "h", "token": token, "device": "bench"}
            await ws.send_str(json.dumps(hello))
        await ws.receive(timeout=30)  # welcome, or the refusal
        if kind != "valid":
            await ws.receive(timeout=30)  # the close


async def churn(
    server: Server, kind: str, cycles: int, per_round: int, at_once: int, label: str
) -> tuple[float, float]:
    """RSS growth after the first round, and over the second half of the cycles."""
    print(f"\n{kind} ({label}): {cycles:,} cycles, {at_once} at once")
    print("  cycles   RSS MB   peak MB   open fds   cycles/s")
    connector = aiohttp.TCPConnector(limit=0)
    first = half = 0.0
    async with aiohttp.ClientSession(connector=connector) as session:
        done = 0
        while done < cycles:
            started = time.monotonic()
            target = min(cycles, done + per_round)
            while done < target:
                batch = min(at_once, target - done)
                await asyncio.gather(*(cycle(session, server, kind) for _ in range(batch)))
                done += batch
            rate = per_round / max(1e-9, time.monotonic() - started)
            rss, peak = server.rss_mb(), server.rss_mb("VmHWM")
            first = first or rss
            half = rss if done <= cycles // 2 else half
            print(
                f"  {done:6,}   {rss:6.1f}   {peak:7.1f}   {server.fds():8d}   {rate:8.0f}",
                flush=True,
            )
    rss = server.rss_mb()
    print(
        f"  after the first round: {rss - first:+.1f} MB; over the second half: {rss - half:+.1f} MB"
    )
    return rss - first, rss - half


async def idle(server: Server, count: int, compress: bool, label: str) -> None:
    """`count` staff sockets (hello + one scan) then `count` dashboards (hello +
    subscribe) held open; RSS added by each set."""
    connector = aiohttp.TCPConnector(limit=0)
    level = 15 if compress else 0
    async with aiohttp.ClientSession(connector=connector) as session:
        sockets: list[aiohttp.ClientWebSocketResponse] = []
        for role in ("staff", "organizer"):
            before = server.rss_mb()

            async def open_one(i: int, role: str = role) -> None:
                ws = await session.ws_connect(f"{server.base}/ws", compress=level)
                hello = {"type": "hello", "id": "h", "token": server.tokens[role]}
                await ws.send_str(json.dumps({**hello, "device": f"{role}-{i}"}))
                await ws.receive(timeout=30)
                if role == "staff":
                    scan = {"type": "scan", "id": "s", "code": "x", "session": "nope"}
                    await ws.send_str(json.dumps({**scan, "direction": "in"}))
                else:
                    await ws.send_str(json.dumps({"type": "subscribe", "id": "s"}))
                await ws.receive(timeout=30)
                sockets.append(ws)

            for start in range(0, count, 100):
                await asyncio.gather(*(open_one(i) for i in range(start, min(count, start + 100))))
            await asyncio.sleep(1.0)
            added = server.rss_mb() - before
            print(
                f"  {label:34s} {role:9s}: +{added:6.1f} MB, {added * 1024 / count:6.1f} KB each",
                flush=True,
            )
        await asyncio.gather(*(ws.close() for ws in sockets))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=20_000)
    parser.add_argument("--round", type=int, default=2_000)
    parser.add_argument("--at-once", type=int, default=200)
    parser.add_argument("--idle", type=int, default=1_000)
    parser.add_argument("--hello-deadline", type=float, default=2.0)
    parser.add_argument("--kinds", default="valid,forged,silent")
    parser.add_argument("--skip-idle", action="store_true")
    parser.add_argument(
        "--before-cycles",
        type=int,
        default=4_000,
        help="cycles per kind on the code as it was (heartbeat re-armed, 600 s thaw); 0: skip",
    )
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by the server
    with tempfile.TemporaryDirectory() as tmp:
        growth: dict[tuple[str, str], tuple[int, float]] = {}
        for kind in args.kinds.split(","):
            runs = [("now", False, args.cycles)]
            if args.before_cycles:
                runs.append(("before", True, args.before_cycles))
            for label, before, cycles in runs:
                work = Path(tmp) / f"{kind}-{label}"
                server = start_server(work, args.hello_deadline, before=before)
                per_round = min(args.round, cycles)
                try:
                    after_first, _ = await churn(
                        server, kind, cycles, per_round, args.at_once, label
                    )
                finally:
                    server.proc.terminate()
                    server.proc.wait(timeout=30)
                growth[(kind, label)] = (cycles - per_round, after_first)
        print("\nRSS growth after the first round, MB per 1,000 connect/close cycles:")
        for (kind, label), (cycles, grown) in growth.items():
            print(f"  {kind:7s} {label:7s} {grown * 1000 / max(1, cycles):+8.2f}")
        if args.skip_idle:
            return
        print(f"\nidle sockets: {args.idle:,} of each role, RSS they add (each set in turn)")
        variants = [
            ("deflate, compressed per frame type", True, False),
            ("deflate, every frame (before)", True, True),
            ("no deflate (client did not offer)", False, False),
        ]
        for n, (label, compress, every_frame) in enumerate(variants):
            server = start_server(Path(tmp) / f"idle-{n}", args.hello_deadline, every_frame)
            try:
                await idle(server, args.idle, compress, label)
            finally:
                server.proc.terminate()
                server.proc.wait(timeout=30)


if __name__ == "__main__":
    asyncio.run(main())
