"""Check-in throughput: concurrent staff WebSocket scanners against a real server process,
SQLite and Redis side by side in one run, with dashboards subscribed.

For each store: start `podium serve` (and a redis-server with the options
docker-compose.yml runs it with: `appendonly yes` + `appendfsync always`, so an
acknowledged scan is on disk, and AOF rewrites left for between sessions; `--redis-args
'--auto-aof-rewrite-min-size 64mb'` gives Redis's default), load an event and a roster,
open N staff connections, D organizer dashboards (half watching the whole event, half
one quiet room) and a probe scanner that scans one trainee in/out of that room every
500 ms. Then two runs:

- max: closed loop, each connection keeping W scans in flight (N x W in all): the most
  the server answers, and the ack latency at that load. The default, 128 connections
  with one scan in flight each, is a door scanner's way (it waits for the answer to
  show green or red) and keeps each connection under the server's per-connection rate
  limit (200/s): fewer connections pushed harder measure that limit, not the server;
- at --rate (default 5,000 scans/s): open loop, scans sent on a fixed schedule whatever
  the answers do, each answer timed from when its scan was due.

Prints: scans/s acknowledged, ack latency p50/p99 (send -> scan.result), and dashboard
lag p50/p99 (probe scan sent -> the first update showing it), for the room's dashboards
and for the event-wide ones. An event-wide view changes all the time under this load,
so it updates at its at most 10 a second and its lag includes up to 100 ms of
coalescing; the room's view shows what the pipeline itself adds, and so does "beyond
cap": the event-wide lag p99 less the wait the cap imposes (receipt minus the later of the
scan's send and the previous update's receipt + 100 ms). Goal on 2 cores:
>= 5,000 scans/s, p99 ack < 50 ms, dashboard lag p99 < 150 ms (room and event-wide).

Load comes from separate processes (`--clients` staff processes plus one for the
dashboards and the probe), speaking WebSocket on raw sockets so they cost the shared
cores little; the CPU of the server (with its SQLite writer process), redis-server and
the generators over the measured window is printed.

    python bench/checkins.py [--seconds 10] [--connections 128] [--window 1] [--rate 5000]
        [--dashboards 50] [--clients 2] [--stores sqlite,redis] [--spy PREFIX]
        [--keep] [--redis-args '--auto-aof-rewrite-min-size 64mb'] [--caps 0.25,0.1]
        [--baseline GIT-REF [--repeat N]]

`--caps` runs one server per dashboard cap on the same store, side by side (the default
is the built-in 10 a second).

`--baseline GIT-REF` also runs the server as it was at commit GIT-REF (its
`server/podium_server` exported with `git archive` and put first on PYTHONPATH), right
after ours on each store and cap, and prints the ratios ours / baseline: the same load,
machine and minute, so a change's cost shows apart from the machine's mood. `--repeat N`
runs each pair N times, the order swapped every other round (ours first, then the
baseline first), and the ratios are of the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # loopback.free_port

from baseline import export_server  # noqa: E402
from loopback import free_port  # noqa: E402
from percentile import pct  # noqa: E402
from podium_client.loadtest.lean_ws import LeanStaff  # noqa: E402
from podium_server.attendance_service import UPDATE_INTERVAL_S  # noqa: E402
from podium_server.auth import BadgeSigner, TokenSigner, load_or_create_secret  # noqa: E402


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
id = "paced"
title = "Open-loop hall"
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
    acks: list[float] = field(default_factory=list)  # seconds, replies in the measured window
    outcomes: dict[str, int] = field(default_factory=dict)
    lags: list[float] = field(default_factory=list)  # event-wide dashboards
    room_lags: list[float] = field(default_factory=list)  # dashboards of the probe's room
    # event-wide lag less the wait the dashboard cap imposes: receipt minus the later of
    # the probe's send and the previous update's receipt + the cap's interval
    beyond_cap: list[float] = field(default_factory=list)
    errors: int = 0


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


@dataclass
class Job:
    """What one load-generator process does: staff connections, or dashboards + probe."""

    index: int
    base: str
    secret: bytes
    participants: int
    connections: range  # staff connection numbers in this process
    window: int
    total_slots: int  # connections x window over all processes
    dashboards: int  # > 0: this process runs the dashboards and the probe scanner
    rate: float = 0.0  # > 0: open loop, scans a second per connection; 0: closed loop
    total_connections: int = 1
    cap_s: float = UPDATE_INTERVAL_S  # the server's interval between dashboard updates


async def drive(job: Job, ready: Any, go: Any) -> Stats:
    tokens = TokenSigner(job.secret)
    badges = BadgeSigner.from_secret(job.secret)
    now = time.time()
    staff_token = tokens.issue("staff", now=now)
    org_token = tokens.issue("organizer", now=now)
    codes = [badges.code_for(f"B{i:06d}") for i in range(job.participants)]
    url = job.base.replace("http", "ws", 1) + "/ws"
    stats = Stats()
    conn = aiohttp.TCPConnector(limit=0)
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(connector=conn) as session:
        dash_ws = [await hello(session, url, org_token, f"dash-{i}") for i in range(job.dashboards)]
        # Half watch the whole event (the main hall's scans keep that view changing, so it
        # updates at its 10 a second), half the probe's quiet room.
        room_ws = dash_ws[1::2]
        for ws in dash_ws:
            view = {"session": "probe"} if ws in room_ws else {}
            await ws.send_str(json.dumps({"type": "subscribe", "id": "sub", **view}))
        probe_sent: dict[str, float] = {}
        window = (0.0, 0.0)

        def measuring(t: float) -> bool:
            return window[0] <= t < window[1]

        async def dashboard(ws: aiohttp.ClientWebSocketResponse) -> None:
            seen: set[str] = set()
            lags = stats.room_lags if ws in room_ws else stats.lags
            previous = -1e18  # receipt of this dashboard's previous update
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                t = time.time()
                data = json.loads(msg.data)
                if data.get("type") not in ("update", "snapshot"):
                    continue
                before, previous = previous, t
                probe = data.get("sessions", {}).get("probe")
                if not probe:
                    continue
                for item in probe.get("recent", []):
                    sid = item.get("scan_id")
                    if sid in probe_sent and sid not in seen:
                        seen.add(sid)
                        if measuring(probe_sent[sid]):
                            lags.append(t - probe_sent[sid])
                            if ws not in room_ws:
                                allowed = max(probe_sent[sid], before + job.cap_s)
                                stats.beyond_cap.append(t - allowed)

        dash_tasks = [asyncio.create_task(dashboard(ws)) for ws in dash_ws]
        staffs = {
            c: await LeanStaff.connect(url, staff_token, f"door-{c}") for c in job.connections
        }
        probe = await LeanStaff.connect(url, staff_token, "probe-door") if job.dashboards else None
        ready.put(os.getpid())
        start, stop_at = await loop.run_in_executor(None, go.get)
        window = (start, stop_at)

        def count(answer: dict[str, Any]) -> None:
            outcome = str(answer.get("outcome", answer.get("code")))
            stats.outcomes[outcome] = stats.outcomes.get(outcome, 0) + 1

        def closed_loop(staff: LeanStaff, c: int, w: int) -> None:
            """One in-flight slot: each answer sends the slot's next scan, from inside
            the answer's callback (no task per scan)."""
            slot = c * job.window + w
            mine = list(range(slot, job.participants, job.total_slots))
            direction = {i: "in" for i in mine}
            k = 0
            sent_at = 0.0

            def scan_next() -> None:
                nonlocal k, sent_at
                if time.time() >= stop_at or staff.closed:
                    return
                i = mine[k % len(mine)]
                k += 1
                msg = {
                    "type": "scan",
                    "id": f"c{c}w{w}n{k}",
                    "code": codes[i],
                    "session": "hall",
                    "direction": direction[i],
                }
                sent_at = time.perf_counter()
                staff.request(msg, answered)

            def answered(answer: dict[str, Any]) -> None:
                nonlocal k
                took = time.perf_counter() - sent_at
                if answer.get("code") == "rate_limited":
                    # as a scanner would: back off, then scan the same badge again
                    stats.outcomes["rate_limited"] = stats.outcomes.get("rate_limited", 0) + 1
                    k -= 1
                    loop.call_later(0.05, scan_next)
                    return
                i = mine[(k - 1) % len(mine)]
                direction[i] = "out" if direction[i] == "in" else "in"
                if measuring(time.time()):
                    stats.acks.append(took)
                    count(answer)
                scan_next()

            scan_next()

        async def prober(probe: LeanStaff) -> None:
            jitter = random.Random(job.index)
            n = 0
            while time.time() < stop_at:
                n += 1
                sid = f"probe-{n}"
                probe_sent[sid] = time.time()
                await probe.call(
                    {
                        "type": "scan",
                        "id": sid,
                        "code": codes[0],
                        "session": "probe",
                        "direction": "in" if n % 2 else "out",
                    }
                )
                # A quiet room: fewer changes than 10 a second. The pause is drawn at
                # random so probes fall at every phase of the event-wide view's 100 ms
                # pace; a fixed one keeps them at nearly the same phase for a whole run.
                await asyncio.sleep(jitter.uniform(0.4, 0.6))

        async def open_loop() -> None:
            """Send on a fixed schedule whatever the answers do, and time each answer
            from when its scan was due (a late send counts against the server). One
            ticker for all this process's connections, waking at most every millisecond
            and sending whatever fell due (cheaper than a timer per scan)."""
            conns = list(staffs.items())
            period = 1.0 / job.rate
            # (due, connection's place in `conns`): connections out of phase
            dues = [start + period * c / job.total_connections for c, _ in conns]
            mine = [list(range(c, job.participants, job.total_connections)) for c, _ in conns]
            direction = [{i: "in" for i in m} for m in mine]
            ks = [0] * len(conns)
            while True:
                now = time.time()
                for n, (c, staff) in enumerate(conns):
                    while dues[n] <= now and dues[n] < stop_at:
                        due = dues[n]
                        i = mine[n][ks[n] % len(mine[n])]
                        ks[n] += 1
                        staff.request(
                            {
                                "type": "scan",
                                "id": f"c{c}o{ks[n]}",
                                "code": codes[i],
                                "session": "paced",  # its own: the closed loop left people in
                                "direction": direction[n][i],
                            },
                            lambda answer, due=due: answered(answer, due),
                        )
                        direction[n][i] = "out" if direction[n][i] == "in" else "in"
                        dues[n] = due + period
                if now >= stop_at:  # every scan due before the end is sent, none after
                    return
                await asyncio.sleep(max(0.001, min(dues) - time.time()))

        def answered(answer: dict[str, Any], due: float) -> None:
            if measuring(due):
                stats.acks.append(time.time() - due)
                count(answer)

        tasks: list[asyncio.Task[None]] = []
        if job.rate > 0:
            if staffs:
                tasks.append(asyncio.create_task(open_loop()))
        else:
            for c, s in staffs.items():
                for w in range(job.window):
                    closed_loop(s, c, w)
            tasks.append(asyncio.create_task(asyncio.sleep(max(0.0, stop_at - time.time()))))
        if probe is not None:
            tasks.append(asyncio.create_task(prober(probe)))
        await asyncio.wait(tasks, timeout=stop_at - time.time() + 10)
        await asyncio.sleep(1.0)  # the last answers and updates
        for staff in staffs.values():
            staff.close()
        if probe is not None:
            probe.close()
        for ws in dash_ws:
            await ws.close()
        for t in dash_tasks:
            t.cancel()
    return stats


