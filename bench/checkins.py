"""Check-in throughput: concurrent staff WebSocket scanners against a real server process,
SQLite and Redis side by side in one run, with dashboards subscribed.

For each store: start `podium serve` (and a redis-server with `appendonly yes` +
`appendfsync always`, so an acknowledged scan is on disk), load an event and a roster,
open N staff connections each keeping W scans in flight, plus D organizer dashboards,
and a probe scanner that scans one trainee in/out of a quiet session every 100 ms.

Prints: scans/s acknowledged, ack latency p50/p99 (send -> scan.result), and the
dashboard lag p99 (probe scan sent -> the update showing it arrives on a dashboard),
over all dashboards. Goal on 2 cores: >= 5,000 scans/s, p99 ack < 50 ms, lag p99 < 250 ms.

    python bench/checkins.py [--seconds 10] [--connections 32] [--window 16] [--dashboards 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from podium_server.auth import BadgeSigner, TokenSigner, load_or_create_secret


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def write_inputs(work: Path, participants: int) -> tuple[Path, Path]:
    now = datetime.now(UTC).replace(microsecond=0)
    start = (now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (now + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    toml = work / "event.toml"
    toml.write_text(
        f"""[event]
id = "bench"
title = "Check-in bench"
timezone = "UTC"

[[sessions]]
id = "hall"
title = "Main hall"
start = {start}
end = {end}
mode = "hybrid"

[[sessions]]
id = "probe"
title = "Probe room"
start = {start}
end = {end}
mode = "in_person"
"""
    )
    roster = work / "roster.csv"
    lines = ["id,name,email,organization,org_type,province,mode"]
    provinces = ["Guangdong", "Hubei", "Beijing", "Shanghai", "Sichuan", "Zhejiang"]
    for i in range(participants):
        org = "government" if i % 5 < 2 else "university"
        lines.append(
            f"B{i:06d},Trainee {i},b{i}@x.org,Org {i % 40},{org},{provinces[i % 6]},in_person"
        )
    roster.write_text("\n".join(lines) + "\n")
    return toml, roster


@dataclass
class Stats:
    acks: list[float] = field(default_factory=list)  # seconds, in the measured window
    outcomes: dict[str, int] = field(default_factory=dict)
    lags: list[float] = field(default_factory=list)
    errors: int = 0


class Staff:
    """One scanner connection with W scans in flight, replies matched by `re`."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.waiting: dict[str, asyncio.Future[dict[str, object]]] = {}
        self.reader = asyncio.create_task(self.read())

    async def read(self) -> None:
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(msg.data)
            fut = self.waiting.pop(str(data.get("re")), None)
            if fut is not None and not fut.done():
                fut.set_result(data)

    async def call(self, msg: dict[str, object]) -> dict[str, object]:
        fut: asyncio.Future[dict[str, object]] = asyncio.get_running_loop().create_future()
        self.waiting[str(msg["id"])] = fut
        await self.ws.send_str(json.dumps(msg))
        return await fut


async def hello(
    session: aiohttp.ClientSession, url: str, token: str, device: str
) -> aiohttp.ClientWebSocketResponse:
    ws = await session.ws_connect(url, max_msg_size=0)
    await ws.send_str(json.dumps({"type": "hello", "id": "h", "token": token, "device": device}))
    first = await ws.receive()
    if first.type != aiohttp.WSMsgType.TEXT:
        raise RuntimeError(f"hello got {first!r}")
    welcome = json.loads(first.data)
    if welcome.get("type") != "welcome":
        raise RuntimeError(f"hello refused: {welcome}")
    return ws