def client_main(job: Job, ready: Any, go: Any, results: Any) -> None:
    try:
        stats = asyncio.run(drive(job, ready, go))
        results.put(
            (
                job.index,
                stats.acks,
                stats.outcomes,
                stats.lags,
                stats.room_lags,
                stats.beyond_cap,
                "",
            )
        )
    except Exception as exc:  # report, so the parent does not wait forever
        ready.put(-1)
        results.put((job.index, [], {}, [], [], [], repr(exc)))


def descendants(pid: int) -> list[int]:
    """The processes `pid` started, and theirs."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids = [int(k) for k in (task / "children").read_text().split()]
        except OSError:
            continue
        for kid in kids:
            found += [kid, *descendants(kid)]
    return found


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (and its reaped children not counted), in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def compose_redis_options() -> list[str]:
    """redis-server's options as docker-compose.yml (the multi-node deployment) runs it,
    but for where it listens: the bench measures the Redis that is shipped."""
    import yaml

    compose = yaml.safe_load((Path(__file__).parents[1] / "docker-compose.yml").read_text())
    args = [str(a) for a in compose["services"]["redis"]["command"][1:]]
    out: list[str] = []
    for name, value in zip(args[::2], args[1::2], strict=True):
        if name not in ("--port", "--bind", "--dir"):
            out += [name, value]
    return out


def start_redis(work: Path, extra: list[str]) -> tuple[subprocess.Popen[bytes], str]:
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
            *compose_redis_options(),
            *extra,
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


def host_ms() -> float:
    """How long a fixed pure-Python loop takes on this host just now, best of 5 (lower is
    faster). The host's speed drifts by a third within an hour and more, so figures of
    different runs compare only alongside it."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        total = 0
        for i in range(300_000):
            total += i
        best = min(best, time.perf_counter() - started)
    return best * 1000


def fsync_ms(directory: Path) -> float:
    """The median time of a small write made durable (write + fsync) in `directory`:
    every acknowledged scan waits for one, on either store, so it bounds the commits."""
    path = directory / "fsync-probe"
    times = []
    with path.open("wb") as f:
        for _ in range(21):
            started = time.perf_counter()
            f.write(b"x" * 4096)
            f.flush()
            os.fsync(f.fileno())
            times.append(time.perf_counter() - started)
    path.unlink()
    return sorted(times)[len(times) // 2] * 1000


# The server with another interval between dashboard updates than the built-in one, to
# compare caps side by side in one run (the module reads it on every push).
_WITH_CAP = (
    "import sys, runpy, podium_server.attendance_service as service;"
    "feed = getattr(service, 'dashboard_feed', service);"
    "feed.UPDATE_INTERVAL_S = float(sys.argv.pop(1));"
    "sys.argv[0] = 'podium'; runpy.run_module('podium_server.cli', run_name='__main__')"
)


def podium(
    store: str, secret: Path, *args: str, profile: str = "", cap_s: float | None = None
) -> list[str]:
    prof = ["-m", "cProfile", "-o", profile] if profile else []
    entry = ["-c", _WITH_CAP, str(cap_s)] if cap_s is not None else ["-m", "podium_server.cli"]
    return [
        sys.executable,
        *prof,
        *entry,
        "--store",
        store,
        "--secret-file",
        str(secret),
        "--log-level",
        "WARNING",
        *args,
    ]


def load(
    base: str,
    secret: bytes,
    args: argparse.Namespace,
    server: int,
    redis: int,
    rate: float,
    cap_s: float = UPDATE_INTERVAL_S,
) -> dict:
    """Run the load generators (separate processes) for one store, closed loop (`rate` 0)
    or open loop at `rate` scans a second in all; figures and CPU use."""
    ctx = mp.get_context("spawn")
    ready, results = ctx.Queue(), ctx.Queue()
    n = max(1, args.clients)
    slots = args.connections * args.window
    jobs = [
        Job(
            0,
            base,
            secret,
            args.participants,
            range(0),
            args.window,
            slots,
            args.dashboards,
            cap_s=cap_s,
        )
    ] + [
        Job(
            i + 1,
            base,
            secret,
            args.participants,
            range(i, args.connections, n),
            args.window,
            slots,
            0,
            rate / args.connections,
            args.connections,
        )
        for i in range(n)
    ]
    gos = [ctx.Queue() for _ in jobs]
    children = [
        ctx.Process(target=client_main, args=(job, ready, go, results), daemon=True)
        for job, go in zip(jobs, gos, strict=True)
    ]
    for child in children:
        child.start()
    try:
        for _ in children:
            if ready.get(timeout=120) == -1:
                raise RuntimeError(f"a load generator failed: {results.get(timeout=5)}")
        start = time.time() + args.warmup
        for go in gos:
            go.put((start, start + args.seconds))
        time.sleep(max(0.0, start - time.time()))
        # the server and any process it started (SQLite's writer)
        watched = {
            "server": [server, *descendants(server)],
            "(writer)": descendants(server),  # of the server's: its SQLite writer process
            "clients": [c.pid for c in children if c.pid],
        }
        if not watched["(writer)"]:
            del watched["(writer)"]
        if redis != server:
            watched["redis"] = [redis]
        before = {k: sum(cpu_seconds(p) for p in v) for k, v in watched.items()}
        spy = None
        if args.spy:
            spy = subprocess.Popen(
                [
                    str(Path(sys.executable).with_name("py-spy")),
                    "record",
                    "-p",
                    str(server),
                    "-d",
                    str(int(args.seconds)),
                    "-f",
                    "raw",
                    "-o",
                    f"{args.spy}.{base.rsplit(':', 1)[1]}.txt",
                    "--nonblocking",
                    "--rate",
                    "250",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        time.sleep(max(0.0, start + args.seconds - time.time()))
        after = {k: sum(cpu_seconds(p) for p in v) for k, v in watched.items()}
        if spy is not None:
            spy.wait(timeout=30)
        acks: list[float] = []
        lags: list[float] = []
        room_lags: list[float] = []
        beyond: list[float] = []
        outcomes: dict[str, int] = {}
        for _ in children:
            _, a, o, lg, rlg, bc, err = results.get(timeout=60)
            if err:
                raise RuntimeError(f"a load generator failed: {err}")
            acks += a
            lags += lg
            room_lags += rlg
            beyond += bc
            for k, v in o.items():
                outcomes[k] = outcomes.get(k, 0) + v
    finally:
        for child in children:
            child.join(timeout=10)
            if child.is_alive():
                child.terminate()
    return {
        "scans_per_s": len(acks) / args.seconds,
        "ack_p50_ms": pct(acks, 0.50) * 1000,
        "ack_p99_ms": pct(acks, 0.99) * 1000,
        "lag_p50_ms": pct(lags, 0.50) * 1000,
        "lag_p99_ms": pct(lags, 0.99) * 1000,
        "room_lag_p50_ms": pct(room_lags, 0.50) * 1000,
        "room_lag_p99_ms": pct(room_lags, 0.99) * 1000,
        "lag_samples": len(lags),
        "beyond_cap_p99_ms": pct(beyond, 0.99) * 1000,
        "cpu": {k: 100 * (after[k] - before[k]) / args.seconds for k in watched},
        "outcomes": outcomes,
    }


def run_backend(name: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    work = Path(tempfile.mkdtemp(prefix=f"podium-bench-{name}-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        if name == "redis":
            redis_proc, redis_url = start_redis(work, args.redis_args.split())
            procs.append(redis_proc)
        secret_path = work / "secret.key"
        secret = load_or_create_secret(secret_path)
        toml, roster = write_inputs(work, args.participants)
        ours_env = {**os.environ, "PODIUM_ICE_ADDRESSES": "127.0.0.1"}
        codes: list[tuple[str, dict[str, str]]] = [("ours", ours_env)]
        if args.baseline:
            exported = work / "baseline"
            exported.mkdir()
            path = export_server(args.baseline, exported)
            pythonpath = os.pathsep.join(filter(None, [path, os.environ.get("PYTHONPATH")]))
            codes.append((args.baseline[:12], {**ours_env, "PYTHONPATH": pythonpath}))
        phases = [("max", 0.0)] + ([(f"{args.rate:g}/s", args.rate)] if args.rate > 0 else [])
        rows = []
        runs = [
            (cap, code, env)
            for cap in (float(c) for c in args.caps.split(","))
            for round_ in range(args.repeat)
            for code, env in (codes if round_ % 2 == 0 else codes[::-1])
        ]
        for n, (cap_s, code, env) in enumerate(runs):
            # one server per cap, each on a fresh store (the same scans find the same
            # ledger), run one after the other: the caps' rows sit side by side
            if name == "redis":
                store = f"{redis_url.rsplit('/', 1)[0]}/{n}"
            else:
                store = f"sqlite:///{work}/bench-{n}.db"
            for command in (("event", "load", str(toml)), ("roster", "import", str(roster))):
                subprocess.run(
                    podium(store, secret_path, *command),
                    check=True,
                    env=env,
                    stdout=subprocess.DEVNULL,
                )
            port = free_port()
            log = (work / "server.log").open("ab")
            server = subprocess.Popen(
                podium(
                    store,
                    secret_path,
                    "serve",
                    "--port",
                    str(port),
                    profile=args.profile,
                    cap_s=None if cap_s == UPDATE_INTERVAL_S else cap_s,
                ),
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
            procs.append(server)
            wait_port(port)
            for label, rate in phases:
                host, disk = host_ms(), fsync_ms(work)
                try:
                    result = load(
                        f"http://127.0.0.1:{port}",
                        secret,
                        args,
                        server.pid,
                        procs[0].pid,
                        rate,
                        cap_s,
                    )
                except Exception:
                    print((work / "server.log").read_text()[-3000:], file=sys.stderr)
                    raise
                rows.append(
                    {
                        "code": code,
                        "store": name,
                        "load": label,
                        "cap": f"{1 / cap_s:g}/s",
                        "host_ms": host,
                        "fsync_ms": disk,
                        **result,
                    }
                )
            server.terminate()
            server.wait(timeout=30)
            procs.remove(server)
        return rows
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=128)
    parser.add_argument("--window", type=int, default=1, help="scans in flight per connection")
    parser.add_argument("--dashboards", type=int, default=50)
    parser.add_argument("--participants", type=int, default=2000)
    parser.add_argument("--stores", default="sqlite,redis")
    parser.add_argument(
        "--rate",
        type=float,
        default=5000.0,
        help="then an open-loop run offering this many scans a second (0: skip it)",
    )
    parser.add_argument("--clients", type=int, default=2, help="staff load-generator processes")
    parser.add_argument("--profile", default="", help="write the server's cProfile stats here")
    parser.add_argument(
        "--redis-args",
        default="",
        help="redis-server options after docker-compose.yml's, e.g. "
        "'--auto-aof-rewrite-min-size 64mb' (Redis's default)",
    )
    parser.add_argument(
        "--caps",
        default=str(UPDATE_INTERVAL_S),
        help="seconds between a dashboard's updates, comma list: one server each, side by"
        f" side (e.g. 0.25,0.1: the old 4/s against 10/s); default {UPDATE_INTERVAL_S}",
    )
    parser.add_argument(
        "--baseline",
        default="",
        help="also measure the server at this git commit, right after ours, and print ratios",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="with --baseline: pairs per store and cap"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work dir (store, AOF, log)")
    parser.add_argument("--spy", default="", help="py-spy the server: raw stacks to SPY.PORT.txt")
    args = parser.parse_args()
    print(
        "host: a fixed Python loop's time before each run (lower is faster; see host_ms);"
        " fsync: a 4 KiB write made durable in the store's directory (see fsync_ms)",
    )
    print(
        f"{os.cpu_count()} cores; {args.connections} staff connections x {args.window} in flight,"
        f" {args.dashboards} dashboards, {args.seconds:g}s measured per store;"
        f" load from {args.clients} staff processes + 1 dashboard/probe process"
    )
    rows = [row for name in args.stores.split(",") for row in run_backend(name, args)]
    print(
        f"{'code':12} {'store':8} {'load':>8} {'cap':>5} {'scans/s':>9} {'ack p50':>9} {'ack p99':>9}"
        f" {'room lag p50/p99':>17} {'event lag p50/p99':>18} {'beyond cap':>10}"
        f" {'host':>6} {'fsync':>6}  CPU% (100 = one core)  outcomes"
    )
    for r in rows:
        print(
            f"{r['code']:12} {r['store']:8} {r['load']:>8} {r['cap']:>5} {r['scans_per_s']:9.0f} {r['ack_p50_ms']:7.1f}ms {r['ack_p99_ms']:7.1f}ms"
            f" {r['room_lag_p50_ms']:7.0f}/{r['room_lag_p99_ms']:4.0f}ms"
            f" {r['lag_p50_ms']:8.0f}/{r['lag_p99_ms']:4.0f}ms"
            f" {r['beyond_cap_p99_ms']:8.0f}ms {r['host_ms']:4.0f}ms {r['fsync_ms']:4.1f}ms"
            f"  {' '.join(f'{k} {v:.0f}' for k, v in r['cpu'].items())}  {r['outcomes']}"
        )
    if args.baseline:
        print_ratios(rows, args.baseline[:12])
    return 0


def print_ratios(rows: list[dict[str, Any]], baseline: str) -> None:
    """Ours / baseline for each store, load and cap, of the medians over the repeats:
    above 1 is more scans, below 1 a shorter wait."""
    print(f"ours / {baseline} (same store, load and cap; medians of the runs):")
    fields = {
        "scans/s": "scans_per_s",
        "ack p50": "ack_p50_ms",
        "ack p99": "ack_p99_ms",
        "room lag p99": "room_lag_p99_ms",
    }
    keys = list(dict.fromkeys((r["store"], r["load"], r["cap"]) for r in rows))
    for key in keys:

        def median(code: str, field: str, key: tuple[str, str, str] = key) -> float:
            values = sorted(
                r[field]
                for r in rows
                if r["code"] == code and key == (r["store"], r["load"], r["cap"])
            )
            return statistics.median(values) if values else float("nan")

        ratios = "  ".join(
            f"{name} {median('ours', field) / max(median(baseline, field), 1e-9):.2f}x"
            for name, field in fields.items()
        )
        print(f"  {key[0]:8} {key[1]:>8} {key[2]:>5}  {ratios}")


if __name__ == "__main__":
    sys.exit(main())