async def drive(base: str, secret: bytes, args: argparse.Namespace) -> Stats:
    tokens = TokenSigner(secret)
    badges = BadgeSigner.from_secret(secret)
    now = time.time()
    staff_token = tokens.issue("staff", now=now)
    org_token = tokens.issue("organizer", now=now)
    codes = [badges.code_for(f"B{i:06d}") for i in range(args.participants)]
    url = base.replace("http", "ws", 1) + "/ws"
    stats = Stats()
    conn = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=conn) as session:
        # dashboards first, all subscribed to every session
        dash_ws = [
            await hello(session, url, org_token, f"dash-{i}") for i in range(args.dashboards)
        ]
        for ws in dash_ws:
            await ws.send_str(json.dumps({"type": "subscribe", "id": "sub"}))
        probe_sent: dict[str, float] = {}
        measuring = asyncio.Event()
        stop = asyncio.Event()

        async def dashboard(ws: aiohttp.ClientWebSocketResponse) -> None:
            seen: set[str] = set()
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                t = time.perf_counter()
                data = json.loads(msg.data)
                if data.get("type") not in ("update", "snapshot"):
                    continue
                probe = data.get("sessions", {}).get("probe")
                if not probe:
                    continue
                for item in probe.get("recent", []):
                    sid = item.get("scan_id")
                    if sid in probe_sent and sid not in seen:
                        seen.add(sid)
                        if measuring.is_set():
                            stats.lags.append(t - probe_sent[sid])

        dash_tasks = [asyncio.create_task(dashboard(ws)) for ws in dash_ws]
        staffs = [
            Staff(await hello(session, url, staff_token, f"door-{i}"))
            for i in range(args.connections)
        ]
        probe = Staff(await hello(session, url, staff_token, "probe-door"))
        counter = 0

        async def worker(staff: Staff, c: int, w: int) -> None:
            nonlocal counter
            mine = list(
                range(c * args.window + w, args.participants, args.connections * args.window)
            )
            direction = {i: "in" for i in mine}
            k = 0
            while not stop.is_set():
                i = mine[k % len(mine)]
                k += 1
                counter += 1
                msg = {
                    "type": "scan",
                    "id": f"c{c}w{w}n{k}",
                    "code": codes[i],
                    "session": "hall",
                    "direction": direction[i],
                }
                direction[i] = "out" if direction[i] == "in" else "in"
                t0 = time.perf_counter()
                reply = await staff.call(msg)
                if measuring.is_set() and not stop.is_set():
                    stats.acks.append(time.perf_counter() - t0)
                    outcome = str(reply.get("outcome", reply.get("code")))
                    stats.outcomes[outcome] = stats.outcomes.get(outcome, 0) + 1

        async def prober() -> None:
            n = 0
            while not stop.is_set():
                n += 1
                sid = f"probe-{n}"
                probe_sent[sid] = time.perf_counter()
                await probe.call(
                    {
                        "type": "scan",
                        "id": sid,
                        "code": codes[0],
                        "session": "probe",
                        "direction": "in" if n % 2 else "out",
                    }
                )
                await asyncio.sleep(0.1)

        tasks = [
            asyncio.create_task(worker(s, c, w))
            for c, s in enumerate(staffs)
            for w in range(args.window)
        ]
        tasks.append(asyncio.create_task(prober()))
        await asyncio.sleep(args.warmup)
        measuring.set()
        t0 = time.perf_counter()
        await asyncio.sleep(args.seconds)
        stop.set()
        elapsed = time.perf_counter() - t0
        await asyncio.wait(tasks, timeout=10)
        await asyncio.sleep(0.6)  # the last updates
        for ws in [*dash_ws, *(s.ws for s in staffs), probe.ws]:
            await ws.close()
        for t in [*dash_tasks, *(s.reader for s in staffs), probe.reader]:
            t.cancel()
        stats.outcomes["_elapsed"] = int(elapsed * 1000)
    return stats


def start_redis(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    exe = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = free_port()
    proc = subprocess.Popen(
        [
            exe,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(work),
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_port(port)
    return proc, f"redis://127.0.0.1:{port}/0"


def wait_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


def podium(store: str, secret: Path, *args: str, profile: str = "") -> list[str]:
    prof = ["-m", "cProfile", "-o", profile] if profile else []
    return [
        sys.executable,
        *prof,
        "-m",
        "podium_server.cli",
        "--store",
        store,
        "--secret-file",
        str(secret),
        "--log-level",
        "WARNING",
        *args,
    ]


def run_backend(name: str, args: argparse.Namespace) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix=f"podium-bench-{name}-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        if name == "redis":
            redis_proc, store = start_redis(work)
            procs.append(redis_proc)
        else:
            store = f"sqlite:///{work}/bench.db"
        secret_path = work / "secret.key"
        secret = load_or_create_secret(secret_path)
        toml, roster = write_inputs(work, args.participants)
        env = {**os.environ, "PODIUM_ICE_ADDRESSES": "127.0.0.1"}
        subprocess.run(
            podium(store, secret_path, "event", "load", str(toml)),
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        subprocess.run(
            podium(store, secret_path, "roster", "import", str(roster)),
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        port = free_port()
        log = (work / "server.log").open("wb")
        server = subprocess.Popen(
            podium(store, secret_path, "serve", "--port", str(port), profile=args.profile),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        procs.append(server)
        wait_port(port)
        try:
            stats = asyncio.run(drive(f"http://127.0.0.1:{port}", secret, args))
        except Exception:
            print((work / "server.log").read_text()[-3000:], file=sys.stderr)
            raise
        elapsed = stats.outcomes.pop("_elapsed") / 1000
        return {
            "store": name,
            "scans_per_s": len(stats.acks) / elapsed,
            "ack_p50_ms": pct(stats.acks, 0.50) * 1000,
            "ack_p99_ms": pct(stats.acks, 0.99) * 1000,
            "lag_p50_ms": pct(stats.lags, 0.50) * 1000,
            "lag_p99_ms": pct(stats.lags, 0.99) * 1000,
            "lag_samples": len(stats.lags),
            "outcomes": stats.outcomes,
        }
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--window", type=int, default=4, help="scans in flight per connection")
    parser.add_argument("--dashboards", type=int, default=50)
    parser.add_argument("--participants", type=int, default=2000)
    parser.add_argument("--stores", default="sqlite,redis")
    parser.add_argument("--profile", default="", help="write the server's cProfile stats here")
    args = parser.parse_args()
    print(
        f"{os.cpu_count()} cores; {args.connections} staff connections x {args.window} in flight,"
        f" {args.dashboards} dashboards, {args.seconds:g}s measured per store"
    )
    rows = [run_backend(name, args) for name in args.stores.split(",")]
    print(
        f"{'store':8} {'scans/s':>9} {'ack p50':>9} {'ack p99':>9} {'lag p50':>9} {'lag p99':>9}  outcomes"
    )
    for r in rows:
        print(
            f"{r['store']:8} {r['scans_per_s']:9.0f} {r['ack_p50_ms']:7.1f}ms {r['ack_p99_ms']:7.1f}ms"
            f" {r['lag_p50_ms']:7.0f}ms {r['lag_p99_ms']:7.0f}ms  {r['outcomes']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
